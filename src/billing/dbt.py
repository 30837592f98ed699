"""Run the dbt project in-process against a warehouse file, quietly and without re-parsing.

Why plain ``dbtRunner`` and not prefect-dbt's ``PrefectDbtRunner``: the latter creates a Prefect
task run and asset event per dbt node (a few hundred API writes to the temporary SQLite server
per build), must run inside a flow, and reloads the manifest from ``manifest.json``. Here the
flows call dbt as one task; this module keeps the parsed manifest in memory instead.

* **Parse once per process.** The first invocation parses the project (with partial parsing, in
  a per-user cache folder shared by every process, under a file lock); later invocations hand
  that manifest to ``dbtRunner(manifest=...)`` and skip parsing. The manifest is re-made when a
  project file changes (mtime/size fingerprint, ~1 ms to check).
* **Partial parsing that survives ``--vars`` and warehouse changes.** dbt starts a full parse
  when the vars or the profile (which holds the warehouse path) differ from the saved state. The
  parse therefore runs without ``--vars`` (vars are applied when models compile, at run time)
  and against one fixed warehouse path (catalog :data:`PARSE_CATALOG`). The DuckDB catalog name
  (from the warehouse file name) is baked into every node's ``database`` and ``relation_name``,
  so each warehouse gets a relabelled copy of that one manifest (:func:`relabel_catalog`, tens
  of ms) instead of a full parse (4-5 s) per new warehouse name.
* **Warm-up.** :func:`warm_up` imports dbt and parses ahead of the first invocation (the CLI
  runs it in a background thread while Prefect's server starts).
* **Compact output.** dbt's console log is off (``--log-level none``; node results and errors still
  goes to ``dbt.log`` in the log folder). A :class:`Reporter` prints one line per node (or one
  live line on a terminal) and a summary line, then every failure in full. ``quiet=True`` prints
  nothing; failures then reach the caller through :class:`DbtError` only. dbt.log keeps
  ``info`` level (node results, full errors).
* **The warehouse file is released** after each invocation (dbt-duckdb otherwise keeps it open
  for the life of the process, which blocks other processes and other connection settings).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import fcntl
import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from billing.errors import BillingError
from billing.paths import PROJECT_DIR, warehouse_home

#: Commands that run on a parsed manifest (and so can reuse ours).
_MANIFEST_COMMANDS = frozenset(
    {"build", "run", "test", "seed", "snapshot", "compile", "ls", "list", "show",
     "run-operation", "retry", "clone", "docs", "source"}
)
#: Flags whose value must match between the parse and the command (they shape the manifest).
_PARSE_SHAPING_FLAGS = ("--target", "-t", "--profile")
_STATUS_WORD = {
    "success": "ok", "pass": "ok", "error": "ERROR", "fail": "FAIL", "warn": "warn",
    "skipped": "skip", "runtime error": "ERROR", "no-op": "no-op", "partial success": "warn",
}
_FAILED = frozenset({"error", "fail", "runtime error"})
_MANIFESTS: dict[tuple[str, ...], tuple[str, Any]] = {}
_MANIFEST_LOCK = threading.Lock()


@dataclass(frozen=True)
class NodeOutcome:
    """What one dbt node (model, test, unit test, seed...) did."""

    unique_id: str
    resource_type: str
    name: str
    status: str
    message: str = ""
    failures: int | None = None
    seconds: float = 0.0
    path: str = ""

    @property
    def failed(self) -> bool:
        return self.status in _FAILED

    def headline(self) -> str:
        """One line: what failed and why."""
        what = f"{self.resource_type} {self.name}"
        if self.status == "fail" and self.failures is not None and self.resource_type == "test":
            rows = "row" if self.failures == 1 else "rows"
            return f"{what}: {self.failures} failing {rows}"
        return f"{what}: {_reason(self.message) or self.status}"


@dataclass
class DbtResult:
    success: bool
    command: list[str]
    failures: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    nodes: list[NodeOutcome] = field(default_factory=list)
    #: ``dbt ls`` output (one entry per resource).
    listed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    parse_seconds: float = 0.0
    log_path: Path | None = None


class DbtError(BillingError):
    """A dbt invocation failed. ``str()`` is one line; ``details`` has every failure in full."""

    def __init__(self, reason: str, details: str, result: DbtResult) -> None:
        super().__init__(reason)
        self.details = details
        self.result = result


def run_dbt(
    args: Sequence[str],
    warehouse: Path | str,
    *,
    vars: dict[str, str] | None = None,
    target_path: Path | str | None = None,
    raise_on_failure: bool = True,
    quiet: bool = False,
    stream: IO[str] | None = None,
    project_dir: Path | str | None = None,
) -> DbtResult:
    """Invoke dbt (e.g. ``["build", "--select", "staging"]``) on ``warehouse``.

    The warehouse path reaches profiles.yml through BILLING_WAREHOUSE. ``target_path`` keeps
    concurrent callers apart (default: ``<warehouse>_files/dbt/target``); dbt's log goes to
    ``logs`` beside it unless ``args`` has ``--log-path``. Progress and failures are written to
    ``stream`` (default stdout, as dbt's own CLI does: stderr stays for the command's one-line
    reason when it fails) unless ``quiet``. Raises :class:`DbtError` (a BillingError with a
    one-line reason) on failure unless ``raise_on_failure`` is false. ``project_dir`` (default:
    this repository) must hold both dbt_project.yml and profiles.yml.
    """
    args = list(args)
    project = Path(project_dir).resolve() if project_dir else PROJECT_DIR
    command = args[0] if args else ""
    warehouse = Path(warehouse).expanduser().resolve()
    target = Path(target_path) if target_path else warehouse_home(warehouse) / "dbt" / "target"
    log_path = Path(_flag_value(args, "--log-path") or target.parent / "logs")
    cmd = [*args]
    _add_flag(cmd, "--project-dir", str(project))
    _add_flag(cmd, "--profiles-dir", str(project))
    _add_flag(cmd, "--target-path", str(target))
    _add_flag(cmd, "--log-path", str(log_path))
    _add_flag(cmd, "--log-level", "none")  # the console: Reporter prints instead
    # dbt would apply "none" to dbt.log too: keep node results and full errors there (``debug``
    # in ``args`` adds every SQL statement).
    _add_flag(cmd, "--log-level-file", "info")
    if vars:
        cmd += ["--vars", json.dumps(vars)]

    reporter = Reporter(command, stream=stream or sys.stdout, quiet=quiet)
    started = time.perf_counter()
    manifest = None
    parse_seconds = 0.0
    if command in _MANIFEST_COMMANDS:
        manifest, parse_seconds, parse_error = _cached_manifest(project, warehouse, args)
        if manifest is None:
            result = DbtResult(False, cmd, [parse_error], log_path=log_path,
                               parse_seconds=parse_seconds,
                               seconds=time.perf_counter() - started)
            reporter.summary(result, None)
            return _finish(result, reporter, [], raise_on_failure, parse_error)

    from dbt.cli.main import dbtRunner

    os.environ["BILLING_WAREHOUSE"] = str(warehouse)
    try:
        res = dbtRunner(manifest=manifest, callbacks=[reporter.on_event]).invoke(cmd)
    finally:
        _release_duckdb()
    if command == "parse" and res.success and not vars and res.result is not None:
        _remember_manifest(project, warehouse, args, res.result)

    nodes = _outcomes(res.result)
    failures = [f"{n.unique_id}: {n.message}" for n in nodes if n.failed]
    problems = [n.headline() for n in nodes if n.failed]
    if res.exception is not None:
        failures.append(f"dbt: {res.exception}")
        problems.append(_reason(str(res.exception)))
    if reporter.unmatched:
        failures += reporter.unmatched
        problems += reporter.unmatched
    result = DbtResult(
        success=bool(res.success) and not reporter.unmatched,
        command=cmd,
        failures=failures,
        timings={n.unique_id: n.seconds for n in nodes},
        nodes=nodes,
        listed=[str(x) for x in res.result] if command in {"ls", "list"} and res.result else [],
        seconds=time.perf_counter() - started,
        parse_seconds=parse_seconds,
        log_path=log_path,
    )
    if not result.success and not problems:
        problems.append(f"dbt {command} did not succeed")
    detail = problems[0] if problems else ""
    if len(problems) > 1:
        detail += f" (and {len(problems) - 1} more)"
    reporter.summary(result, manifest if command != "parse" else res.result)
    return _finish(result, reporter, nodes, raise_on_failure, detail)


def _finish(
    result: DbtResult, reporter: Reporter, nodes: list[NodeOutcome], raise_on_failure: bool,
    detail: str,
) -> DbtResult:
    if result.success:
        return result
    details = reporter.failure_details(nodes, result.failures)
    if raise_on_failure:
        command = result.command[0] if result.command else "dbt"
        where = f"; full log in {result.log_path / 'dbt.log'}" if result.log_path else ""
        raise DbtError(f"dbt {command} failed: {detail}{where}", details, result)
    return result


def forget_manifests() -> None:
    """Drop the manifests this process parsed (the next invocation parses again)."""
    with _MANIFEST_LOCK:
        _MANIFESTS.clear()


# --- manifest cache -------------------------------------------------------------------------


#: The DuckDB catalog name the shared parse runs against. dbt bakes the catalog (dbt-duckdb
#: derives it from the warehouse file name) into every node's ``database`` and
#: ``relation_name``, and restarts a full parse when the profile changes; so the project is
#: parsed once per user against this fixed name and the manifest is re-labelled in memory for
#: each warehouse (a copy, ~50 ms, instead of a 4-5 s full parse per new warehouse name).
PARSE_CATALOG = "billing_parse"


def catalog_name(warehouse: Path | str) -> str:
    """The DuckDB catalog name of a warehouse file, as dbt-duckdb derives it from the path
    (``sales.2026.duckdb`` -> ``sales``)."""
    return Path(warehouse).name.lstrip(".").split(".")[0] or "memory"


def _cache_key(project: Path, args: Sequence[str]) -> tuple[str, ...]:
    shaping = tuple(f"{flag}={_flag_value(args, flag)}" for flag in _PARSE_SHAPING_FLAGS
                    if _flag_value(args, flag))
    return (str(project), *shaping)


def _parse_dir(key: tuple[str, ...]) -> Path:
    from billing.runtime import billing_cache_dir

    digest = hashlib.sha1("|".join(key).encode()).hexdigest()[:12]
    return billing_cache_dir() / "dbt-parse" / f"{Path(key[0]).name}-{digest}"


def _remember_manifest(project: Path, warehouse: Path, args: Sequence[str], manifest: Any) -> None:
    key = (*_cache_key(project, args), catalog_name(warehouse))
    with _MANIFEST_LOCK:
        _MANIFESTS[key] = (project_fingerprint(project), manifest)


def warm_up(warehouse: Path | str, project_dir: Path | str | None = None) -> None:
    """Import dbt and parse the project for ``warehouse`` now (e.g. in a background thread while
    Prefect's server starts), so the first :func:`run_dbt` finds the manifest ready. Errors are
    left for that invocation to report."""
    project = Path(project_dir).resolve() if project_dir else PROJECT_DIR
    with contextlib.suppress(Exception):
        _cached_manifest(project, Path(warehouse).expanduser().resolve(), [])


def _cached_manifest(
    project: Path, warehouse: Path, args: Sequence[str]
) -> tuple[Any, float, str]:
    """The manifest for this project and warehouse name: (manifest or None, seconds, error)."""
    base_key = _cache_key(project, args)
    catalog = catalog_name(warehouse)
    fingerprint = project_fingerprint(project)
    with _MANIFEST_LOCK:
        cached = _MANIFESTS.get((*base_key, catalog))
        if cached is not None and cached[0] == fingerprint:
            return cached[1], 0.0, ""
        started = time.perf_counter()
        base = _MANIFESTS.get((*base_key, PARSE_CATALOG))
        if base is None or base[0] != fingerprint:
            manifest, error = _parse(project, base_key, args)
            if manifest is None:
                return None, time.perf_counter() - started, error
            base = (fingerprint, manifest)
            _MANIFESTS[(*base_key, PARSE_CATALOG)] = base
        manifest = relabel_catalog(base[1], PARSE_CATALOG, catalog)
        _MANIFESTS[(*base_key, catalog)] = (fingerprint, manifest)
        return manifest, time.perf_counter() - started, ""


def _parse(project: Path, key: tuple[str, ...], args: Sequence[str]) -> tuple[Any, str]:
    """Parse the project (partial parsing, shared per-user state) against PARSE_CATALOG."""
    from dbt.cli.main import dbtRunner

    folder = _parse_dir(key)
    folder.mkdir(parents=True, exist_ok=True)
    shaping = [part for flag in _PARSE_SHAPING_FLAGS if (value := _flag_value(args, flag))
               for part in (flag, value)]
    cmd = ["parse", "--project-dir", str(project), "--profiles-dir", str(project),
           "--target-path", str(folder / "target"), "--log-path", str(folder / "logs"),
           "--log-level", "none", "--log-level-file", "warn",
           # manifest.json would cost ~1 s per parse; partial_parse.msgpack is still saved.
           "--no-write-json", *shaping]
    saved = os.environ.get("BILLING_WAREHOUSE")
    # A fixed path keeps dbt's profile hash, hence partial parsing, stable across warehouses.
    os.environ["BILLING_WAREHOUSE"] = str(folder / f"{PARSE_CATALOG}.duckdb")
    try:
        with _file_lock(folder / ".lock"):
            res = dbtRunner().invoke(cmd)
    finally:
        if saved is None:
            os.environ.pop("BILLING_WAREHOUSE", None)
        else:
            os.environ["BILLING_WAREHOUSE"] = saved
    if not res.success or res.result is None:
        reason = _reason(str(res.exception)) if res.exception else "see the dbt log"
        return None, f"dbt parse: {reason}"
    return res.result, ""


def relabel_catalog(manifest: Any, old: str, new: str) -> Any:
    """A manifest whose nodes and sources live in catalog ``new`` instead of ``old``: copies of
    the nodes with ``database`` and the ``"old".`` prefix of ``relation_name`` changed (the
    only fields dbt derives from the warehouse path at parse time); the rest is shared.

    Built field by field: ``copy.copy``/``deepcopy`` of a dbt 1.11 ``Manifest`` go through its
    ``__reduce_ex__``, whose arguments are out of order with its fields (a built lookup lands
    in the wrong slot: "RefableLookup.find() missing 1 required positional argument").
    """
    if old == new:
        return manifest
    old_prefix, new_prefix = f'"{old}".', f'"{new}".'

    def moved(node: Any) -> Any:
        node = copy.deepcopy(node)
        if getattr(node, "database", None) == old:
            node.database = new
        relation = getattr(node, "relation_name", None)
        if isinstance(relation, str) and relation.startswith(old_prefix):
            node.relation_name = new_prefix + relation[len(old_prefix):]
        return node

    values = {f.name: getattr(manifest, f.name) for f in dataclasses.fields(manifest) if f.init}
    values.update(
        nodes={key: moved(node) for key, node in manifest.nodes.items()},
        sources={key: moved(node) for key, node in manifest.sources.items()},
        unit_tests={key: moved(node) for key, node in manifest.unit_tests.items()},
        flat_graph={},
    )
    # Lookups are caches over the nodes: rebuilt lazily from the new ones.
    values.update({name: None for name in values if name.endswith("_lookup")})
    relabelled = type(manifest)(**values)
    for name, value in vars(manifest).items():  # anything set outside the fields
        if name not in values:
            setattr(relabelled, name, value)
    if manifest.flat_graph:
        relabelled.build_flat_graph()
    return relabelled


def project_fingerprint(project_dir: Path = PROJECT_DIR) -> str:
    """A digest of the names, sizes and mtimes of the files dbt parses."""
    import yaml

    project_file = project_dir / "dbt_project.yml"
    try:
        config = yaml.safe_load(project_file.read_text()) or {}
    except (OSError, yaml.YAMLError):
        config = {}
    folders: list[str] = []
    for key, default in (("model-paths", ["models"]), ("macro-paths", ["macros"]),
                         ("seed-paths", ["seeds"]), ("test-paths", ["tests"]),
                         ("snapshot-paths", ["snapshots"]), ("analysis-paths", ["analyses"])):
        folders += config.get(key, default) or []
    digest = hashlib.sha1()
    entries = [project_file, project_dir / "packages.yml", project_dir / "profiles.yml"]
    for folder in folders:
        root = project_dir / folder
        if root.is_dir():
            entries += [p for p in root.rglob("*") if p.suffix in {".sql", ".yml", ".yaml",
                                                                     ".py", ".csv", ".md"}]
    for path in sorted(entries):
        with contextlib.suppress(OSError):
            stat = path.stat()
            digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _release_duckdb() -> None:
    """Close dbt-duckdb's process-wide connection so the warehouse file is free again."""
    manager = sys.modules.get("dbt.adapters.duckdb.connections")
    if manager is None:
        return
    cls = manager.DuckDBConnectionManager
    with cls._LOCK:
        env, cls._ENV = cls._ENV, None
    if env is not None:
        with contextlib.suppress(Exception):
            env.close()


# --- results and output ---------------------------------------------------------------------


def _outcomes(result: Any) -> list[NodeOutcome]:
    outcomes: list[NodeOutcome] = []
    for r in getattr(result, "results", None) or []:
        node = r.node
        status = str(getattr(r.status, "value", r.status)).lower()
        outcomes.append(NodeOutcome(
            unique_id=getattr(node, "unique_id", str(node)),
            resource_type=str(getattr(node.resource_type, "value", node.resource_type)),
            name=getattr(node, "name", str(node)),
            status=status,
            message=str(r.message or ""),
            failures=r.failures,
            seconds=float(getattr(r, "execution_time", 0.0) or 0.0),
            path=str(getattr(node, "original_file_path", "") or ""),
        ))
    return outcomes


def _reason(message: str) -> str:
    """The informative part of a dbt error message, on one line."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    # "Runtime Error in model x (models/x.sql)" only repeats the node: keep what follows.
    if len(lines) > 1 and " Error in " in lines[0]:
        lines = lines[1:]
    return " ".join(lines)


class Reporter:
    """dbt's console output, replaced: one line per node, a summary, failures in full."""

    def __init__(self, command: str, *, stream: IO[str], quiet: bool) -> None:
        self.command = command
        self.stream = stream
        self.quiet = quiet
        self.live = not quiet and _isatty(stream)
        self.total = 0
        self.done = 0
        self.unmatched: list[str] = []
        self._lock = threading.Lock()
        self._live_width = 0

    def on_event(self, event: Any) -> None:
        name = event.info.name
        data = event.data
        if name == "NoNodesForSelectionCriteria":
            self.unmatched.append(
                f"dbt {self.command}: the selection {getattr(data, 'spec_raw', '')!s} "
                "matches no enabled node"
            )
        elif name in {"LogStartLine", "LogModelResult", "LogTestResult", "SkippingDetails"}:
            self.total = max(self.total, int(getattr(data, "total", 0) or 0))
        elif name == "NodeFinished" and not self.quiet:
            self._node_line(data)

    def _node_line(self, data: Any) -> None:
        info = data.node_info
        run = data.run_result
        status = str(info.node_status or getattr(run, "status", "")).lower()
        word = _STATUS_WORD.get(status, status or "?")
        seconds = float(getattr(run, "execution_time", 0.0) or 0.0)
        extra = ""
        failures = getattr(run, "num_failures", 0) or 0
        if status in {"fail", "warn"} and failures:
            extra = f", {failures} failing row{'s' if failures != 1 else ''}"
        resource = str(info.resource_type).replace("unit_test", "unit test")
        with self._lock:
            self.done += 1
            count = f"{self.done}/{self.total}" if self.total else str(self.done)
            line = f"{count:>7} {word:<5} {resource:<9} {info.node_name} ({seconds:.2f}s{extra})"
            if self.live:
                text = line[: _width(self.stream)]
                pad = max(self._live_width - len(text), 0)
                self.stream.write("\r" + text + " " * pad)
                self._live_width = len(text)
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def summary(self, result: DbtResult, manifest: Any) -> None:
        if self.quiet:
            return
        if self.live and self._live_width:
            self.stream.write("\r" + " " * self._live_width + "\r")
        counts: dict[str, int] = {}
        for node in result.nodes:
            word = _STATUS_WORD.get(node.status, node.status)
            counts[word] = counts.get(word, 0) + 1
        order = ["ok", "warn", "FAIL", "ERROR", "skip", "no-op"]
        labels = {"ok": "ok", "warn": "warned", "FAIL": "failed", "ERROR": "errored",
                  "skip": "skipped", "no-op": "no-op"}
        parts = [f"{counts[w]} {labels[w]}" for w in order if counts.get(w)]
        if self.command in {"ls", "list"}:
            parts = [f"{len(result.listed)} resources"]
        elif self.command == "parse" and manifest is not None and hasattr(manifest, "nodes"):
            parts = [_manifest_counts(manifest)]
        elif not parts:
            parts = ["nothing to do"]
        timing = f"{result.seconds:.1f}s"
        if result.parse_seconds >= 0.05:
            timing += f", parse {result.parse_seconds:.1f}s"
        state = "" if result.success else "FAILED: "
        self.stream.write(f"dbt {self.command}: {state}{', '.join(parts)} in {timing}\n")
        if not result.success:
            self.stream.write(self.failure_details(result.nodes, result.failures) + "\n")
        self.stream.flush()

    def failure_details(self, nodes: list[NodeOutcome], failures: list[str]) -> str:
        blocks: list[str] = []
        for node in nodes:
            if not node.failed:
                continue
            where = f" ({node.path})" if node.path else ""
            head = f"{_STATUS_WORD.get(node.status, node.status)} {node.resource_type} " \
                   f"{node.name}{where}"
            if node.status == "fail" and node.failures is not None:
                head += f": {node.failures} failing row{'s' if node.failures != 1 else ''}"
            body = "\n".join(f"    {line}" for line in node.message.strip().splitlines())
            blocks.append(head + ("\n" + body if body else ""))
        listed = {f"{n.unique_id}: {n.message}" for n in nodes if n.failed}
        blocks += [f for f in failures if f not in listed]
        return "\n".join(blocks)


def _manifest_counts(manifest: Any) -> str:
    counts: dict[str, int] = {}
    for node in manifest.nodes.values():
        kind = str(getattr(node.resource_type, "value", node.resource_type))
        counts[kind] = counts.get(kind, 0) + 1
    unit_tests = len(getattr(manifest, "unit_tests", {}) or {})
    if unit_tests:
        counts["unit_test"] = unit_tests
    return ", ".join(f"{n} {k.replace('_', ' ')}{'s' if n != 1 else ''}"
                     for k, n in sorted(counts.items()))


def _flag_value(args: Sequence[str], flag: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _add_flag(cmd: list[str], flag: str, value: str) -> None:
    if _flag_value(cmd, flag) is None:
        cmd += [flag, value]


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _width(stream: IO[str]) -> int:
    try:
        return max(os.get_terminal_size(stream.fileno()).columns - 1, 20)
    except (AttributeError, OSError, ValueError):
        return 119
