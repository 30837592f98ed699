"""What the commands print: short summaries a finance user can read at a glance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from billing.money import format_money
from billing.paths import pdf_dir


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def print_load(console: Console, summary: Any, warehouse: str) -> None:
    console.print(f"Loaded into [bold]{warehouse}[/bold]")
    for label, name in (
        ("new files", "files_new"),
        ("changed files", "files_changed"),
        ("unchanged files", "files_unchanged"),
        ("removed files", "files_removed"),
    ):
        value = _get(summary, name)
        if value is not None:
            console.print(f"  {label:<18} {value:>10,}")
    rows = _get(summary, "rows_by_table", None) or {}
    for table, count in rows.items():
        if count:
            console.print(f"  rows {table:<22} {count:>12,}")
    queued = _get(summary, "webhooks_queued", 0) or 0
    if queued:
        console.print(f"  webhooks queued {queued:>21,}  (failed payments; send them with "
                      "`billing deliver`)")


def _warehouse_figures(warehouse: str, periods: list[str]) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(warehouse, read_only=True)
    try:
        placeholders = ",".join("?" for _ in periods) or "''"
        invoices = con.execute(
            f"""
            select period, currency, count(*), sum(total)
            from main.invoices where period in ({placeholders}) and status = 'finalized'
            group by all order by all
            """,
            periods,
        ).fetchall()
        events = con.execute(
            "select count(*) from staging.stg_marketplace_events"
        ).fetchone()[0]
        rejected = con.execute("select count(*) from main.rejected_events").fetchone()[0]
        entities = con.execute("select count(*) from staging.stg_entities").fetchone()[0]
        outbox = con.execute(
            "select status, count(*) from main.webhook_outbox group by all order by all"
        ).fetchall()
    finally:
        con.close()
    return {
        "invoices": invoices,
        "events": events,
        "rejected": rejected,
        "entities": entities,
        "outbox": outbox,
    }


def _count(n: int, noun: str) -> str:
    """``1 invoice``, ``2 invoices``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def print_close(console: Console, report: Any, warehouse: str) -> None:
    closed = [c for c in report.closed if not c.already_closed]
    again = [c.period for c in report.closed if c.already_closed]
    if report.draft:
        _print_drafts(console, warehouse, report.period)
    else:
        if closed:
            console.print(
                "Closed " + ", ".join(
                    f"[bold]{c.period}[/bold] ({_count(len(c.invoice_ids), 'invoice')})"
                    for c in closed)
            )
            console.print(f"  close run {report.close_run_id}")
        if again:
            console.print(f"{', '.join(again)} already closed: nothing changed.")
        if not report.closed:
            console.print(f"{report.period} is already closed: nothing changed.")
        periods = sorted({c.period for c in report.closed} or {report.period})
        figures = _warehouse_figures(warehouse, periods)
        _print_totals(console, figures)
        finalized = sum(len(c.invoice_ids) for c in closed)
        console.print(f"  webhooks queued     {finalized + report.webhooks_queued:>10,}"
                      f"  ({finalized} invoice.finalized, {report.webhooks_queued} detected)")
        console.print(f"  PDFs rendered       {report.pdfs_rendered:>10,}")
        for period in periods:
            console.print(f"  PDFs ({period})      {pdf_dir(Path(warehouse), period)}",
                          soft_wrap=True)
    _print_phases(console, report.phases)


def _print_totals(console: Console, figures: dict[str, Any]) -> None:
    table = Table(title=None, show_edge=False, pad_edge=False)
    table.add_column("period")
    table.add_column("currency")
    table.add_column("invoices", justify="right")
    table.add_column("total billed", justify="right")
    for period, currency, count, total in figures["invoices"]:
        table.add_row(period, currency, f"{count:,}", format_money(total, currency))
    if figures["invoices"]:
        console.print(table)


def _print_drafts(console: Console, warehouse: str, period: str) -> None:
    import duckdb

    con = duckdb.connect(warehouse, read_only=True)
    try:
        rows = con.execute(
            """
            select entity_id, currency, line_count, subtotal, tax, total
            from main.invoices where period = ? and status = 'draft' order by entity_id
            """,
            [period],
        ).fetchall()
    finally:
        con.close()
    table = Table(title=f"Draft invoices for {period} (nothing finalized)", show_edge=False)
    for col in ("entity", "currency", "lines", "subtotal", "tax", "total"):
        table.add_column(col, justify="left" if col in ("entity", "currency") else "right")
    for entity, currency, lines, subtotal, tax, total in rows:
        table.add_row(
            entity, currency, str(lines), format_money(subtotal, currency),
            format_money(tax, currency), format_money(total, currency),
        )
    console.print(table)


def _print_phases(console: Console, phases: dict[str, float]) -> None:
    if phases:
        parts = "  ".join(f"{name} {seconds:.1f}s" for name, seconds in phases.items())
        console.print(f"Time per phase: {parts}", soft_wrap=True)


def print_delivery(console: Console, summary: Any) -> None:
    if _get(summary, "written"):  # a dry run sends nothing: only what was written counts
        console.print(f"Webhooks: written {_get(summary, 'written')} (dry run: nothing sent)")
        return
    fields = ("delivered", "retrying", "dead", "written")
    parts = [f"{name} {_get(summary, name)}" for name in fields if _get(summary, name) is not None]
    console.print("Webhooks: " + ", ".join(parts))


def print_demo(
    console: Console, generated: Any, report: Any, warehouse: str, raw_dir: Path
) -> None:
    periods = sorted({c.period for c in report.closed})
    if not periods:  # a second demo on the same warehouse: its periods were closed before
        periods = sorted(getattr(generated, "periods", []) or [report.period])
    figures = _warehouse_figures(warehouse, periods)
    console.rule("billing demo")
    console.print(f"Sample raw folder   {raw_dir}", soft_wrap=True)  # paths: never wrapped
    console.print(f"Warehouse           {warehouse}", soft_wrap=True)
    console.print(f"Entities            {figures['entities']:>10,}")
    console.print(f"Event rows loaded   {figures['events']:>10,}")
    console.print(f"Events rejected     {figures['rejected']:>10,}  (see table rejected_events)")
    console.print(f"Periods closed      {', '.join(periods)}")
    _print_totals(console, figures)
    for period in periods:
        console.print(f"PDFs ({period})      {pdf_dir(Path(warehouse), period)}", soft_wrap=True)
    outbox = ", ".join(f"{n} {s}" for s, n in figures["outbox"]) or "none"
    console.print(f"Webhook outbox      {outbox}  (send them with `billing deliver`)")
    _print_phases(console, report.phases)
    console.print("Next:")
    # commands to copy: never wrapped, whatever the terminal's width
    console.print(f"  billing explain --warehouse {warehouse} --invoice <number>", soft_wrap=True)
    console.print(
        f"  python -c \"import duckdb; duckdb.connect('{warehouse}', read_only=True)"
        ".sql('select * from invoices').show()\"",
        soft_wrap=True,
    )
