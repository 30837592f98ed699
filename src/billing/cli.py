"""The ``billing`` command: every command drives a Prefect flow (see flows/)."""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from billing.errors import BillingError

app = typer.Typer(
    name="billing",
    help="Billing warehouse for freelancer marketplaces: load raw files, close billing "
    "periods, render PDF invoices and deliver signed webhooks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Warehouse = Annotated[
    Path,
    typer.Option(
        "--warehouse",
        envvar="BILLING_WAREHOUSE",
        help="The DuckDB warehouse file (default data/warehouse.duckdb); load and close "
        "--raw-dir create it, the other commands need it to exist.",
        show_default=True,
    ),
]


def _default_warehouse() -> Path:
    from billing.paths import DEFAULT_WAREHOUSE

    return DEFAULT_WAREHOUSE


def _existing(warehouse: Path) -> Path:
    """A warehouse a command reads must exist: a mistyped path is an error, not an empty file."""
    if not warehouse.expanduser().is_file():
        raise BillingError(
            f"warehouse {warehouse} does not exist (create it with billing load --raw-dir DIR, "
            f"or close with --raw-dir)"
        )
    return warehouse


def _console():
    from rich.console import Console

    return Console(highlight=False)


def _prepare(warehouse: Path) -> str:
    """Set up a quiet Prefect runtime next to the warehouse; returns the warehouse path.

    Prefect's temporary server starts first, so that its start overlaps the import of the
    command's flow; while it finishes starting, dbt's parse and WeasyPrint's import run in the
    background for the commands that need them (see docs/operations.md).
    """
    import importlib

    try:  # typer vendors its own click (typer._click) since 0.2x
        from typer._click.globals import get_current_context
    except ImportError:
        from click import get_current_context

    from billing.dbt import warm_up
    from billing.lock import hold
    from billing.runtime import (
        configure_prefect,
        start_server_early,
        wait_for_server,
        warm_up_in_background,
    )

    warehouse = warehouse.expanduser().resolve()
    ctx = get_current_context(silent=True)
    # one command at a time per warehouse, taken before anything starts (billing.lock)
    hold(warehouse, ctx.info_name if ctx is not None else "command")
    configure_prefect()
    os.environ["BILLING_WAREHOUSE"] = str(warehouse)
    if not start_server_early():
        return str(warehouse)
    command = ctx.info_name if ctx is not None else ""
    params = ctx.params if ctx is not None else {}
    if command in {"load", "close", "render", "deliver", "demo"}:
        importlib.import_module(f"flows.{command}")
    steps = []
    if command in {"close", "demo"}:
        steps.append(lambda: warm_up(warehouse))
    if command in {"close", "render", "demo"} and not (params.get("draft")
                                                       or params.get("skip_pdf")):
        steps.append(lambda: importlib.import_module("billing.pdf.render"))
    warm_up_in_background(steps)
    wait_for_server()
    return str(warehouse)


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the raw tables to.")],
    entities: Annotated[int, typer.Option(help="Number of billing entities.", min=1)] = 12,
    events: Annotated[int, typer.Option(help="Number of marketplace events.", min=0)] = 20_000,
    months: Annotated[int, typer.Option(help="Whole months of events.", min=1)] = 4,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 7,
    end_period: Annotated[
        str | None, typer.Option(help="Last month of data, YYYY-MM (default: last full month).")
    ] = None,
    events_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="Events as csv (a CSV part and a JSONL part), parquet, or auto (parquet above "
            "200,000 events).",
        ),
    ] = "auto",
    warehouse: Warehouse = None,  # accepted on every command; unused here
) -> None:
    """Write a realistic raw folder of sample data that follows the contract."""
    from billing.generate import generate as make_raw_folder

    summary = make_raw_folder(
        out, entities=entities, events=events, months=months, seed=seed,
        end_period=end_period, events_format=events_format,
    )
    console = _console()
    console.print(f"Wrote sample raw folder [bold]{out}[/bold]")
    for table, count in summary.counts.items():
        console.print(f"  {table:<22} {count:>12,}")


@app.command()
def load(
    raw_dir: Annotated[Path, typer.Option("--raw-dir", help="The raw folder to load.")],
    warehouse: Warehouse = None,
) -> None:
    """Load a raw folder into the warehouse (incremental and idempotent), then parse the new
    event rows once so that the next close only rates."""
    from billing.report import print_load

    path = _prepare(warehouse or _default_warehouse())
    from flows.load import load_flow

    console = _console()
    # a spinner at a terminal (nothing otherwise): tens of millions of rows take a while
    with console.status(f"Loading {raw_dir}, then parsing the new events…"):
        summary = load_flow(path, str(raw_dir))
    print_load(console, summary, path)


@app.command()
def close(
    period: Annotated[str, typer.Option("--period", help="The billing period, YYYY-MM.")],
    raw_dir: Annotated[
        Path | None, typer.Option("--raw-dir", help="Load this raw folder first.")
    ] = None,
    draft: Annotated[
        bool, typer.Option("--draft", help="Compute and show; finalize, number and queue nothing.")
    ] = False,
    skip_pdf: Annotated[
        bool, typer.Option("--skip-pdf", help="Leave the PDFs to a later `billing render`.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Close as of this instant (default: now).")
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            "--memory-limit",
            envvar="BILLING_DUCKDB_MEMORY_LIMIT",
            help="DuckDB's memory limit for the close (e.g. 12GB; default 60% of RAM); what "
            "does not fit spills to <warehouse>.tmp.",
        ),
    ] = None,
    warehouse: Warehouse = None,
) -> None:
    """Load (when --raw-dir is given), rate, finalize, render the PDFs, queue the webhooks."""
    from billing.close import check_memory_limit, check_period
    from billing.report import print_close

    check_period(period)
    from billing.pipeline import check_as_of_not_future, parse_as_of

    check_as_of_not_future(parse_as_of(as_of), draft=draft)  # before Prefect starts
    if memory_limit:
        # profiles.yml reads it when dbt opens the warehouse
        os.environ["BILLING_DUCKDB_MEMORY_LIMIT"] = check_memory_limit(memory_limit)
    chosen = warehouse or _default_warehouse()
    path = _prepare(chosen if raw_dir else _existing(chosen))
    from flows.close import close_flow

    report = close_flow(
        path, period, str(raw_dir) if raw_dir else None, draft, skip_pdf, as_of
    )
    print_close(_console(), report, path)


@app.command()
def render(
    period: Annotated[str, typer.Option("--period", help="The billing period, YYYY-MM.")],
    warehouse: Warehouse = None,
) -> None:
    """Render the PDFs of the period's finalized invoices that have none yet.

    Also checks the period's issued PDFs against their recorded sha256: a missing file is drawn
    again and put back only if byte-identical to the one issued; a file that differs (or that
    cannot be drawn identically again) is an error naming the invoices.
    """
    from billing.close import check_period
    from billing.paths import pdf_dir

    check_period(period)
    path = _prepare(_existing(warehouse or _default_warehouse()))
    from flows.render import render_flow

    count, check = render_flow(path, period)
    console = _console()
    console.print(f"Rendered {count} PDF(s) into {pdf_dir(Path(path), period)}")
    if check.restored:
        console.print(f"Restored {len(check.restored)} missing issued PDF(s), byte-identical to "
                      f"what was issued: {', '.join(check.restored)}")
    problem = check.problem()
    if problem:
        raise BillingError(problem)


@app.command()
def deliver(
    url: Annotated[
        str | None, typer.Option(envvar="BILLING_WEBHOOK_URL", help="Receiver URL.")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            envvar="BILLING_WEBHOOK_SECRET",
            help="Signing secret, whsec_<base64> (never printed).",
            show_default=False,
        ),
    ] = None,
    retry_dead: Annotated[
        bool, typer.Option("--retry-dead", help="Send dead webhooks again.")
    ] = False,
    dry_run: Annotated[
        Path | None,
        typer.Option("--dry-run", help="Write the payloads to this folder instead of sending."),
    ] = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to keep retrying failed deliveries before returning.")
    ] = 30.0,
    concurrency: Annotated[int, typer.Option(help="Deliveries in flight at once.", min=1)] = 16,
    warehouse: Warehouse = None,
) -> None:
    """Send the pending webhooks (Standard Webhooks signatures, retries with backoff)."""
    from billing.report import print_delivery
    from billing.webhooks.settings import check_url

    if dry_run is None and (not url or not secret):
        raise BillingError(
            "deliver needs --url and --secret (or BILLING_WEBHOOK_URL and "
            "BILLING_WEBHOOK_SECRET), or --dry-run DIR"
        )
    if url:
        check_url(url)
    path = _prepare(_existing(warehouse or _default_warehouse()))
    from flows.deliver import deliver_flow

    # The URL and secret travel through the environment, never as flow parameters: Prefect
    # records flow parameters in its database.
    if url:
        os.environ["BILLING_WEBHOOK_URL"] = url
    if secret:
        os.environ["BILLING_WEBHOOK_SECRET"] = secret
    options = {
        "retry_dead": retry_dead,
        "dry_run_dir": dry_run, "wait": wait, "concurrency": concurrency,
    }
    summary = deliver_flow(path, options)
    print_delivery(_console(), summary)
    if dry_run is None and (summary.dead or summary.pending):
        # a cron job must see an outage: not everything due went out
        raise BillingError(
            f"{summary.dead + summary.pending} webhook(s) not delivered: {summary.pending} still "
            f"pending (the next billing deliver retries them), {summary.dead} dead (see "
            f"webhook_outbox; --retry-dead sends them again)"
        )


@app.command()
def explain(
    invoice: Annotated[str, typer.Option("--invoice", help="The invoice number.")],
    warehouse: Warehouse = None,
) -> None:
    """Show an invoice's lines and, for each, the events, ledger entries and seats behind it."""
    from billing.explain import explain_invoice

    explain_invoice(_console(), warehouse or _default_warehouse(), invoice)


@app.command()
def demo(
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write the sample raw folder.")
    ] = None,
    entities: Annotated[int, typer.Option(help="Number of billing entities.", min=1)] = 12,
    events: Annotated[int, typer.Option(help="Number of marketplace events.", min=1)] = 20_000,
    months: Annotated[int, typer.Option(help="Whole months of events.", min=1)] = 3,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    warehouse: Annotated[
        Path | None,
        typer.Option(
            "--warehouse",
            help="Where to build the demo warehouse (default data/demo/warehouse.duckdb; "
            "$BILLING_WAREHOUSE is ignored, so the demo never writes into a real warehouse).",
        ),
    ] = None,
) -> None:
    """Make sample data, load it, close its periods, render PDFs, queue webhooks.

    Each run builds a fresh demo warehouse (the previous demo's is replaced; a warehouse the
    demo did not make is refused).
    """
    from billing.generate import default_end_period
    from billing.paths import PROJECT_DIR
    from billing.pipeline import reset_demo_warehouse
    from billing.report import print_demo

    default = PROJECT_DIR / "data" / "demo" / "warehouse.duckdb"
    path = _prepare(warehouse or default)  # holds the warehouse's lock from here on
    reset_demo_warehouse(path, default=Path(path) == default.resolve())
    out_dir = (out or Path(path).parent / "raw").resolve()
    period = default_end_period()  # the latest full period, the one the demo data ends with
    from flows.demo import demo_flow

    generated, report = demo_flow(path, str(out_dir), entities, events, months, seed, period)
    print_demo(_console(), generated, report, path, out_dir)


def _fail(message: str, code: int = 1) -> None:
    """Print one line on stderr and leave at once: a normal interpreter shutdown after an
    error makes DuckDB's bindings print leak reports a user can do nothing about."""
    print(f"error: {message}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    from billing.runtime import exit_now

    exit_now(code)


def _usage_message(exc) -> str:
    """A command-line mistake in one line, naming options as typed and where to get help."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    param = getattr(exc, "param", None)
    if param is not None and getattr(param, "opts", None):
        message = message.replace(f"'{param.name}'", f"'{param.opts[0]}'")
        if param.opts[0] not in message:
            message = f"{param.opts[0]}: {message}"
    if ctx is not None and type(exc).__name__ != "BadParameter":
        message += f" (see '{ctx.command_path} --help')"
    return message


def main() -> None:
    """Entry point: user errors become one line on stderr and a non-zero exit."""
    try:
        result = app(standalone_mode=False)
    except BillingError as exc:
        _fail(str(exc))
    except (typer.Exit, SystemExit) as exc:
        raise exc
    except typer.Abort:
        _fail("aborted", 130)
    except Exception as exc:  # noqa: BLE001 - the one place that turns crashes into a line
        import click

        if type(exc).__name__ == "NoArgsIsHelpError":  # `billing` alone: the help was printed
            from billing.runtime import exit_now

            exit_now(0)
        # typer (0.29) raises its vendored click's exceptions, not click's own
        if isinstance(exc, click.ClickException | typer.exceptions.TyperException) and hasattr(
            exc, "format_message"
        ):
            _fail(_usage_message(exc), getattr(exc, "exit_code", 2))
        if os.environ.get("BILLING_DEBUG"):
            traceback.print_exc()
        _fail(f"{type(exc).__name__}: {exc} (set BILLING_DEBUG=1 for the traceback)")
    else:
        from billing.runtime import exit_now

        # skip the interpreter's slow shutdown (about 1 s after a close)
        exit_now(result if isinstance(result, int) else 0)
