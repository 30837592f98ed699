"""Invoices, lines and restatements, built by real dbt runs on a real DuckDB warehouse.

The hand-written raw folder ``tests/fixtures/raw_basic`` is loaded with the real loader and the
invoice models are built with everything upstream (unit tests and data tests, reconciliations
included).
Totals are read back as ``Decimal`` and compared with values computed by hand from the fixture
(see the comments). The restatement test then closes 2026-09 with the real finalization
(``billing.close.finalize_period``), changes the raw folder (a late event, a deleted event),
reloads, rebuilds and checks the adjustment lines on the first open period.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from billing import warehouse as wh
from billing.close import finalize_period
from billing.dbt import run_dbt
from billing.inputs.load import load_raw_dir

FIXTURE = Path(__file__).parent / "fixtures" / "raw_basic"
VARS = {"as_of": "2026-11-15T00:00:00Z", "through_period": "2026-10"}
INVOICE_MODELS = [
    "+invoices",
    "+invoice_lines",
    "+rated_events",
    "+int_webhook_triggers",
    "+int_credit_ledger",
    "+rejected_events",
]


def _build(warehouse: Path, target: Path) -> None:
    """dbt build of the invoice models and everything upstream, with their unit and data tests."""
    run_dbt(["build", "--select", *INVOICE_MODELS], warehouse, vars=VARS, target_path=target)


def _rebuild(warehouse: Path, target: Path) -> None:
    """After new raw data: rerun the models, then the reconciliations (tests/dbt)."""
    run_dbt(["run", "--select", *INVOICE_MODELS], warehouse, vars=VARS, target_path=target)
    run_dbt(["test", "--select", "test_type:singular"], warehouse, vars=VARS, target_path=target)


def _invoice(con: duckdb.DuckDBPyConnection, invoice_id: str) -> dict[str, object]:
    cur = con.execute("select * from main.invoices where invoice_id = ?", [invoice_id])
    row = cur.fetchone()
    assert row is not None, f"no invoice {invoice_id}"
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def _lines(con: duckdb.DuckDBPyConnection, invoice_id: str) -> list[dict[str, object]]:
    cur = con.execute(
        "select * from main.invoice_lines where invoice_id = ? order by line_number", [invoice_id]
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of raw_basic (the restatement test edits it in place)."""
    target = tmp_path_factory.mktemp("raw") / "raw_basic"
    shutil.copytree(FIXTURE, target)
    return target


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, raw_dir: Path, dbt_target: Path) -> Path:
    """raw_basic loaded and the invoice models built (every test on the way must pass)."""
    path = tmp_path_factory.mktemp("invoices") / "warehouse.duckdb"
    con = wh.connect(path)
    load_raw_dir(con, raw_dir)
    con.close()
    _build(path, dbt_target)
    return path


def test_draft_invoice_totals_match_hand_computed(built: Path) -> None:
    con = duckdb.connect(str(built))  # dbt keeps its in-process connection: same config
    # ent_us 2026-09 (USD, tax 8.75%): messages 5 × 0.02 = 0.10; job search Q=1300: 1000 ×
    # 0.10 + 5.00 flat = 105.00 and 300 × 0.05 = 15.00; fee 3% of 1250 = 37.50; seats 5 × 30 ×
    # 14/30 = 70.00 and 8 × 30 × 16/30 = 128.00; credits bought 180.00; credits applied
    # −(0.06 + 65 + 55 + 37.50 + 0.04) = −157.60. Subtotal 378.00, tax 33.075 → 33.08.
    us09 = _invoice(con, "ent_us:2026-09")
    assert us09["status"] == "draft" and us09["invoice_number"] is None
    assert (us09["subtotal"], us09["credits_applied"], us09["tax"], us09["total"]) == (
        Decimal("378.00"),
        Decimal("157.60"),
        Decimal("33.08"),
        Decimal("411.08"),
    )
    assert all(isinstance(us09[k], Decimal) for k in ("subtotal", "tax", "total"))
    # ent_us 2026-10: messages 5 × 0.025 = 0.125 → 0.13; job search 105 + 450 + 20; fee
    # 59.9997 → max 50.00; 8 seats 240.00; credits applied −(0.125 + 42.275) = −42.40.
    # Subtotal 822.73, tax 71.988875 → 71.99.
    us10 = _invoice(con, "ent_us:2026-10")
    assert (us10["subtotal"], us10["tax"], us10["total"]) == (
        Decimal("822.73"),
        Decimal("71.99"),
        Decimal("894.72"),
    )
    # ent_jp 2026-09 (JPY, no tax): fee 2500 + messages 30 + credits 9000 − applied 2530.
    jp09 = _invoice(con, "ent_jp:2026-09")
    assert (jp09["subtotal"], jp09["credits_applied"], jp09["tax"], jp09["total"]) == (
        Decimal("9000"),
        Decimal("2530"),
        Decimal("0"),
        Decimal("9000"),
    )
    # ent_fr 2026-10 (EUR): 1 package 2.50; volume Q=1502 at 0.20 + 20.00 flat = 320.40;
    # 3 seats × 45 × 1,675,800 s / 2,682,000 s (745-hour October) = 84.35.
    fr10 = _invoice(con, "ent_fr:2026-10")
    assert fr10["total"] == Decimal("407.25")
    con.close()


def test_draft_lines_read_like_an_invoice(built: Path) -> None:
    con = duckdb.connect(str(built))  # dbt keeps its in-process connection: same config
    us09 = _lines(con, "ent_us:2026-09")
    assert [line["line_type"] for line in us09] == [
        "usage",
        "usage",
        "usage",
        "usage",
        "seat",
        "seat",
        "credit_purchase",
        "credits_applied",
    ]
    assert [line["line_number"] for line in us09] == list(range(1, 9))
    descriptions = [line["description"] for line in us09]
    assert "Job search — units 1–1,000 at $0.10 + $5.00 flat fee" in descriptions
    assert "Job search — units 1,001–1,300 at $0.05" in descriptions
    assert "Team (USD) — 5 seats, Sep 1–14 (14 of 30 days)" in descriptions
    assert us09[-1]["amount"] == Decimal("-157.60")
    jp09 = {line["line_type"] + line["description"]: line for line in _lines(con, "ent_jp:2026-09")}
    assert "usageMessage sent — 10 × ¥3" in jp09
    assert "credit_purchasePrepaid credits — ¥10,000 of credit, valid until Mar 10, 2027" in jp09
    fr10 = _lines(con, "ent_fr:2026-10")
    assert fr10[1]["description"] == (
        "Proposal submitted — 1,502 × €0.20 (volume tier 1,001+) + €20.00 flat fee"
    )
    con.close()


def test_close_then_restate_late_and_deleted_events(
    built: Path, raw_dir: Path, dbt_target: Path, tmp_path: Path
) -> None:
    path = tmp_path / "restate.duckdb"
    with duckdb.connect(str(built)) as source:  # flush the WAL into the file before copying
        source.execute("checkpoint")
    shutil.copy(built, path)
    con = wh.connect(path)
    finalize_period(
        con, "2026-09", close_run_id="run-09", issued_at=datetime(2026, 10, 2, tzinfo=UTC)
    )
    # the views follow the close without a dbt run: September is finalized, nothing to adjust
    jp09 = _invoice(con, "ent_jp:2026-09")
    assert (jp09["status"], jp09["invoice_number"], jp09["total"]) == (
        "finalized",
        "ent_jp-000001",
        Decimal("9000"),
    )
    assert con.execute(
        "select count(*) from main.invoice_lines where line_type = 'adjustment'"
    ).fetchone() == (0,)
    con.close()

    # A late ent_fr export on Sep 2 (60 units, before the credit purchase): 310 units are 4
    # packages now, +2.50. ev_0008 (ent_jp, 10 messages = ¥30, paid by credits) is deleted.
    events = raw_dir / "marketplace_events" / "2026-09.csv"
    rows = [r for r in events.read_text().splitlines() if not r.startswith("ev_0008,")]
    rows.append("ev_0201,ent_fr,u_alice,data_export,2026-09-02T09:00:00+02:00,60,")
    events.write_text("\n".join(rows) + "\n")
    con = wh.connect(path)
    load_raw_dir(con, raw_dir)
    con.close()
    _rebuild(path, dbt_target)

    con = wh.connect(path)
    fr10 = _lines(con, "ent_fr:2026-10")
    adjustments = [line for line in fr10 if line["line_type"] == "adjustment"]
    assert len(adjustments) == 1
    assert adjustments[0]["original_period"] == "2026-09"
    assert adjustments[0]["amount"] == Decimal("2.50")
    assert adjustments[0]["description"] == (
        "Adjustment to 2026-09: Data export — 4 packages of 100 at €2.50 (310 units) "
        "(billed €7.50, now €10.00)"
    )
    assert fr10[-1] is adjustments[0]  # adjustments come last
    assert _invoice(con, "ent_fr:2026-10")["total"] == Decimal("409.75")
    # the deleted event is credited back, and so are the credits it had drawn
    jp10 = {
        (line["line_type"], line["line_key"]): line["amount"]
        for line in _lines(con, "ent_jp:2026-10")
    }
    assert jp10[("adjustment", "adjustment|2026-09|usage|p_msg_jpy|2026-01-01|0")] == Decimal("-30")
    assert jp10[("adjustment", "adjustment|2026-09|credits_applied")] == Decimal("30")
    # what was issued never changes
    assert _invoice(con, "ent_jp:2026-09")["total"] == Decimal("9000")
    assert all(line["line_type"] != "adjustment" for line in _lines(con, "ent_us:2026-10"))

    # Closing October issues the adjustments; at once (no dbt run) nothing is left to adjust.
    finalize_period(
        con, "2026-10", close_run_id="run-10", issued_at=datetime(2026, 11, 2, tzinfo=UTC)
    )
    issued = con.execute(
        """select count(*), sum(amount) from billing.issued_invoice_lines
           where line_type = 'adjustment' and period = '2026-10'"""
    ).fetchone()
    assert issued == (3, Decimal("2.50"))
    assert con.execute("select count(*) from intermediate.int_invoice_adjustments").fetchone() == (
        0,
    )
    fr10_issued = _invoice(con, "ent_fr:2026-10")
    assert (fr10_issued["status"], fr10_issued["total"]) == ("finalized", Decimal("409.75"))
    con.close()


def test_webhook_triggers_after_close(built: Path, tmp_path: Path) -> None:
    path = tmp_path / "hooks.duckdb"
    with duckdb.connect(str(built)) as source:
        source.execute("checkpoint")
    shutil.copy(built, path)
    con = wh.connect(path)
    query = "select dedup_key from intermediate.int_webhook_triggers"
    before = {r[0] for r in con.execute(query).fetchall()}
    # no invoice issued yet: no payment can be matched and nothing can be suspended
    assert not any(k.startswith(("billing.payment_failed", "billing.suspension")) for k in before)
    finalize_period(
        con, "2026-09", close_run_id="run-09", issued_at=datetime(2026, 10, 2, tzinfo=UTC)
    )
    rows = con.execute(
        "select dedup_key, event_type, entity_id, user_id, cast(facts as varchar) "
        "from intermediate.int_webhook_triggers order by dedup_key"
    ).fetchall()
    con.close()
    hooks = {
        key: (etype, entity, user, json.loads(facts)) for key, etype, entity, user, facts in rows
    }
    # pay_0002 failed on ent_fr-000001 (the view sees the issued invoice without a dbt run)
    _, entity, user, facts = hooks["billing.payment_failed|pay_0002"]
    assert (entity, user) == ("ent_fr", None)
    assert facts["invoice_id"] == "ent_fr:2026-09" and facts["attempt"] == 1
    assert Decimal(facts["amount"]) == Decimal("210.00")
    assert facts["entity_name"] == "Acme France SAS"
    assert facts["organization_name"] == "Acme Freelance Group"
    # as of 2026-11-15, 30 days after issue: ent_jp paid nothing, ent_fr 210.00 of 276.00;
    # ent_us paid 512.40 >= 411.08 and is not suspended
    suspensions = sorted(k for k in hooks if k.startswith("billing.suspension"))
    assert suspensions == [
        "billing.suspension|ent_fr:2026-09|unpaid_30_days",
        "billing.suspension|ent_jp:2026-09|unpaid_30_days",
    ]
    fr = hooks["billing.suspension|ent_fr:2026-09|unpaid_30_days"][3]
    assert (Decimal(fr["paid"]), Decimal(fr["outstanding"])) == (Decimal("210"), Decimal("66"))
    # ev_0106 took u_kenji past his 5,000 JPY limit in October while credits remained
    _, entity, user, facts = hooks["billing.overage|ent_jp|u_kenji|2026-10"]
    assert (entity, user, facts["event_id"], facts["user_name"]) == (
        "ent_jp",
        "u_kenji",
        "ev_0106",
        "Kenji Sato",
    )
    assert Decimal(facts["credit_limit"]) == Decimal("5000")
