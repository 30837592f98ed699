"""Prefect flow: render the PDFs of a period's finalized invoices that have none yet."""

from __future__ import annotations

from prefect import flow, task

from billing import pipeline


@task(name="render PDFs")
def render_task(warehouse: str, period: str, progress: bool) -> int:
    return len(pipeline.render(warehouse, period, progress=progress))


@flow(name="billing-render", log_prints=False)
def render_flow(warehouse: str, period: str, progress: bool = True) -> int:
    """An issued PDF is never redrawn: only invoices without a PDF are rendered."""
    return render_task(warehouse, period, progress)
