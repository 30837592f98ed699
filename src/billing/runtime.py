"""A quiet, fast Prefect runtime for the ``billing`` command.

Import order matters: Prefect reads its settings once, when ``prefect`` is first imported
(``prefect.context`` builds its global settings then, and ``prefect.main`` configures logging).
So call :func:`configure_prefect` *before* anything imports ``prefect`` (the CLI calls it before it
imports ``flows.*``). Called later, it refreshes Prefect's global settings and logging as a best
effort, but objects Prefect already built (loggers, clients) keep what they had.

Without an API of the user's own, a flow run makes Prefect start a temporary server
(``SubprocessASGIServer``: uvicorn in a subprocess, on a SQLite database in ``PREFECT_HOME``).
Its defaults cost seconds and print tracebacks, so :data:`EPHEMERAL_SETTINGS` tunes it. When the
user configured ``PREFECT_API_URL`` (environment, active profile, ``prefect.toml``,
``pyproject.toml`` or ``.env``), none of that is touched: flows report to their server.

Every setting is applied with ``os.environ.setdefault``: a value the user exported wins.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

#: Settings applied whatever the API: console output only (the API log handler keeps INFO, so a
#: user's own server still receives the run logs).
CONSOLE_SETTINGS: Mapping[str, str] = {
    # Prefect prints "Beginning flow run 'x'", every task's "Finished in state Completed()" and
    # "Starting temporary server on ..." at INFO, and when a task raises (a BillingError for a
    # bad raw file, say) an ERROR line with the whole traceback, then "Finished in state
    # Failed" twice. The command reports the outcome itself, as one line, so the console
    # handler shows only CRITICAL. The API handler is separate: a user's own server still
    # receives every run log. ``configure_prefect(verbose=True)`` shows INFO again.
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
}

#: Settings for the temporary local server (only when the user has no API of their own).
EPHEMERAL_SETTINGS: Mapping[str, str] = {
    # Start a temporary server when no API URL is set, whatever a profile says.
    "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",
    # A cold start (new PREFECT_HOME: ~110 SQLite migrations) on a busy 2-core machine takes
    # more than the default 20 s; timing out would fail the user's command for nothing.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # Anonymous usage telemetry: with no network it logs "Failed to send telemetry", and its
    # first write races the API for the SQLite lock ("database is locked" traceback).
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # The client's own telemetry (Prefect 3.8): at a terminal its first run prints a three-line
    # usage-data notice into the command's output, then sends events in the background. The
    # server's analytics are off above; this is the client's switch (a user's own value wins).
    "DO_NOT_TRACK": "1",
    # Block auto-registration imports every installed Prefect integration at server start
    # (prefect-dbt imports all of dbt: 1.5-3 s) to register block types no flow here uses.
    # Both switches are needed: the memoizing wrapper imports the integrations by itself.
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
    "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
    # Event services the ephemeral server runs but a one-shot command never reads: persisting
    # events, logging them, and evaluating automations on them. Each one writes to SQLite
    # while the flow does, which is where "database is locked" comes from.
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_LOGGER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    # Loop services for long-lived servers (the ephemeral server already skips them; pinned off
    # so a Prefect upgrade that turns one on does not slow the command down).
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED": "false",
    # Run logs would be shipped to the temporary server (more SQLite writes, and a batch still
    # in flight when the server stops). Nobody reads them there.
    "PREFECT_LOGGING_TO_API_ENABLED": "false",
    # The server's own loggers (uvicorn, fastapi, prefect.server): errors only.
    "PREFECT_SERVER_LOGGING_LEVEL": "ERROR",
}

#: Set only when the SQLite database in PREFECT_HOME is already at the newest migration of the
#: installed Prefect: checking the ~110 migrations again costs 0.1-0.4 s per start.
SKIP_MIGRATIONS: Mapping[str, str] = {"PREFECT_API_DATABASE_MIGRATE_ON_START": "false"}

_DB_URL_VARS = ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL")


def billing_cache_dir() -> Path:
    """Per-user cache of the ``billing`` command (Prefect's database, dbt's parse state).

    ``$BILLING_CACHE_DIR``, else ``$XDG_CACHE_HOME/billing-warehouse`` (by default
    ``~/.cache/billing-warehouse``). Deleting it is safe: the next command is a few seconds
    slower while it rebuilds what it needs.
    """
    if os.environ.get("BILLING_CACHE_DIR"):
        return Path(os.environ["BILLING_CACHE_DIR"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "billing-warehouse"


def default_prefect_home() -> Path:
    """The folder whose SQLite database every ``billing`` command reuses for its temporary
    Prefect server: ``$BILLING_PREFECT_HOME``, else ``<billing_cache_dir()>/prefect``. It holds
    only run history."""
    if os.environ.get("BILLING_PREFECT_HOME"):
        return Path(os.environ["BILLING_PREFECT_HOME"]).expanduser()
    return billing_cache_dir() / "prefect"


def configure_prefect(home: Path | None = None, *, verbose: bool = False) -> None:
    """Set the environment for a clean, quiet, fast Prefect run (see the module docstring).

    ``home`` chooses PREFECT_HOME for the temporary server's database; by default the user's own
    PREFECT_HOME if they exported one, else :func:`default_prefect_home`. ``verbose`` keeps
    Prefect's INFO lines (flow and task states) on the console.
    """
    if verbose:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "INFO")
    else:
        for key, value in CONSOLE_SETTINGS.items():
            os.environ.setdefault(key, value)
    if user_api_url() is None:
        if home is not None:
            os.environ["PREFECT_HOME"] = str(Path(home).expanduser())
        else:
            os.environ.setdefault("PREFECT_HOME", str(default_prefect_home()))
        prefect_home = Path(os.environ["PREFECT_HOME"])
        prefect_home.mkdir(parents=True, exist_ok=True)
        for key, value in EPHEMERAL_SETTINGS.items():
            os.environ.setdefault(key, value)
        # Only before Prefect is imported: a process that already imported it may have pointed
        # it at another, fresh database (prefect_test_harness does, through settings that
        # this check cannot see), which must be migrated.
        if "prefect.context" not in sys.modules and _database_is_current(prefect_home):
            for key, value in SKIP_MIGRATIONS.items():
                os.environ.setdefault(key, value)
    _refresh_if_prefect_loaded()


def user_api_url() -> str | None:
    """The Prefect API URL the user configured, read without importing Prefect.

    Looks where Prefect does: the environment, the active profile of the user's profiles file,
    and ``prefect.toml`` / ``pyproject.toml`` / ``.env`` in the working directory.
    """
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    for read in (_profile_api_url, _toml_api_url, _dotenv_api_url):
        with contextlib.suppress(OSError, ValueError, tomllib.TOMLDecodeError, AttributeError):
            if url := read():
                return url
    return None


def _profile_api_url() -> str | None:
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    if not path.is_file():
        return None
    data = tomllib.loads(path.read_text())
    active = os.environ.get("PREFECT_PROFILE") or data.get("active")
    profile = data.get("profiles", {}).get(active or "", {})
    return profile.get("PREFECT_API_URL") or None


def _toml_api_url() -> str | None:
    prefect_toml = Path("prefect.toml")
    if prefect_toml.is_file():
        url = tomllib.loads(prefect_toml.read_text()).get("api", {}).get("url")
        if url:
            return url
    pyproject = Path("pyproject.toml")
    if pyproject.is_file():
        tool = tomllib.loads(pyproject.read_text()).get("tool", {})
        return tool.get("prefect", {}).get("api", {}).get("url") or None
    return None


def _dotenv_api_url() -> str | None:
    dotenv = Path(".env")
    if not dotenv.is_file():
        return None
    for line in dotenv.read_text().splitlines():
        key, _, value = line.strip().removeprefix("export ").partition("=")
        if key.strip() == "PREFECT_API_URL" and value.strip().strip("'\""):
            return value.strip().strip("'\"")
    return None


def _database_is_current(prefect_home: Path) -> bool:
    """Whether PREFECT_HOME's SQLite database is at the installed Prefect's newest migration."""
    if any(os.environ.get(var) for var in _DB_URL_VARS):
        return False  # the user chose another database: let Prefect check it
    database = prefect_home / "prefect.db"
    if not database.is_file():
        return False
    head = _migration_head()
    if head is None:
        return False
    try:
        con = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)
        try:
            rows = con.execute("select version_num from alembic_version").fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return False
    return [row[0] for row in rows] == [head]


_REVISION = re.compile(r"^revision\s*=\s*['\"](\w+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)


def _migration_head() -> str | None:
    """The single newest SQLite migration shipped with the installed Prefect, without importing
    Prefect (a few ms: the migration scripts are read as text)."""
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        return None
    versions = (
        Path(next(iter(spec.submodule_search_locations)))
        / "server" / "database" / "_migrations" / "versions" / "sqlite"
    )
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        text = script.read_text()
        if match := _REVISION.search(text):
            revisions.add(match.group(1))
        if match := _DOWN_REVISION.search(text):
            parents.update(re.findall(r"\w+", match.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _refresh_if_prefect_loaded() -> None:
    """Best effort when Prefect was imported before :func:`configure_prefect` ran."""
    if "prefect.context" not in sys.modules:
        return
    from prefect.context import refresh_global_settings_context
    from prefect.logging.configuration import setup_logging

    refresh_global_settings_context()
    setup_logging(incremental=False)


# --- the temporary server, started early ----------------------------------------------------

#: The server Prefect would start (``SubprocessASGIServer._run_uvicorn_command``) and what it
#: adds to the server's environment.
_SERVER_APP = "prefect.server.api.server:create_app"
_SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
               "PREFECT__SERVER_FINAL": "1"}
_early: dict[str, Any] = {}


def start_server_early() -> bool:
    """Start the temporary Prefect server now, in a subprocess, and point Prefect at it.

    Left to itself, Prefect starts its server when a flow first calls the API: after
    ``prefect``, the flows and their imports have loaded, and after the command's process has
    itself imported the whole server application (``prefect.server.api.server``, 2-3 s of CPU,
    only to find the class that launches the subprocess). Here the same uvicorn command is
    launched at once, on a free port, and ``PREFECT_API_URL`` is set to it before Prefect is
    imported, so Prefect talks to it as to any server: its start overlaps the command's imports
    and the process never imports the server application. Call :func:`wait_for_server` before
    the first flow runs. The server is stopped at exit and, on Linux, dies with the command
    (``PR_SET_PDEATHSIG``) even when the command leaves through ``os._exit`` or a signal.

    Does nothing (returns False) when the user has an API of their own, when
    :func:`configure_prefect` has not enabled the temporary server, when ``prefect`` is already
    imported (a test harness may own the server), or with ``BILLING_EARLY_SERVER=0``.
    """
    if (_early or "prefect" in sys.modules or user_api_url() is not None
            or os.environ.get("PREFECT_SERVER_EPHEMERAL_ENABLED", "").lower() not in {"1", "true"}
            or os.environ.get("BILLING_EARLY_SERVER", "1") == "0"):
        return False
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        return False
    package = Path(next(iter(spec.submodule_search_locations)))
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(package.parent), "--factory",
         _SERVER_APP, "--host", "127.0.0.1", "--port", str(port), "--log-level", "error",
         "--lifespan", "on"],
        env={**os.environ, **_SERVER_ENV},
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    url = f"http://127.0.0.1:{port}/api"
    _early.update(process=process, url=url, ready=False)
    os.environ["PREFECT_API_URL"] = url
    atexit.register(stop_early_server)
    return True


def early_server_url() -> str | None:
    """The API URL of the server :func:`start_server_early` launched (None if it did not)."""
    return _early.get("url")


def wait_for_server(timeout: float | None = None) -> bool:
    """Block until the early server answers ``/health`` (True). If it exited or did not
    answer in time, stop it and let Prefect start its own temporary server as usual (False).
    Returns True at once when no early server was started."""
    process: subprocess.Popen | None = _early.get("process")
    if process is None or _early.get("ready"):
        return True
    import urllib.error
    import urllib.request

    limit = timeout if timeout is not None else float(
        os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") or 120)
    deadline = time.monotonic() + limit
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{_early['url']}/health", timeout=2) as response:
                if response.status == 200:
                    _early["ready"] = True
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    stop_early_server(wait=5)
    if os.environ.get("PREFECT_API_URL") == _early["url"]:
        del os.environ["PREFECT_API_URL"]
    _refresh_if_prefect_loaded()
    _early.update(process=None, url=None)
    return False


def stop_early_server(wait: float = 0.0) -> None:
    """Stop the early server: SIGTERM, then (with ``wait``) up to ``wait`` seconds for it to
    exit before SIGKILL. At exit the command does not wait: uvicorn finishes its shutdown on
    its own (~0.3 s) and SQLite serialises it with the next command's server."""
    process: subprocess.Popen | None = _early.get("process")
    if process is None or process.poll() is not None:
        return
    process.terminate()
    if wait <= 0:
        return
    try:
        process.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def warm_up_in_background(steps: Sequence[Callable[[], object]]) -> threading.Thread | None:
    """Run ``steps`` one after the other in a daemon thread (e.g. import dbt and parse the
    project while the server starts). Their errors are ignored: the real call reports them.
    Start it once the main thread has done its own imports: two threads importing the same
    packages at once can meet a circular import half-way."""
    if not steps:
        return None
    thread = threading.Thread(target=_run_steps, args=(list(steps),), name="billing-warm-up",
                              daemon=True)
    thread.start()
    return thread


def _run_steps(steps: Sequence[Callable[[], object]]) -> None:
    for step in steps:
        with contextlib.suppress(Exception):
            step()


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the server's process before exec: SIGTERM when the command's process dies."""
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def exit_now(code: int = 0) -> None:
    """Leave the process at once with ``code``, after flushing stdio and running the
    ``atexit`` handlers (Prefect's, the early server's stop, logging's flush), but without the
    interpreter's teardown of every module: with Prefect, dbt, DuckDB and WeasyPrint loaded,
    that teardown costs 0.5-1 s, and DuckDB's bindings print leak reports during it."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
