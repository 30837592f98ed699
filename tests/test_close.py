"""The period close end to end on the hand-written raw_basic folder: real DuckDB, real dbt,
real PDFs. Expected amounts are computed by hand (see the comments)."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from pypdf import PdfReader

from billing import pipeline
from billing.errors import CloseError
from billing.paths import pdf_dir, warehouse_home
from flows.close import run_close

FIXTURE = Path(__file__).parent / "fixtures" / "raw_basic"
AS_OF = "2026-11-15T00:00:00Z"


def q(warehouse: Path, sql: str, params=None):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def copy_raw(tmp: Path) -> Path:
    raw = tmp / "raw"
    shutil.copytree(FIXTURE, raw)
    return raw


def clone(closed: tuple, tmp: Path) -> tuple[Path, Path]:
    """A private copy of a closed warehouse, its PDFs and its raw folder (closes mutate all
    three). The copy's raw folder takes the place of the original's: files are tracked per
    folder, so a row deleted from the copy must count as deleted."""
    src, src_raw = closed[0], closed[1]
    dst, raw = tmp / "warehouse.duckdb", tmp / "raw"
    shutil.copy(src, dst)
    shutil.copytree(src_raw, raw)
    if warehouse_home(src).exists():
        shutil.copytree(warehouse_home(src), warehouse_home(dst))
    con = duckdb.connect(str(dst))
    con.execute(
        "update billing.issued_invoices set pdf_path = replace(pdf_path, ?, ?)",
        [str(warehouse_home(src)), str(warehouse_home(dst))],
    )
    con.execute(
        "update raw.source_files set raw_dir = ? where raw_dir = ?",
        [str(raw.resolve()), str(src_raw.resolve())],
    )
    con.close()
    return dst, raw


@pytest.fixture(scope="module")
def closed(tmp_path_factory) -> tuple[Path, Path, object]:
    """raw_basic loaded and closed through 2026-10 (which closes 2026-09 first)."""
    tmp = tmp_path_factory.mktemp("closed")
    raw = copy_raw(tmp)
    warehouse = tmp / "warehouse.duckdb"
    report = run_close(str(warehouse), "2026-10", raw_dir=str(raw), as_of=AS_OF, progress=False)
    return warehouse, raw, report


def totals(warehouse: Path) -> dict[str, tuple]:
    rows = q(
        warehouse,
        "select invoice_number, period, subtotal, tax, total from invoices "
        "where status = 'finalized' order by invoice_number",
    )
    return {r[0]: r[1:] for r in rows}


def test_close_earlier_open_periods_first_in_order(closed):
    warehouse, _, report = closed
    assert [c.period for c in report.closed] == ["2026-09", "2026-10"]
    numbers = q(
        warehouse,
        "select entity_id, period, invoice_number from invoices order by entity_id, period",
    )
    assert ("ent_us", "2026-09", "ent_us-000001") in numbers
    assert ("ent_us", "2026-10", "ent_us-000002") in numbers
    assert ("ent_fr", "2026-10", "ent_fr-000002") in numbers


def test_golden_totals(closed):
    warehouse, _, _ = closed
    t = totals(warehouse)
    # ent_us 2026-09: usage 0.10 + 105.00 + 15.00 + 37.50, seats 70.00 (5 × 30 × 14/30)
    # + 128.00 (8 × 30 × 16/30), credit package 180.00, credits applied −157.60
    # = 378.00; tax round(378.00 × 0.0875 = 33.075) = 33.08 (half away from zero).
    assert t["ent_us-000001"] == ("2026-09", Decimal("378.00"), Decimal("33.08"), Decimal("411.08"))
    # ent_us 2026-10: 0.13 (5 × 0.025 = 0.125) + 105.00 + 450.00 + 20.00 + 50.00 (max fee)
    # + 240.00 seats − 42.40 credits (the lot's remainder) = 822.73; tax 71.99.
    assert t["ent_us-000002"] == ("2026-10", Decimal("822.73"), Decimal("71.99"), Decimal("894.72"))
    # ent_fr 2026-09: volume 120 × 0.30 + 10.00 = 46.00, package 3 × 2.50, seats 135.00,
    # credits bought 95.00, credits applied −7.50 = 276.00 (no tax).
    assert t["ent_fr-000001"][1:] == (Decimal("276.00"), Decimal("0.00"), Decimal("276.00"))
    # ent_fr 2026-10: volume 1502 × 0.20 + 20.00 = 320.40, package 2.50, seats second-prorated
    # 45 × 3 × 1,675,800 s / 2,682,000 s (745 h: DST ends) = 84.352… → 84.35; = 407.25.
    assert t["ent_fr-000002"][1:] == (Decimal("407.25"), Decimal("0.00"), Decimal("407.25"))
    # ent_jp 2026-09 (JPY, 0 decimals): 2500 + 30 + 9000 package − 2530 credits = 9000.
    assert t["ent_jp-000001"][1:] == (Decimal("9000"), Decimal("0"), Decimal("9000"))


def test_invoice_lines_sum_to_invoices(closed):
    warehouse, _, _ = closed
    mismatches = q(
        warehouse,
        """
        select i.invoice_id from invoices i
        join (select invoice_id, sum(amount) s from invoice_lines group by 1) l using (invoice_id)
        where l.s <> i.subtotal or i.subtotal + i.tax <> i.total
        """,
    )
    assert mismatches == []


def test_pdfs_written_and_match_the_invoice(closed):
    warehouse, _, _ = closed
    rows = q(
        warehouse,
        "select invoice_number, pdf_path, pdf_sha256, total from invoices "
        "where status = 'finalized' order by invoice_number",
    )
    assert rows and all(r[1] for r in rows)
    import hashlib

    for number, path, sha, _total in rows:
        data = Path(path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha
        text = "".join(page.extract_text() for page in PdfReader(path).pages)
        assert number in text
    assert (pdf_dir(warehouse, "2026-10") / "manifest.json").exists()


def test_finalized_webhook_per_invoice(closed):
    warehouse, _, _ = closed
    n_invoices = q(warehouse, "select count(*) from invoices where status = 'finalized'")[0][0]
    n_hooks = q(
        warehouse,
        "select count(*) from webhook_outbox where event_type = 'invoice.finalized'",
    )[0][0]
    assert n_hooks == n_invoices
    # every webhook this close queued (finalized invoices and detected ones, e.g. the fixture's
    # failed payment) names the close run that queued it
    rows = q(warehouse, "select event_type, count(*), count(close_run_id) from webhook_outbox "
                        "group by event_type order by event_type")
    assert ("billing.payment_failed", 1, 1) in rows
    assert all(total == tagged for _, total, tagged in rows), rows


def snapshot(warehouse: Path) -> dict:
    return {
        "invoices": q(warehouse, "select * from billing.issued_invoices order by all"),
        "lines": q(warehouse, "select * from billing.issued_invoice_lines order by all"),
        "outbox": q(
            warehouse,
            "select webhook_id, dedup_key, event_type, payload from webhook_outbox order by all",
        ),
        "closes": q(warehouse, "select * from billing.period_closes order by all"),
    }


def test_close_again_changes_nothing(closed, tmp_path):
    warehouse, raw = clone(closed, tmp_path)
    before = snapshot(warehouse)
    pdfs = {p: p.read_bytes() for p in warehouse_home(warehouse).rglob("*.pdf")}
    report = run_close(str(warehouse), "2026-10", raw_dir=str(raw), as_of=AS_OF, progress=False)
    assert all(c.already_closed for c in report.closed)
    assert snapshot(warehouse) == before
    assert {p: p.read_bytes() for p in warehouse_home(warehouse).rglob("*.pdf")} == pdfs


def test_a_period_that_has_not_ended_everywhere_is_not_closed(closed, tmp_path):
    # 2026-12-01T02:00Z: November has ended in Tokyo (2026-11-30T15:00Z) and Paris (23:00Z)
    # but not in New York (2026-12-01T05:00Z): its seats and events are not all known yet.
    warehouse, raw = clone(closed, tmp_path)
    before = snapshot(warehouse)
    with pytest.raises(CloseError) as refused:
        run_close(str(warehouse), "2026-11", raw_dir=str(raw), as_of="2026-12-01T02:00:00Z",
                  progress=False)
    message = str(refused.value)
    assert "2026-11 has not ended" in message
    assert "ent_us (America/New_York)" in message and "2026-12-01T05:00:00Z" in message
    assert snapshot(warehouse) == before
    # the same close once New York's November is over (the end itself counts as ended)
    report = run_close(str(warehouse), "2026-11", raw_dir=str(raw),
                       as_of="2026-12-01T05:00:00Z", skip_pdf=True, progress=False)
    assert [c.period for c in report.closed] == ["2026-11"]


def test_a_draft_of_a_running_period_is_allowed(tmp_path):
    raw = copy_raw(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    run_close(str(warehouse), "2026-11", raw_dir=str(raw), draft=True, as_of=AS_OF,
              progress=False)
    assert q(warehouse, "select count(*) from billing.period_closes")[0][0] == 0
    assert q(warehouse, "select count(*) from invoices where period = '2026-11'")[0][0] > 0


def test_a_pdf_drawn_later_shows_the_customer_as_issued(tmp_path):
    # close --skip-pdf, then the entity is renamed and moves, then `billing render`: the PDF is
    # the invoice as issued, so it bills the name and address of the finalization
    raw = copy_raw(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    run_close(str(warehouse), "2026-09", raw_dir=str(raw), as_of=AS_OF, skip_pdf=True,
              progress=False)
    entities = raw / "entities.csv"
    entities.write_text(entities.read_text().replace("Acme US Inc.", "Acme Renamed LLC")
                        .replace("100 Main Street", "1 Elsewhere Road"))
    pipeline.load(warehouse, raw)
    assert q(warehouse, "select entity_name from staging.stg_entities "
                        "where entity_id = 'ent_us'") == [("Acme Renamed LLC",)]
    pipeline.render(warehouse, "2026-09", progress=False)
    (path,) = q(warehouse, "select pdf_path from billing.issued_invoices "
                           "where entity_id = 'ent_us' and period = '2026-09'")[0]
    text = " ".join(page.extract_text() for page in PdfReader(path).pages)
    assert "Acme US Inc." in text and "100 Main Street" in text
    assert "Renamed" not in text and "Elsewhere" not in text


def test_draft_finalizes_nothing(tmp_path):
    raw = copy_raw(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    run_close(str(warehouse), "2026-09", raw_dir=str(raw), draft=True, as_of=AS_OF)
    assert q(warehouse, "select count(*) from billing.issued_invoices")[0][0] == 0
    assert q(warehouse, "select count(*) from billing.period_closes")[0][0] == 0
    assert q(warehouse, "select count(*) from webhook_outbox")[0][0] == 0
    drafts = q(
        warehouse,
        "select invoice_number, status, total from invoices where entity_id = 'ent_us' "
        "and period = '2026-09'",
    )
    assert drafts == [(None, "draft", Decimal("411.08"))]


def test_late_event_becomes_adjustment_on_next_open_invoice(closed, tmp_path):
    warehouse, raw = clone(closed, tmp_path)
    before = snapshot(warehouse)
    # A September message arrives late: 10 × 0.02 = 0.20, paid from credits in September,
    # which leaves 0.20 less for October's draws.
    (raw / "marketplace_events" / "2026-11-late.csv").write_text(
        "event_id,entity_id,user_id,event_type,occurred_at,quantity,amount\n"
        "ev_late,ent_us,u_alice,message_sent,2026-09-25T10:00:00-04:00,10,\n"
    )
    run_close(str(warehouse), "2026-11", raw_dir=str(raw), as_of="2026-12-02T00:00:00Z",
              progress=False)
    after = snapshot(warehouse)
    # Issued invoices and lines stay exactly as issued; November's invoice is new.
    assert set(before["invoices"]) <= set(after["invoices"])
    assert set(before["lines"]) <= set(after["lines"])
    adjustments = q(
        warehouse,
        """
        select original_period, amount from invoice_lines
        where entity_id = 'ent_us' and period = '2026-11' and line_type = 'adjustment'
        order by original_period, amount
        """,
    )
    assert adjustments == [
        ("2026-09", Decimal("-0.20")),  # more credits applied in September
        ("2026-09", Decimal("0.20")),  # the late usage
        ("2026-10", Decimal("0.20")),  # fewer credits left for October
    ]
    # explain shows, under each adjustment, the restated line's evidence as computed now
    from rich.console import Console

    from billing.explain import explain_invoice

    (number,) = q(warehouse, "select invoice_number from invoices "
                             "where entity_id = 'ent_us' and period = '2026-11'")[0]
    console = Console(record=True, width=200)
    explain_invoice(console, warehouse, number)
    text = console.export_text()
    assert text.count("restates 2026-09") == 2 and "restates 2026-10" in text
    usage = text.split("Adjustment to 2026-09: Message")[1].split("Adjustment to")[0]
    assert "ev_late" in usage  # the late event behind the restated usage line
    credits = text.split("Adjustment to 2026-09: Prepaid credits")[1].split("Adjustment to")[0]
    assert "ev_late" in credits and "-$" in credits  # and its draw from the lot


def test_deleted_event_is_credited_back(closed, tmp_path):
    warehouse, raw = clone(closed, tmp_path)
    events = raw / "marketplace_events" / "2026-09.csv"
    kept = [line for line in events.read_text().splitlines() if not line.startswith("ev_0003,")]
    events.write_text("\n".join(kept) + "\n")
    # ev_0003 (alice, 700 job searches after bob's 600: 400 × 0.10 + 300 × 0.05 = 55.00, paid
    # by credits) was billed in September. Without it: tier 1 bills 600 units + flat fee =
    # 65.00 instead of 105.00 (−40.00), tier 2 disappears (−15.00), 55.00 fewer credits are
    # applied in September (+55.00) and they pay October's usage instead (−55.00).
    run_close(str(warehouse), "2026-11", raw_dir=str(raw), as_of="2026-12-02T00:00:00Z",
              progress=False)
    adjustments = q(
        warehouse,
        """
        select original_period, amount from invoice_lines
        where entity_id = 'ent_us' and period = '2026-11' and line_type = 'adjustment'
        order by original_period, amount
        """,
    )
    assert adjustments == [
        ("2026-09", Decimal("-40.00")),
        ("2026-09", Decimal("-15.00")),
        ("2026-09", Decimal("55.00")),
        ("2026-10", Decimal("-55.00")),
    ]


def test_render_restores_a_lost_pdf_byte_identical_and_reports_a_changed_one(closed, tmp_path):
    import hashlib

    warehouse, _ = clone(closed, tmp_path)
    rows = q(warehouse, "select invoice_number, pdf_path, pdf_sha256 from billing.issued_invoices "
                        "where period = '2026-10' order by invoice_number")
    assert len(rows) >= 2
    (lost_number, lost_path, lost_sha), (edited_number, edited_path, _) = rows[0], rows[1]
    Path(lost_path).unlink()
    # nothing is wrong yet with the edited one: the lost file alone is drawn again and put back
    check = pipeline.check_issued_pdfs(warehouse, "2026-10")
    assert check.restored == [lost_number] and check.problem() is None
    assert hashlib.sha256(Path(lost_path).read_bytes()).hexdigest() == lost_sha
    assert not [p for p in pdf_dir(warehouse, "2026-10").iterdir() if p.name.startswith(".")]

    Path(edited_path).write_bytes(Path(edited_path).read_bytes() + b"\n% edited\n")
    check = pipeline.check_issued_pdfs(warehouse, "2026-10")
    assert check.restored == [] and check.changed == [edited_number]
    assert edited_number in check.problem() and "restore them from a backup" in check.problem()
    assert Path(edited_path).read_bytes().endswith(b"% edited\n")  # never overwritten


def test_a_lost_pdf_that_would_not_redraw_identically_is_left_missing(closed, tmp_path):
    warehouse, _ = clone(closed, tmp_path)
    (number, path), = q(warehouse, "select invoice_number, pdf_path from billing.issued_invoices "
                                   "where period = '2026-10' order by invoice_number limit 1")
    Path(path).unlink()
    con = duckdb.connect(str(warehouse))  # as if the template had changed since the close
    con.execute("update billing.issued_invoices set pdf_sha256 = repeat('0', 64) "
                "where invoice_number = ?", [number])
    con.close()
    check = pipeline.check_issued_pdfs(warehouse, "2026-10")
    assert check.unrestorable == [number] and not Path(path).exists()
    assert "would not be drawn byte-identical" in check.problem()


def test_an_invoiced_entity_cannot_change_currency(closed, tmp_path):
    # its closed periods are re-rated at every close: yen lines would be set against amounts
    # issued in another currency. The load names the file, the row and the rule.
    from billing.errors import InputError

    warehouse, raw = clone(closed, tmp_path)
    entities = raw / "entities.csv"
    entities.write_text(
        entities.read_text().replace("Kite Works Japan,JPY", "Kite Works Japan,USD"))
    before = q(warehouse, "select count(*) from raw.source_files")
    with pytest.raises(InputError) as error:
        pipeline.load(warehouse, raw)
    assert str(error.value).startswith("entities.csv, row 3: ")
    assert 'entity "ent_jp" was invoiced in JPY (invoice ent_jp-0000' in str(error.value)
    assert "cannot change to USD" in str(error.value)
    assert q(warehouse, "select count(*) from raw.source_files") == before


def test_a_close_as_of_the_future_is_refused_before_anything_changes(tmp_path):
    # issued_at, the 30-day suspension and the webhooks' due times follow --as-of: a close as of
    # next year would finalize a month that has not ended and announce a suspension not yet due
    from datetime import UTC, datetime, timedelta

    from billing.errors import BillingError

    raw = copy_raw(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    future = (datetime.now(UTC) + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(BillingError, match=r"is in the future .*use --draft to look ahead"):
        run_close(str(warehouse), "2026-10", raw_dir=str(raw), as_of=future, progress=False)
    assert not warehouse.exists()
    # a draft may look ahead; a few minutes of clock skew are tolerated
    pipeline.check_as_of_not_future(pipeline.parse_as_of(future), draft=True)
    soon = datetime.now(UTC) + timedelta(minutes=2)
    pipeline.check_as_of_not_future(soon, draft=False)


def test_a_load_queues_the_webhooks_of_failed_payments_at_once(closed, tmp_path):
    # the permission system hears of a failed payment when it is loaded, not at the next close;
    # the next close queues it no second time
    from decimal import Decimal as D

    import pyarrow as pa
    import pyarrow.parquet as pq

    warehouse, raw = clone(closed, tmp_path)
    number = q(warehouse, "select invoice_number from billing.issued_invoices "
                          "where entity_id = 'ent_jp' order by invoice_seq desc limit 1")[0][0]
    table = pq.read_table(raw / "payments.parquet")
    late = pa.Table.from_pylist(
        [{"payment_id": "pay_late", "invoice_number": number, "amount": D("99.00"),
          "status": "failed", "attempted_at": "2026-11-10T09:00:00+09:00"}],
        schema=table.schema)
    pq.write_table(pa.concat_tables([table, late]), raw / "payments.parquet")
    before = q(warehouse, "select count(*) from webhook_outbox")[0][0]

    summary = pipeline.load(warehouse, raw)
    pipeline.stage(warehouse)
    assert pipeline.queue_payment_webhooks(warehouse) == 1
    rows = q(warehouse, "select event_type, entity_id, json_extract_string(payload, "
                        "'$.data.payment.id') from webhook_outbox order by created_at desc")
    assert rows[0] == ("billing.payment_failed", "ent_jp", "pay_late")
    assert q(warehouse, "select count(*) from webhook_outbox")[0][0] == before + 1
    assert summary.rows_by_table["payments"] == 4
    # loading again, or the close, queues nothing new for it
    assert pipeline.queue_payment_webhooks(warehouse) == 0
    run_close(str(warehouse), "2026-10", as_of=AS_OF, progress=False)
    assert q(warehouse, "select count(*) from webhook_outbox where event_type = "
                        "'billing.payment_failed' and payload like '%pay_late%'")[0][0] == 1


def test_a_late_event_that_moves_the_credits_low_crossing_earlier_sends_nothing_new(
    closed, tmp_path
):
    # ent_fr's balance (threshold 50.00, one lot of 100.00) fell under 50 when the lot expired
    # on Oct 5, and that crossing was announced. Late September exports by u_alice (limit 40)
    # and u_chloe (25, 7.50 used) now draw 40.00 + 17.50: the balance crosses on Sep 21
    # instead. It is the same crossing (the same lot armed it): no second credits_low.
    warehouse, raw = clone(closed, tmp_path)
    query = ("select count(*) from webhook_outbox where event_type = 'billing.credits_low' "
             "and entity_id = 'ent_fr'")
    assert q(warehouse, query)[0][0] == 1
    (raw / "marketplace_events" / "2026-11-late.csv").write_text(
        "event_id,entity_id,user_id,event_type,occurred_at,quantity,amount\n"
        "ev_fr_late1,ent_fr,u_alice,data_export,2026-09-20T10:00:00+02:00,2000,\n"
        "ev_fr_late2,ent_fr,u_chloe,data_export,2026-09-21T10:00:00+02:00,1000,\n"
    )
    run_close(str(warehouse), "2026-11", raw_dir=str(raw), as_of="2026-12-02T00:00:00Z",
              progress=False)
    crossing = q(warehouse, "select occurred_at, event_id, balance_after "
                            "from intermediate.int_credits_low_crossings "
                            "where entity_id = 'ent_fr'")
    assert [(r[1], r[2]) for r in crossing] == [("ev_fr_late2", Decimal("35"))]
    assert q(warehouse, query)[0][0] == 1
