"""Prefect flow: close a billing period (load, rate, finalize, PDFs, webhooks)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from prefect import flow, task

from billing import pipeline
from flows.load import load_task
from flows.render import render_task


@dataclass
class CloseReport:
    period: str
    close_run_id: str | None
    draft: bool
    load: Any = None
    closed: list[Any] = field(default_factory=list)
    webhooks_queued: int = 0
    pdfs_rendered: int = 0
    phases: dict[str, float] = field(default_factory=dict)


@task(name="dbt build")
def build_task(warehouse: str, period: str, as_of):
    return pipeline.build(warehouse, through_period=period, as_of=as_of)


@task(name="finalize period")
def finalize_task(warehouse: str, period: str, close_run_id: str, issued_at):
    return pipeline.finalize(warehouse, period, close_run_id=close_run_id, issued_at=issued_at)


@task(name="queue webhooks")
def queue_task(warehouse: str, as_of, close_run_id: str | None = None) -> int:
    return pipeline.queue_webhooks(warehouse, as_of=as_of, close_run_id=close_run_id)


@flow(name="billing-close", log_prints=False)
def close_flow(
    warehouse: str,
    period: str,
    raw_dir: str | None = None,
    draft: bool = False,
    skip_pdf: bool = False,
    as_of: str | None = None,
    progress: bool = True,
) -> CloseReport:
    """Close ``period``: earlier open periods are closed first, in order."""
    return run_close(warehouse, period, raw_dir, draft, skip_pdf, as_of, progress, tasks=True)


def run_close(
    warehouse: str,
    period: str,
    raw_dir: str | None = None,
    draft: bool = False,
    skip_pdf: bool = False,
    as_of: str | None = None,
    progress: bool = True,
    *,
    tasks: bool = False,
) -> CloseReport:
    """The close itself; ``tasks=False`` runs the steps as plain calls (no Prefect API)."""
    from billing.close import check_period

    def call(t, *args):
        return t(*args) if tasks else t.fn(*args)

    check_period(period)
    when = pipeline.parse_as_of(as_of)
    pipeline.check_as_of_not_future(when, draft=draft)
    timer = pipeline.Timer()
    report = CloseReport(period=period, close_run_id=None, draft=draft)
    if raw_dir:
        with timer.phase("load"):
            # no separate staging step: the build right after parses the new events itself
            # (base_marketplace_events is its first node), which saves a dbt invocation
            report.load = call(load_task, warehouse, raw_dir)
    pipeline.check_something_loaded(warehouse)
    with timer.phase("rating"):
        call(build_task, warehouse, period, when)
    if draft:
        report.phases = timer.phases
        return report
    with timer.phase("finalization"):
        pipeline.check_period_ended(warehouse, period, as_of=when)
        report.close_run_id = pipeline.start_run(warehouse, period)
    try:
        with timer.phase("finalization"):
            for p in pipeline.periods_to_close(warehouse, period):
                report.closed.append(
                    call(finalize_task, warehouse, p, report.close_run_id, when))
        with timer.phase("webhooks"):
            report.webhooks_queued = call(queue_task, warehouse, when, report.close_run_id)
        if not skip_pdf:
            with timer.phase("pdfs"):
                # every closed period with a missing PDF: a rerun after a crash finishes them
                for p in pipeline.periods_missing_pdfs(warehouse, period):
                    report.pdfs_rendered += call(render_task, warehouse, p, progress)
    except BaseException:
        # what was finalized stands; the run says it did not finish (a rerun completes it)
        with contextlib.suppress(Exception):  # the original error is the one to report
            pipeline.finish_run(warehouse, report.close_run_id, timer.phases, status="failed")
        raise
    report.phases = timer.phases
    pipeline.finish_run(warehouse, report.close_run_id, timer.phases)
    return report
