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

import contextlib
import importlib.util
import os
import re
import sqlite3
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

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
