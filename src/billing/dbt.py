"""Run the dbt project in-process against a warehouse file."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from billing.errors import BillingError
from billing.paths import PROJECT_DIR


@dataclass
class DbtResult:
    success: bool
    command: list[str]
    failures: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def run_dbt(
    args: Sequence[str],
    warehouse: Path | str,
    *,
    vars: dict[str, str] | None = None,
    target_path: Path | str | None = None,
    raise_on_failure: bool = True,
) -> DbtResult:
    """Invoke dbt (e.g. ``["build"]``) on ``warehouse`` and return what failed.

    The warehouse path reaches profiles.yml through BILLING_WAREHOUSE. ``target_path`` lets
    concurrent callers (tests) keep separate manifests; by default dbt uses ./target.
    """
    from dbt.cli.main import dbtRunner

    os.environ["BILLING_WAREHOUSE"] = str(Path(warehouse).resolve())
    cmd = [*args, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR)]
    if target_path is not None:
        cmd += ["--target-path", str(target_path)]
    if vars:
        cmd += ["--vars", json.dumps(vars)]
    res = dbtRunner().invoke(cmd)
    failures: list[str] = []
    timings: dict[str, float] = {}
    if res.result is not None and hasattr(res.result, "results"):
        for r in res.result.results:
            name = getattr(r.node, "unique_id", str(r.node))
            timings[name] = float(getattr(r, "execution_time", 0.0) or 0.0)
            status = str(getattr(r, "status", "")).lower()
            if status in {"error", "fail", "runtime error"}:
                failures.append(f"{name}: {r.message}")
    if res.exception is not None:
        failures.append(f"dbt: {res.exception}")
    result = DbtResult(success=bool(res.success), command=cmd, failures=failures, timings=timings)
    if raise_on_failure and not result.success:
        detail = "; ".join(failures) or "see dbt output"
        raise BillingError(f"dbt {' '.join(args)} failed: {detail}")
    return result
