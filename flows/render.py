"""Prefect flow: render the PDFs of a period's finalized invoices that have none yet."""

from __future__ import annotations

from prefect import flow, task

from billing import pipeline


@task(name="render PDFs")
def render_task(warehouse: str, period: str, progress: bool) -> int:
    return len(pipeline.render(warehouse, period, progress=progress))


@task(name="check issued PDFs")
def check_task(warehouse: str, period: str):  # a billing.pdf.issued.PdfCheck
    return pipeline.check_issued_pdfs(warehouse, period)


@flow(name="billing-render", log_prints=False)
def render_flow(
    warehouse: str, period: str, progress: bool = True
) -> tuple:  # (PDFs rendered, billing.pdf.issued.PdfCheck)
    """An issued PDF is never redrawn differently: invoices without a PDF are rendered; an
    issued PDF whose file is gone is drawn again and put back only if byte-identical; a file
    that differs from what was issued is reported."""
    return render_task(warehouse, period, progress), check_task(warehouse, period)
