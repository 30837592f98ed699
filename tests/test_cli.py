"""The `billing` command as a user runs it: real subprocesses, real Prefect flows."""

from __future__ import annotations

import hashlib
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from billing.paths import pdf_dir, warehouse_home

FIXTURE = Path(__file__).parent / "fixtures" / "raw_basic"
BILLING = str(Path(sys.executable).parent / "billing")
COMMANDS = ["generate", "load", "close", "render", "deliver", "explain", "demo"]


PREFECT_HOME: Path | None = None


@pytest.fixture(scope="module", autouse=True)
def private_prefect_home(tmp_path_factory):
    """One Prefect home for this module's commands, so its database can be inspected."""
    global PREFECT_HOME
    PREFECT_HOME = tmp_path_factory.mktemp("prefect_home")
    yield
    PREFECT_HOME = None


def billing(*args: str, cwd: Path | None = None, env: dict | None = None):
    full_env = {**os.environ, **(env or {})}
    if PREFECT_HOME is not None:
        full_env["BILLING_PREFECT_HOME"] = str(PREFECT_HOME)
        full_env.pop("PREFECT_HOME", None)
    full_env.pop("BILLING_CRASH_AT", None)
    return subprocess.run(
        [BILLING, *args], capture_output=True, text=True, timeout=900, cwd=cwd, env=full_env
    )


def assert_clean(proc: subprocess.CompletedProcess) -> None:
    out = proc.stdout + proc.stderr
    for bad in ("Traceback", "database is locked", "telemetry", "Warning", "WARNING"):
        assert bad not in out, f"{bad!r} in output:\n{out[-4000:]}"


def test_help_lists_every_command():
    proc = billing("--help")
    assert proc.returncode == 0
    for command in COMMANDS:
        assert command in proc.stdout
    for command in COMMANDS:
        sub = billing(command, "--help")
        assert sub.returncode == 0, sub.stderr
        assert "--warehouse" in sub.stdout


def raw_with_a_bad_currency(tmp_path: Path) -> Path:
    """raw_basic with entities.csv row 2 naming currency EURO: the load must stop."""
    raw = tmp_path / "raw"
    shutil.copytree(FIXTURE, raw)
    entities = raw / "entities.csv"
    entities.write_text(entities.read_text().replace(",EUR,Europe/Paris,", ",EURO,Europe/Paris,"))
    return raw


def test_bad_reference_file_fails_with_one_line_and_changes_nothing(tmp_path):
    raw = raw_with_a_bad_currency(tmp_path)
    warehouse = tmp_path / "w.duckdb"
    proc = billing("load", "--raw-dir", str(raw), "--warehouse", str(warehouse))
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "entities.csv" in lines[0] and "row 2" in lines[0] and "currency" in lines[0].lower()
    if warehouse.exists():
        con = duckdb.connect(str(warehouse), read_only=True)
        assert con.execute("select count(*) from raw.source_files").fetchone()[0] == 0
        con.close()


def test_bad_period_is_one_line():
    proc = billing("close", "--period", "2026-13")
    assert proc.returncode != 0
    assert proc.stderr.strip().startswith("error: period must look like YYYY-MM")


@pytest.mark.parametrize(
    "command",
    [["close", "--period", "2026-10"], ["render", "--period", "2026-10"],
     ["deliver", "--url", "http://127.0.0.1:9/x", "--secret", "whsec_" + "A" * 32]],
)
def test_a_missing_warehouse_is_one_line_and_not_created(command, tmp_path):
    warehouse = tmp_path / "typo.duckdb"
    proc = billing(*command, "--warehouse", str(warehouse))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: warehouse {warehouse} does not exist (create it with billing load --raw-dir "
        f"DIR, or close with --raw-dir)"
    ]
    assert not warehouse.exists()


def test_a_bad_webhook_url_is_one_line(tmp_path):
    proc = billing("deliver", "--url", "http://exa mple.com/h", "--secret", "whsec_" + "A" * 32,
                   "--warehouse", str(tmp_path / "w.duckdb"))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "blank" in lines[0], proc.stderr


def test_bad_memory_limit_is_one_line():
    proc = billing("close", "--period", "2026-10", "--memory-limit", "lots")
    assert proc.returncode != 0
    assert proc.stderr.strip().startswith("error: memory limit must be a size like 12GB")
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def closed_by_cli(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    raw = tmp / "raw"
    shutil.copytree(FIXTURE, raw)
    warehouse = tmp / "w.duckdb"
    proc = billing(
        "close", "--period", "2026-10", "--raw-dir", str(raw), "--warehouse", str(warehouse),
        "--as-of", "2026-11-15T00:00:00Z", "--memory-limit", "2GB",
    )
    return proc, warehouse


def test_close_from_the_shell_is_clean_and_timed(closed_by_cli):
    proc, warehouse = closed_by_cli
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert_clean(proc)
    assert "Closed" in proc.stdout and "2026-10" in proc.stdout
    assert "Time per phase" in proc.stdout
    for phase in ("load", "rating", "finalization", "webhooks", "pdfs"):
        assert phase in proc.stdout
    # where the PDFs are, for each closed period (2026-09 was closed first)
    for period in ("2026-09", "2026-10"):
        assert f"PDFs ({period})      {pdf_dir(warehouse, period)}" in proc.stdout


def test_closing_a_month_still_running_is_refused_in_one_line(closed_by_cli, tmp_path):
    _, closed = closed_by_cli
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(closed, warehouse)
    shutil.copytree(warehouse_home(closed), warehouse_home(warehouse))
    proc = billing("close", "--period", "2026-12", "--warehouse", str(warehouse),
                   "--as-of", "2026-11-24T12:00:00Z", "--skip-pdf")
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: period 2026-12 has not ended yet"), lines[0]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        closes = con.execute("select max(period) from billing.period_closes").fetchone()[0]
    finally:
        con.close()
    assert closes == "2026-10"


def test_explain_shows_lines_and_evidence(closed_by_cli):
    _, warehouse = closed_by_cli
    proc = billing("explain", "--invoice", "ent_us-000001", "--warehouse", str(warehouse))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "ent_us-000001" in out
    assert "ev_0002" in out and "ev_0003" in out  # the graduated tier's events
    assert "sc_us_2" in out  # the seat change behind the 8-seat stretch
    # money as money: the currency's symbol and decimals, more only where an event's exact
    # amount has them; no 12-decimal or exponent notation, no float
    assert "$" in out and "subtotal $" in out
    assert not re.search(r"\d\.\d{12}|\dE-\d", out), out
    missing = billing("explain", "--invoice", "nope-1", "--warehouse", str(warehouse))
    assert missing.returncode != 0 and "no invoice numbered" in missing.stderr
    by_id = billing("explain", "--invoice", "ent_us:2026-09", "--warehouse", str(warehouse))
    assert by_id.stderr.strip().splitlines() == [
        "error: 'ent_us:2026-09' is an invoice id: its number is ent_us-000001"]


def test_explain_before_any_close_is_one_line(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    assert billing("load", "--raw-dir", str(FIXTURE), "--warehouse", str(warehouse)).returncode == 0
    proc = billing("explain", "--invoice", "ent_us-000001", "--warehouse", str(warehouse))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: this warehouse has no invoices yet: run billing close --period YYYY-MM "
        "(--draft to change nothing) first"]


def test_closing_an_already_closed_period_again_says_so(closed_by_cli):
    proc, warehouse = closed_by_cli
    again = billing("close", "--period", "2026-09", "--warehouse", str(warehouse),
                    "--as-of", "2026-11-15T00:00:00Z")
    assert again.returncode == 0, again.stderr
    assert "2026-09 is already closed: nothing changed." in again.stdout
    assert f"PDFs (2026-09)      {pdf_dir(warehouse, '2026-09')}" in again.stdout


def test_render_again_redraws_nothing_but_puts_back_a_lost_pdf(closed_by_cli):
    _, warehouse = closed_by_cli
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        number, path, sha = con.execute(
            "select invoice_number, pdf_path, pdf_sha256 from billing.issued_invoices "
            "where period = '2026-10' order by invoice_number limit 1").fetchone()
    finally:
        con.close()
    Path(path).unlink()
    proc = billing("render", "--period", "2026-10", "--warehouse", str(warehouse))
    assert proc.returncode == 0, proc.stderr
    assert "Rendered 0 PDF" in proc.stdout
    assert f"Restored 1 missing issued PDF(s), byte-identical to what was issued: {number}" in (
        " ".join(proc.stdout.split()))
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha


def test_deliver_with_the_receiver_down_exits_non_zero(closed_by_cli, tmp_path):
    # runs before the test below delivers the outbox: a copy still has every webhook pending
    _, closed = closed_by_cli
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(closed, warehouse)
    proc = billing("deliver", "--url", "http://127.0.0.1:9/hooks", "--secret", "whsec_" + "A" * 32,
                   "--wait", "0", "--warehouse", str(warehouse))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "not delivered" in lines[0] and "still pending" in lines[0], lines
    assert "delivered 0" in proc.stdout


def test_deliver_signs_sends_everything_and_never_records_the_secret(closed_by_cli):
    from billing.webhooks.receiver import Receiver, ReceiverThread

    _, warehouse = closed_by_cli
    key = "c2VjcmV0LWtleS1mb3ItdGhlLWNsaS10ZXN0"  # base64 of the key bytes
    secret = f"whsec_{key}"
    receiver = Receiver(secret)
    server = ReceiverThread(receiver).start()
    try:
        proc = billing("deliver", "--url", server.url, "--warehouse", str(warehouse),
                       env={"BILLING_WEBHOOK_SECRET": secret})
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_clean(proc)
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute("select webhook_id, status from webhook_outbox").fetchall()
    con.close()
    assert rows and {status for _, status in rows} == {"delivered"}
    assert set(receiver.accepted) == {webhook_id for webhook_id, _ in rows}
    assert receiver.invalid == 0
    assert all(count == 1 for count in receiver.accepted.values())
    assert key not in proc.stdout + proc.stderr
    for path in PREFECT_HOME.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), f"secret found in {path}"


def billing_in_a_terminal(*args: str) -> tuple[int, str]:
    """Run `billing` with a pseudo-terminal as its stdout and stderr, as a user at a prompt."""
    env = {k: v for k, v in os.environ.items() if k not in CI_VARIABLES}
    if PREFECT_HOME is not None:
        env["BILLING_PREFECT_HOME"] = str(PREFECT_HOME)
        env.pop("PREFECT_HOME", None)
    env.pop("DO_NOT_TRACK", None)
    leader, follower = pty.openpty()
    proc = subprocess.Popen([BILLING, *args], stdin=subprocess.DEVNULL, stdout=follower,
                            stderr=follower, env=env, close_fds=True)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes with the command
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return proc.wait(timeout=300), output.decode(errors="replace")


#: What Prefect takes for a CI machine (it keeps its telemetry quiet there, but not at a prompt).
CI_VARIABLES = frozenset({
    "CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "TRAVIS", "CIRCLECI", "BUILDKITE",
    "TF_BUILD", "CODEBUILD_BUILD_ID", "BITBUCKET_COMMIT", "TEAMCITY_VERSION", "DRONE",
    "SEMAPHORE", "APPVEYOR", "BUDDY", "CI_NAME",
})


def test_a_load_at_a_terminal_prints_no_telemetry_notice(tmp_path):
    """Prefect prints a usage-data notice on its first run at a terminal, unless told not to
    track; the user of `billing` sees only the command's own output."""
    code, output = billing_in_a_terminal(
        "load", "--raw-dir", str(FIXTURE), "--warehouse", str(tmp_path / "w.duckdb"))
    assert code == 0, output[-3000:]
    assert "Loaded into" in output
    for bad in ("usage data", "telemetry", "DO_NOT_TRACK", "Traceback", "Warning"):
        assert bad not in output, f"{bad!r} at the terminal:\n{output[-3000:]}"


def test_generate_then_load_twice_is_idempotent(tmp_path):
    raw, warehouse = tmp_path / "raw", tmp_path / "w.duckdb"
    gen = billing("generate", "--out", str(raw), "--entities", "3", "--events", "300",
                  "--months", "1", "--seed", "3")
    assert gen.returncode == 0, gen.stderr
    assert (raw / "entities.csv").exists() and (raw / "marketplace_events").is_dir()
    first = billing("load", "--raw-dir", str(raw), "--warehouse", str(warehouse))
    assert first.returncode == 0, first.stderr
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute("select count(*) from raw.marketplace_events").fetchone()[0]
    con.close()
    again = billing("load", "--raw-dir", str(raw), "--warehouse", str(warehouse))
    assert again.returncode == 0, again.stderr
    assert "unchanged files" in again.stdout and "new files" in again.stdout
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select count(*) from raw.marketplace_events").fetchone()[0] == rows
    con.close()


def test_billing_alone_prints_the_help_and_succeeds():
    proc = billing()
    assert proc.returncode == 0
    assert "Usage" in proc.stdout and "close" in proc.stdout
    assert proc.stderr.strip() == ""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["load"], "error: Missing option '--raw-dir'. (see 'billing load --help')"),
        (["close", "--perod", "2026-10"],
         "error: No such option: --perod (Possible options: --period) "
         "(see 'billing close --help')"),
        (["deliver", "--dry-run", "x", "--concurrency", "0"],
         "error: Invalid value for '--concurrency': Input should be greater than or equal to 1"),
    ],
)
def test_usage_mistakes_are_one_line_naming_the_option(args, expected):
    proc = billing(*args)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [expected]


def test_the_demo_never_takes_its_warehouse_from_the_environment(monkeypatch, tmp_path):
    # BILLING_WAREHOUSE names the user's real warehouse: the demo must not write into it
    import typer.main

    from billing.cli import app

    monkeypatch.setenv("BILLING_WAREHOUSE", str(tmp_path / "real.duckdb"))
    root = typer.main.get_command(app)
    demo = root.get_command(root.make_context("billing", ["demo"]), "demo")
    close = root.get_command(root.make_context("billing", ["close"]), "close")
    assert demo.make_context("demo", []).params["warehouse"] is None
    assert close.make_context("close", ["--period", "2026-10"]).params["warehouse"] == (
        tmp_path / "real.duckdb")


def test_a_close_after_a_failed_first_load_refuses_instead_of_closing_nothing(tmp_path):
    raw = raw_with_a_bad_currency(tmp_path)
    warehouse = tmp_path / "w.duckdb"
    assert billing("load", "--raw-dir", str(raw), "--warehouse", str(warehouse)).returncode == 1
    assert warehouse.exists()  # the failed load left an empty warehouse behind
    proc = billing("close", "--period", "2026-10", "--warehouse", str(warehouse),
                   "--as-of", "2026-11-15T00:00:00Z")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"error: nothing is loaded in warehouse {warehouse}: load a raw folder first "
        f"(billing load --raw-dir DIR, or close with --raw-dir)"
    ]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert con.execute("select count(*) from billing.period_closes").fetchone()[0] == 0
    finally:
        con.close()


def test_a_second_command_on_a_warehouse_in_use_is_refused_at_once(tmp_path):
    # a close opens the warehouse step by step; a load started meanwhile must not slip in
    # between two steps (the close would fail half-way): it is refused, naming the close
    import time

    from billing.lock import lock_path

    warehouse = tmp_path / "w.duckdb"
    env = {**os.environ}
    if PREFECT_HOME is not None:
        env["BILLING_PREFECT_HOME"] = str(PREFECT_HOME)
        env.pop("PREFECT_HOME", None)
    close = subprocess.Popen(
        [BILLING, "close", "--period", "2026-10", "--raw-dir", str(FIXTURE), "--warehouse",
         str(warehouse), "--as-of", "2026-11-15T00:00:00Z", "--skip-pdf"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        lock = lock_path(warehouse)
        while not (lock.exists() and lock.read_text().startswith("billing close")):
            assert close.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        second = billing("load", "--raw-dir", str(FIXTURE), "--warehouse", str(warehouse))
        assert second.returncode == 1
        line, = second.stderr.strip().splitlines()
        assert line.startswith(f"error: warehouse {warehouse} is in use by another billing "
                               f"command (billing close, pid {close.pid}, since ")
    finally:
        out, err = close.communicate(timeout=600)
    assert close.returncode == 0, err
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert con.execute("select status from billing.close_runs").fetchall() == [
            ("finalized",)]
    finally:
        con.close()
    # once the close has ended, the warehouse is free again
    assert billing("load", "--raw-dir", str(FIXTURE), "--warehouse", str(warehouse)
                   ).returncode == 0


def test_the_demo_builds_a_fresh_warehouse_each_run_and_never_reuses_a_real_one(tmp_path):
    warehouse = tmp_path / "demo.duckdb"
    args = ["demo", "--warehouse", str(warehouse), "--events", "400", "--months", "1"]
    first = billing(*args, "--entities", "3")
    assert first.returncode == 0, first.stderr
    second = billing(*args, "--entities", "2")
    assert second.returncode == 0, second.stderr
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        invoiced = con.execute("select count(distinct entity_id) from invoices").fetchall()
        loads = con.execute("select count(*) from raw.load_runs").fetchall()
    finally:
        con.close()
    assert invoiced == [(2,)] and loads == [(1,)]  # nothing left of the 3-entity run
    # a warehouse the demo did not make is refused, untouched
    real = tmp_path / "real.duckdb"
    assert billing("load", "--raw-dir", str(FIXTURE), "--warehouse", str(real)).returncode == 0
    before = real.read_bytes()
    refused = billing("demo", "--warehouse", str(real))
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"error: {real} already exists and was not made by billing demo: the demo builds a "
        "fresh warehouse, choose another --warehouse"]
    assert real.read_bytes() == before
