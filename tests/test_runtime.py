"""The Prefect and dbt runtime: what a user sees on the console, and how failures read.

The Prefect checks run a real flow in a real subprocess (a user's view: its own interpreter,
its own temporary Prefect server); the dbt checks run real dbt invocations in-process on a tiny
project made in a temporary folder, and on the repository's own project.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from billing import runtime
from billing.dbt import PARSE_CATALOG, DbtError, catalog_name, relabel_catalog, run_dbt
from billing.errors import BillingError

FORBIDDEN = ("traceback", "database is locked", "telemetry", "warning")

FLOW_SCRIPT = textwrap.dedent(
    """
    import sys

    from billing.runtime import configure_prefect

    configure_prefect()

    from prefect import flow, task

    from billing.errors import BillingError


    @task
    def extract(n: int) -> int:
        return n + 1


    @task
    def transform(n: int) -> int:
        return n * 2


    @task
    def load(n: int) -> int:
        return n - 3


    @task
    def reject() -> None:
        raise BillingError("raw/entities.csv, row 3: currency must be ISO 4217")


    @flow
    def pipeline(n: int) -> int:
        return load(transform(extract(n)))


    @flow
    def failing() -> None:
        reject()


    print("result", pipeline(20))
    try:
        failing()
    except BillingError as exc:
        print(f"error: {exc}", file=sys.stderr)
    """
)


def _clean_env(tmp: Path) -> dict[str, str]:
    """The environment of a user with no Prefect configuration of their own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BILLING_"))}
    env.update(HOME=str(tmp / "home"), BILLING_PREFECT_HOME=str(tmp / "prefect"),
               BILLING_CACHE_DIR=str(tmp / "cache"))
    return env


def _run_flow_script(
    script: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=300)
    return proc, time.perf_counter() - started


def _assert_clean(proc: subprocess.CompletedProcess) -> None:
    for stream_name, text in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        for line in text.splitlines():
            bad = [word for word in FORBIDDEN if word in line.lower()]
            assert not bad, f"{stream_name} has {bad}: {line!r}\n--- full {stream_name}:\n{text}"


def test_flow_runs_cleanly_with_a_cold_then_a_warm_prefect_home(tmp_path: Path) -> None:
    script = tmp_path / "flow.py"
    script.write_text(FLOW_SCRIPT)
    env = _clean_env(tmp_path)

    cold, cold_seconds = _run_flow_script(script, env)
    assert cold.returncode == 0, cold.stderr
    _assert_clean(cold)
    assert cold.stdout.splitlines() == ["result 39"]
    # The failing task's BillingError reaches the caller; Prefect adds nothing to the console.
    assert cold.stderr.splitlines() == ["error: raw/entities.csv, row 3: currency must be ISO 4217"]
    # The database now sits, migrated, in the per-user folder: the next run skips migrations.
    assert (tmp_path / "prefect" / "prefect.db").is_file()
    assert runtime._database_is_current(tmp_path / "prefect")

    warm, warm_seconds = _run_flow_script(script, env)
    assert warm.returncode == 0, warm.stderr
    _assert_clean(warm)
    assert warm.stdout.splitlines() == ["result 39"]
    print(f"flow with 3 tasks: cold {cold_seconds:.1f}s, warm {warm_seconds:.1f}s")


EARLY_SERVER_SCRIPT = textwrap.dedent(
    """
    import os
    import sys

    from billing import runtime

    runtime.configure_prefect()
    assert runtime.start_server_early()
    print("server pid", runtime._early["process"].pid, flush=True)

    from prefect import flow, task


    @task
    def double(n: int) -> int:
        return n * 2


    @flow
    def pipeline(n: int) -> int:
        return double(n)


    assert runtime.wait_for_server()
    print("api", os.environ["PREFECT_API_URL"] == runtime.early_server_url())
    if sys.argv[1:] == ["die"]:
        os._exit(3)  # like the CLI's error path: no atexit handlers run
    print("result", pipeline(21))
    print("server app imported here", "prefect.server.api.server" in sys.modules)
    """
)


def _gone(pid: int, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("ending", ["normal", "die"])
def test_the_early_server_runs_the_flow_and_never_outlives_the_command(
    tmp_path: Path, ending: str
) -> None:
    script = tmp_path / "early.py"
    script.write_text(EARLY_SERVER_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), *([ending] if ending == "die" else [])],
                          env=_clean_env(tmp_path), capture_output=True, text=True, timeout=300)
    _assert_clean(proc)
    lines = proc.stdout.splitlines()
    pid = int(lines[0].removeprefix("server pid "))
    assert lines[1] == "api True"
    if ending == "normal":
        assert proc.returncode == 0, proc.stderr
        # Prefect ran the flow on the early server, without loading the server app itself.
        assert lines[2:] == ["result 42", "server app imported here False"]
    else:
        assert proc.returncode == 3 and len(lines) == 2
    # Stopped at exit, or killed with its parent (PR_SET_PDEATHSIG) after os._exit.
    assert _gone(pid), f"temporary server {pid} outlived the command"


def test_exit_now_runs_exit_handlers_and_keeps_the_code(tmp_path: Path) -> None:
    script = tmp_path / "leave.py"
    script.write_text(textwrap.dedent(
        """
        import atexit

        from billing.runtime import exit_now

        atexit.register(lambda: print("handler ran"))
        print("partial line", end="")
        exit_now(5)
        print("never")
        """
    ))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 5
    assert proc.stdout == "partial linehandler ran\n"


def test_no_early_server_for_a_users_own_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert not runtime.start_server_early()
    assert runtime.early_server_url() is None
    assert runtime.wait_for_server()  # nothing to wait for


def test_configure_prefect_sets_a_stable_home_and_the_quiet_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith("PREFECT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BILLING_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLING_PREFECT_HOME", raising=False)
    monkeypatch.setenv("PREFECT_SERVER_LOGGING_LEVEL", "DEBUG")  # the user's own choice wins

    runtime.configure_prefect()

    assert os.environ["PREFECT_HOME"] == str(tmp_path / "cache" / "prefect")
    assert (tmp_path / "cache" / "prefect").is_dir()
    assert os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] == "CRITICAL"
    assert os.environ["PREFECT_SERVER_LOGGING_LEVEL"] == "DEBUG"
    # No database yet: Prefect must run its migrations.
    assert "PREFECT_API_DATABASE_MIGRATE_ON_START" not in os.environ


def test_a_users_own_prefect_api_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith("PREFECT_") or key in runtime.EPHEMERAL_SETTINGS:
            monkeypatch.delenv(key)
    user_home = tmp_path / "user-prefect"
    user_home.mkdir()
    (user_home / "profiles.toml").write_text(
        'active = "work"\n\n[profiles.work]\nPREFECT_API_URL = "http://127.0.0.1:4200/api"\n'
    )
    monkeypatch.setenv("PREFECT_HOME", str(user_home))
    monkeypatch.chdir(tmp_path)

    assert runtime.user_api_url() == "http://127.0.0.1:4200/api"
    runtime.configure_prefect(tmp_path / "ignored")

    assert os.environ["PREFECT_HOME"] == str(user_home)  # their profiles stay readable
    for key in runtime.EPHEMERAL_SETTINGS:
        assert key not in os.environ, key

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4300/api")
    assert runtime.user_api_url() == "http://127.0.0.1:4300/api"


# --- dbt ------------------------------------------------------------------------------------

TINY_PROJECT = {
    "dbt_project.yml": """
        name: tiny
        version: "1.0"
        config-version: 2
        profile: tiny
        flags:
          send_anonymous_usage_stats: false
          partial_parse: true
    """,
    "profiles.yml": """
        tiny:
          target: duckdb
          outputs:
            duckdb:
              type: duckdb
              path: "{{ env_var('BILLING_WAREHOUSE') }}"
              threads: 1
    """,
    "models/good.sql": "select 1 as id union all select 1 as id union all select 2 as id\n",
    "models/bad.sql": "select no_such_column from {{ ref('good') }}\n",
    "models/after_bad.sql": "select * from {{ ref('bad') }}\n",
    "models/as_of.sql": "select '{{ var(\"as_of\", \"unset\") }}' as as_of\n",
    "models/schema.yml": """
        models:
          - name: good
            columns:
              - name: id
                data_tests: [unique]
    """,
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    """A tiny dbt project with one broken model and one failing test, and its own cache."""
    root = tmp_path_factory.mktemp("tiny_dbt")
    project = root / "project"
    for name, text in TINY_PROJECT.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BILLING_CACHE_DIR", str(root / "cache"))
        yield project, root / "warehouse.duckdb", root / "target"


def test_dbt_parse_prints_one_summary_line(tiny) -> None:
    project, warehouse, target = tiny
    out = io.StringIO()
    result = run_dbt(["parse"], warehouse, target_path=target, project_dir=project, stream=out)
    assert result.success
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("dbt parse: 4 models, 1 test in ")


def test_dbt_ls_lists_quietly_and_reuses_the_manifest(tiny) -> None:
    project, warehouse, target = tiny
    run_dbt(["ls"], warehouse, target_path=target, project_dir=project, quiet=True)
    out = io.StringIO()
    result = run_dbt(["ls", "--resource-type", "model"], warehouse, target_path=target,
                     project_dir=project, stream=out)
    assert sorted(result.listed) == ["tiny.after_bad", "tiny.as_of", "tiny.bad", "tiny.good"]
    assert result.parse_seconds == 0.0  # the manifest parsed by the first call
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dbt ls: 4 resources in "), lines

    quiet = io.StringIO()
    run_dbt(["ls"], warehouse, target_path=target, project_dir=project, quiet=True, stream=quiet)
    assert quiet.getvalue() == ""


def test_dbt_run_prints_a_line_per_node_applies_vars_and_frees_the_warehouse(tiny) -> None:
    project, warehouse, target = tiny
    out = io.StringIO()
    result = run_dbt(["run", "--select", "good", "as_of"], warehouse, target_path=target,
                     project_dir=project, vars={"as_of": "2026-10-01T00:00:00Z"}, stream=out)
    assert result.success
    lines = out.getvalue().splitlines()
    assert [line.split()[:3] for line in lines[:2]] == [["1/2", "ok", "model"],
                                                        ["2/2", "ok", "model"]]
    assert sorted(line.split()[3] for line in lines[:2]) == ["as_of", "good"]
    assert lines[2].startswith("dbt run: 2 ok in ")
    assert len(lines) == 3
    # Vars apply at run time although the cached manifest was parsed without them; and dbt
    # no longer holds the file: another configuration (read-only) can open it.
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert con.execute("select as_of from as_of").fetchall() == [("2026-10-01T00:00:00Z",)]
    finally:
        con.close()


def test_a_failing_model_raises_one_line_and_shows_the_sql_error_in_full(tiny) -> None:
    project, warehouse, target = tiny
    out = io.StringIO()
    with pytest.raises(BillingError) as caught:
        run_dbt(["run", "--select", "good", "bad", "after_bad"], warehouse, target_path=target,
                project_dir=project, stream=out)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("dbt run failed: model bad: Binder Error: Referenced column "
                              '"no_such_column" not found')
    assert "dbt.log" in message
    printed = out.getvalue()
    assert "dbt run: FAILED: 1 ok, 1 errored, 1 skipped in " in printed
    assert "ERROR model bad (models/bad.sql)" in printed
    assert 'Candidate bindings: "id"' in printed
    assert isinstance(caught.value, DbtError)
    assert 'Candidate bindings: "id"' in caught.value.details
    log = caught.value.result.log_path / "dbt.log"
    assert "no_such_column" in log.read_text()  # the log the message points to has it too


def test_a_failing_test_names_the_test_and_its_failing_rows(tiny) -> None:
    project, warehouse, target = tiny
    result = run_dbt(["build", "--select", "good"], warehouse, target_path=target,
                     project_dir=project, raise_on_failure=False, quiet=True)
    assert not result.success
    failed = [n for n in result.nodes if n.failed]
    assert [(n.resource_type, n.name, n.failures) for n in failed] == [
        ("test", "unique_good_id", 1)
    ]
    with pytest.raises(DbtError, match=r"test unique_good_id: 1 failing row;"):
        run_dbt(["test", "--select", "good"], warehouse, target_path=target,
                project_dir=project, quiet=True)


def test_a_changed_project_file_is_parsed_again(tiny) -> None:
    project, warehouse, target = tiny
    run_dbt(["ls"], warehouse, target_path=target, project_dir=project, quiet=True)
    extra = project / "models" / "extra.sql"
    extra.write_text("select 3 as id\n")
    try:
        result = run_dbt(["ls", "--resource-type", "model"], warehouse, target_path=target,
                         project_dir=project, quiet=True)
        assert result.parse_seconds > 0
        assert "tiny.extra" in result.listed
    finally:
        extra.unlink()


def test_selecting_nothing_is_a_one_line_error(tiny) -> None:
    project, warehouse, target = tiny
    with pytest.raises(BillingError) as caught:
        run_dbt(["run", "--select", "no_such_model"], warehouse, target_path=target,
                project_dir=project, quiet=True)
    assert "\n" not in str(caught.value)
    assert "no_such_model matches no enabled node" in str(caught.value)


def test_the_repository_project_lists_its_staging_models(tmp_path: Path, dbt_target: Path) -> None:
    out = io.StringIO()
    result = run_dbt(["ls", "--select", "staging", "--resource-type", "model"],
                     tmp_path / "warehouse.duckdb", target_path=dbt_target, stream=out)
    assert "billing_warehouse.staging.stg_entities" in result.listed
    assert out.getvalue().startswith(f"dbt ls: {len(result.listed)} resources in ")
    assert len(out.getvalue().splitlines()) == 1


def test_one_parse_serves_every_warehouse_name(tiny, tmp_path: Path) -> None:
    """dbt bakes the DuckDB catalog (the file name) into the manifest: the project is parsed
    once against a fixed name and relabelled per warehouse, not parsed again per name."""
    project, warehouse, target = tiny
    other = tmp_path / "sales.2026.duckdb"
    assert catalog_name(other) == "sales"
    for path in (warehouse, other):
        result = run_dbt(["run", "--select", "good"], path, target_path=target,
                         project_dir=project, quiet=True)
        assert result.success
        con = duckdb.connect(str(path), read_only=True)
        try:
            assert con.execute("select count(*) from good").fetchone() == (3,)
        finally:
            con.close()
    cache = Path(os.environ["BILLING_CACHE_DIR"]) / "dbt-parse"
    assert len([d for d in cache.iterdir() if d.name.startswith("project-")]) == 1


def test_a_relabelled_manifest_matches_a_parse_against_that_warehouse(
    tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dbt.cli.main import dbtRunner

    project, _, _ = tiny
    parsed: dict[str, object] = {}
    for name in (PARSE_CATALOG, "sales"):
        monkeypatch.setenv("BILLING_WAREHOUSE", str(tmp_path / f"{name}.duckdb"))
        res = dbtRunner().invoke(["parse", "--project-dir", str(project), "--profiles-dir",
                                  str(project), "--target-path", str(tmp_path / name),
                                  "--log-level", "none", "--no-partial-parse"])
        assert res.success
        parsed[name] = res.result
    relabelled = relabel_catalog(parsed[PARSE_CATALOG], PARSE_CATALOG, "sales")
    direct = parsed["sales"]

    def where(manifest) -> dict[str, tuple]:
        return {key: (node.database, getattr(node, "relation_name", None))
                for group in (manifest.nodes, manifest.sources)
                for key, node in group.items()}

    assert where(relabelled) == where(direct)
    assert {db for db, _ in where(direct).values()} == {"sales"}
    # The manifest parsed once is left as it was (other warehouses share it).
    assert {db for db, _ in where(parsed[PARSE_CATALOG]).values()} == {PARSE_CATALOG}
