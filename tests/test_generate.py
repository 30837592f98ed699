"""The raw-folder generator: contract shape, content, bad rows, determinism, Parquet at scale.

The event rows are checked by an independent reading of the contract's rules (a small Python
oracle below), not by the generator's own bookkeeping.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from billing.errors import BillingError
from billing.generate import GenerateSummary, default_end_period, generate
from billing.warehouse import RAW_TABLES

END = "2026-10"
PERIODS = ["2026-07", "2026-08", "2026-09", "2026-10"]
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}(:?\d{2})?)$"
)
MINOR = {"USD": 2, "EUR": 2, "GBP": 2, "AUD": 2, "INR": 2, "JPY": 0, "KWD": 3}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GenerateSummary]:
    base = tmp_path_factory.mktemp("generated")
    return {
        name: generate(base / name, end_period=END, seed=seed)
        for name, seed in (("a", 7), ("b", 7), ("c", 8))
    }


@pytest.fixture(scope="module")
def raw(runs: dict[str, GenerateSummary]) -> dict[str, list[dict[str, str | None]]]:
    return read_folder(runs["a"].out_dir)


def read_folder(folder: Path) -> dict[str, list[dict[str, str | None]]]:
    """Every table of a raw folder as dicts of strings (None = empty), rows in load order."""
    tables: dict[str, list[dict[str, str | None]]] = {}
    for table in RAW_TABLES:
        paths = sorted((folder / table).glob("*")) if (folder / table).is_dir() else []
        paths += [
            folder / f"{table}{s}" for s in (".csv", ".jsonl") if (folder / f"{table}{s}").exists()
        ]
        rows: list[dict[str, str | None]] = []
        for path in paths:
            rows += read_file(path, RAW_TABLES[table])
        tables[table] = rows
    return tables


def read_file(path: Path, columns: tuple[str, ...]) -> list[dict[str, str | None]]:
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return [
                {k: v if v != "" else None for k, v in r.items()} for r in csv.DictReader(handle)
            ]
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        assert not any(isinstance(v, float) for v in obj.values()), line
        rows.append({c: None if obj.get(c) is None else str(obj[c]) for c in columns})
    return rows


def all_files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


# -- the folder's shape ----------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_differs(runs: dict[str, GenerateSummary]) -> None:
    a, b, c = (all_files(runs[k].out_dir) for k in "abc")
    assert a == b
    assert a.keys() == c.keys()
    assert [name for name in a if a[name] != c[name]], "another seed wrote identical files"
    assert runs["a"].counts == runs["b"].counts


def test_every_table_with_exact_columns(runs: dict[str, GenerateSummary]) -> None:
    folder = runs["a"].out_dir
    for table, columns in RAW_TABLES.items():
        paths = list(folder.glob(f"{table}.*")) + sorted((folder / table).glob("*"))
        assert paths, f"{table} missing"
        for path in paths:
            if path.suffix == ".csv":
                header = path.read_text(encoding="utf-8").split("\n", 1)[0]
                assert header.split(",") == list(columns), path
            else:
                keys = set().union(*(json.loads(line) for line in path.read_text().splitlines()))
                assert keys <= set(columns), path
                required = {"event_id", "entity_id", "user_id", "event_type", "occurred_at"}
                assert (required if table == "marketplace_events" else set(columns)) <= keys
    events = [p.name for p in runs["a"].event_files]
    assert events == ["part-00001.csv", "part-00002.jsonl"]
    assert runs["a"].counts == {t: len(rows) for t, rows in read_folder(folder).items()}
    assert runs["a"].periods == PERIODS


def test_decimals_are_plain_decimal_strings(raw: dict[str, list[dict[str, str | None]]]) -> None:
    decimal_columns = {
        "entities": ("tax_rate", "credits_low_threshold"),
        "entity_users": ("credit_limit",),
        "plans": ("seat_price",),
        "event_prices": ("unit_price", "flat_fee", "percent", "min_fee", "max_fee"),
        "credit_purchases": ("credits", "price"),
        "marketplace_events": ("amount",),
        "payments": ("amount",),
    }
    checked = 0
    for table, columns in decimal_columns.items():
        for row in raw[table]:
            for column in columns:
                value = row[column]
                if value is None:
                    continue
                assert DECIMAL.match(value), (table, column, value)
                assert len(value.partition(".")[2]) <= 6, (table, column, value)
                checked += 1
    assert checked > 1000
    currency = {e["entity_id"]: e["currency"] for e in raw["entities"]}
    for row in raw["marketplace_events"]:
        if row["amount"] is not None and row["entity_id"] in currency:
            assert len(row["amount"].partition(".")[2]) == MINOR[currency[row["entity_id"]]], row


# -- tenancy and catalogue -------------------------------------------------------------------


def test_entities_currencies_timezones_addresses(
    raw: dict[str, list[dict[str, str | None]]],
) -> None:
    entities = raw["entities"]
    assert len(entities) == 12
    assert len({e["organization_id"] for e in entities}) >= 3
    assert {"USD", "EUR", "GBP", "JPY", "KWD"} <= {e["currency"] for e in entities}
    zones = {e["timezone"] for e in entities}
    assert {
        "America/New_York",
        "Europe/Paris",
        "Europe/London",
        "Asia/Tokyo",
        "Asia/Kuwait",
    } <= zones
    for zone in zones:
        ZoneInfo(zone)  # a real IANA zone
    assert any(e["address"] and e["address"].count("\n") >= 2 for e in entities)
    assert any(e["tax_rate"] for e in entities) and any(not e["tax_rate"] for e in entities)
    assert any(e["credits_low_threshold"] for e in entities)
    assert {e["organization_id"] for e in entities} <= {
        o["organization_id"] for o in raw["organizations"]
    }
    ids = {e["entity_id"] for e in entities}
    assert {t["entity_id"] for t in raw["teams"]} == ids


def test_users_in_several_entities_with_different_limits(
    raw: dict[str, list[dict[str, str | None]]],
) -> None:
    limits: dict[str, list[str | None]] = {}
    for m in raw["entity_users"]:
        limits.setdefault(m["user_id"], []).append(m["credit_limit"])
    multi = {u: lim for u, lim in limits.items() if len(lim) >= 2}
    assert len(multi) >= 3
    assert all(len(set(lim)) == len(lim) for lim in multi.values()), "a user's limits repeat"
    assert any(None in lim for lim in limits.values()), "no membership without a limit"
    assert any(None not in lim for lim in multi.values())
    users = {u["user_id"] for u in raw["users"]}
    assert set(limits) <= users
    teams = {(t["entity_id"], t["team_id"]) for t in raw["teams"]}
    assert all((m["entity_id"], m["team_id"]) in teams for m in raw["entity_users"] if m["team_id"])


def test_plans_and_every_pricing_model(raw: dict[str, list[dict[str, str | None]]]) -> None:
    currencies = {e["currency"] for e in raw["entities"]}
    for currency in currencies:
        prorations = {p["proration"] for p in raw["plans"] if p["currency"] == currency}
        assert prorations == {"daily", "second"}, currency
        prices = [p for p in raw["event_prices"] if p["currency"] == currency]
        assert {p["model"] for p in prices} == {
            "per_unit",
            "graduated",
            "volume",
            "package",
            "percentage",
        }
        graduated = [p for p in prices if p["model"] == "graduated"]
        assert any(p["flat_fee"] for p in graduated) and len(graduated) >= 3
        assert [p["tier_to"] for p in graduated][-1] is None and graduated[0]["tier_from"] == "0"
        assert all(p["package_size"] for p in prices if p["model"] == "package")
        pct = [p for p in prices if p["model"] == "percentage"]
        assert pct and all(p["percent"] and p["min_fee"] and p["max_fee"] for p in pct)
        assert {p["event_type"] for p in pct} == {"invoice_paid"}
    by_id: dict[str, list[dict[str, str | None]]] = {}
    for p in raw["event_prices"]:
        if p["model"] in ("per_unit", "package", "percentage"):
            by_id.setdefault(p["price_id"], []).append(p)
    repriced = [rows for rows in by_id.values() if len(rows) == 2]
    assert repriced, "no price with a second version"
    for old, new in repriced:
        assert old["valid_to"] == new["valid_from"] and new["valid_from"].endswith("-15")
        assert old["unit_price"] != new["unit_price"]
        assert new["valid_from"][:7] in PERIODS


def test_subscriptions_change_mid_month_change_plan_and_cancel(
    raw: dict[str, list[dict[str, str | None]]],
) -> None:
    changes = raw["subscription_changes"]
    tz = {e["entity_id"]: ZoneInfo(e["timezone"]) for e in raw["entities"]}
    by_entity: dict[str, list[tuple[datetime, str, int]]] = {}
    for c in changes:
        assert TIMESTAMP.match(c["effective_at"])
        when = datetime.fromisoformat(c["effective_at"]).astimezone(tz[c["entity_id"]])
        by_entity.setdefault(c["entity_id"], []).append((when, c["plan_id"], int(c["seats"])))
    assert set(by_entity) == set(tz)
    assert any(len({p for _, p, _ in rows}) >= 2 for rows in by_entity.values()), "no plan change"
    cancelled = [rows for rows in by_entity.values() if rows[-1][2] == 0]
    assert cancelled and cancelled[0][-1][0].strftime("%Y-%m") == PERIODS[-1]
    mid = [
        (a, b)
        for rows in by_entity.values()
        for a, b in zip(rows, rows[1:], strict=False)
        if b[0].day not in (1,) and b[2] not in (a[2], 0) and a[1] == b[1]
    ]
    assert mid, "no mid-month seat change"
    plans = {p["plan_id"]: p["currency"] for p in raw["plans"]}
    currency = {e["entity_id"]: e["currency"] for e in raw["entities"]}
    assert all(plans[c["plan_id"]] == currency[c["entity_id"]] for c in changes)
    # Every entity starts within the first generated month (invoice seq 1 = first month).
    assert {rows[0][0].strftime("%Y-%m") for rows in by_entity.values()} == {PERIODS[0]}


def test_credit_purchases_some_expire_inside_the_window(
    raw: dict[str, list[dict[str, str | None]]],
) -> None:
    window_end = datetime(2026, 11, 1, tzinfo=UTC)
    purchases = raw["credit_purchases"]
    assert len(purchases) >= 5
    expiries = [datetime.fromisoformat(p["expires_at"]) for p in purchases]
    bought = [datetime.fromisoformat(p["purchased_at"]) for p in purchases]
    assert all(b < e for b, e in zip(bought, expiries, strict=True))
    assert any(e < window_end for e in expiries) and any(e > window_end for e in expiries)
    assert all(Decimal(p["price"]) <= Decimal(p["credits"]) for p in purchases)


def test_payments_name_invoices_of_closed_months_with_failures(
    raw: dict[str, list[dict[str, str | None]]],
) -> None:
    payments = raw["payments"]
    entities = {e["entity_id"] for e in raw["entities"]}
    seqs = set()
    for p in payments:
        entity, _, seq = p["invoice_number"].rpartition("-")
        assert entity in entities and re.fullmatch(r"\d{6}", seq)
        seqs.add(int(seq))
        assert p["status"] in ("succeeded", "failed")
        assert TIMESTAMP.match(p["attempted_at"])
    assert seqs == {1, 2, 3}  # the fourth (last) month is not due yet
    status = Counter(p["status"] for p in payments)
    assert status["failed"] >= 3 and status["succeeded"] > status["failed"]
    failures = Counter(p["invoice_number"] for p in payments if p["status"] == "failed")
    assert max(failures.values()) >= 3, "no invoice with three failed payments"


# -- events ----------------------------------------------------------------------------------


def _parse_instant(text: str | None) -> datetime | None:
    if text is None or not TIMESTAMP.match(text.strip()):
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def classify(
    raw: dict[str, list[dict[str, str | None]]],
) -> tuple[Counter[str], int, int, Counter[str]]:
    """The contract's event rules, read independently: (reasons, replays, conflicts, periods)."""
    entities = {e["entity_id"]: e for e in raw["entities"]}
    users = {u["user_id"] for u in raw["users"]}
    members = {(m["entity_id"], m["user_id"]) for m in raw["entity_users"]}
    prices: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    for p in raw["event_prices"]:
        prices.setdefault((p["event_type"], p["currency"]), []).append(
            (p["valid_from"], p["valid_to"])
        )
    percentage = {p["event_type"] for p in raw["event_prices"] if p["model"] == "percentage"}
    seen: dict[str, tuple] = {}
    reasons: Counter[str] = Counter()
    periods: Counter[str] = Counter()
    replays = conflicts = 0
    for ev in raw["marketplace_events"]:
        instant = _parse_instant(ev["occurred_at"])
        q = ev.get("quantity")
        quantity = 1 if q is None else (int(q) if re.fullmatch(r"-?\d+", q) else q)
        amount = Decimal(ev["amount"]) if ev.get("amount") else None
        content = (ev["entity_id"], ev["user_id"], ev["event_type"], instant, quantity, amount)
        if ev["event_id"] in seen:
            if seen[ev["event_id"]] == content:
                replays += 1
            else:
                conflicts += 1
            continue
        seen[ev["event_id"]] = content
        entity = entities.get(ev["entity_id"])
        local = instant.astimezone(ZoneInfo(entity["timezone"])) if entity and instant else None
        day = local.strftime("%Y-%m-%d") if local else ""
        if instant is None:
            reasons["invalid_timestamp"] += 1
        elif not isinstance(quantity, int) or quantity <= 0:
            reasons["invalid_quantity"] += 1
        elif ev["event_type"] in percentage and amount is None:
            reasons["invalid_amount"] += 1
        elif entity is None:
            reasons["unknown_entity"] += 1
        elif ev["user_id"] not in users:
            reasons["unknown_user"] += 1
        elif (ev["entity_id"], ev["user_id"]) not in members:
            reasons["user_not_in_entity"] += 1
        elif not any(
            f <= day and (t is None or day < t)
            for f, t in prices.get((ev["event_type"], entity["currency"]), [])
        ):
            reasons["no_price"] += 1
        else:
            assert (amount is not None) == (ev["event_type"] in percentage), ev
            periods[local.strftime("%Y-%m")] += 1
    return reasons, replays, conflicts, periods


def test_events_bad_rows_replays_and_conflicts(
    runs: dict[str, GenerateSummary], raw: dict[str, list[dict[str, str | None]]]
) -> None:
    summary = runs["a"]
    reasons, replays, conflicts, periods = classify(raw)
    expected = {
        "invalid_timestamp",
        "invalid_quantity",
        "invalid_amount",
        "unknown_entity",
        "unknown_user",
        "user_not_in_entity",
        "no_price",
    }
    assert set(reasons) == expected
    assert dict(reasons) == summary.bad_rows
    assert 0.0005 < sum(reasons.values()) / 20_000 < 0.003
    assert replays == summary.replays and 10 <= replays <= 40
    assert conflicts == summary.conflicting_duplicates == 2
    # Every good event falls in a generated month, in its entity's local time.
    assert set(periods) == set(PERIODS)
    assert sum(periods.values()) == summary.billable_events == 20_000 - sum(reasons.values())


def test_events_look_like_a_marketplace(raw: dict[str, list[dict[str, str | None]]]) -> None:
    events = raw["marketplace_events"]
    types = Counter(e["event_type"] for e in events)
    assert {
        "project_posted",
        "proposal_sent",
        "contract_started",
        "invoice_paid",
        "profile_boost",
        "message_sent",
    } <= set(types)
    stamps = [e["occurred_at"] for e in events]
    assert sum(s.endswith("Z") for s in stamps) > 1000
    assert sum(bool(re.search(r"[+-]\d\d:\d\d$", s)) for s in stamps) > 1000
    assert any(s.endswith("+05:30") for s in stamps)  # a half-hour offset (Asia/Kolkata)
    quantities = Counter(e["quantity"] for e in events)
    assert quantities[None] > 1000 and quantities["1"] > 1000 and len(quantities) > 5
    per_entity = sorted(Counter(e["entity_id"] for e in events).values(), reverse=True)
    assert per_entity[0] > 5 * per_entity[len(per_entity) // 2], "no large entity"
    # Multi-entity users have events in more than one entity.
    entities_of: dict[str, set[str]] = {}
    for e in events:
        entities_of.setdefault(e["user_id"], set()).add(e["entity_id"])
    assert any(len(v) >= 2 for v in entities_of.values())


# -- Parquet at scale --------------------------------------------------------------------------


def test_parquet_in_chunks_is_readable_by_duckdb(tmp_path: Path) -> None:
    done: list[int] = []
    summary = generate(
        tmp_path / "big",
        events=300_000,
        end_period=END,
        chunk_rows=50_000,
        progress=lambda d, total: done.append(d),
    )
    assert summary.events_format == "parquet"  # auto, above 200k events
    assert [p.name for p in summary.event_files] == [f"part-{i:05d}.parquet" for i in range(1, 7)]
    assert done == [50_000 * i for i in range(1, 7)]
    glob = str(tmp_path / "big" / "marketplace_events" / "*.parquet")
    con = duckdb.connect()
    rows, ids = con.execute(
        f"select count(*), count(distinct event_id) from read_parquet('{glob}')"
    ).fetchone()
    assert rows == summary.counts["marketplace_events"] == 300_000 + summary.replays + 2
    assert ids == 300_000
    types = {r[1] for r in con.execute(f"describe select * from read_parquet('{glob}')").fetchall()}
    assert types == {"VARCHAR"}
    columns = [
        r[0] for r in con.execute(f"describe select * from read_parquet('{glob}')").fetchall()
    ]
    assert columns == list(RAW_TABLES["marketplace_events"])
    bad_amounts = con.execute(
        f"select count(*) from read_parquet('{glob}') "
        "where amount is not null and not regexp_full_match(amount, '\\d+(\\.\\d+)?')"
    ).fetchone()[0]
    assert bad_amounts == 0
    assert 150 < summary.bad_rows_total < 600 and 200 < summary.replays < 400
    assert {(tmp_path / "big" / f"{t}.csv").exists() for t in ("entities", "plans")} == {True}


def test_chunk_size_does_not_change_the_events(tmp_path: Path) -> None:
    def first_copies(chunk_rows: int) -> list[tuple]:
        out = tmp_path / str(chunk_rows)
        generate(out, events=3_000, end_period=END, events_format="parquet", chunk_rows=chunk_rows)
        glob = out / "marketplace_events" / "*.parquet"
        rows = (
            duckdb.connect()
            .execute(
                f"select * from read_parquet('{glob}', filename = true, file_row_number = true)"
                " order by filename, file_row_number"
            )
            .fetchall()
        )
        first: dict[str, tuple] = {}
        for row in rows:
            first.setdefault(row[0], row[:7])
        return sorted(first.values())

    assert first_copies(1_000) == first_copies(3_000)


def test_regenerating_replaces_earlier_files(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    generate(out, entities=4, events=3_000, end_period=END, events_format="parquet", chunk_rows=500)
    (out / "notes.txt").write_text("mine")
    summary = generate(out, entities=4, events=500, end_period=END)
    assert sorted(p.name for p in (out / "marketplace_events").iterdir()) == [
        "part-00001.csv",
        "part-00002.jsonl",
    ]
    assert (out / "notes.txt").read_text() == "mine"
    assert summary.counts["entities"] == 4
    currencies = {r["currency"] for r in read_folder(out)["entities"]}
    assert currencies == {"USD", "EUR", "GBP", "JPY"}


# -- options -----------------------------------------------------------------------------------


def test_default_end_period_is_the_last_full_month() -> None:
    assert default_end_period(datetime(2026, 11, 24, 9, tzinfo=UTC)) == "2026-10"
    assert (
        default_end_period(datetime(2026, 11, 1, 6, tzinfo=UTC)) == "2026-09"
    )  # not over in UTC-12
    assert default_end_period(datetime(2027, 1, 15, tzinfo=UTC)) == "2026-12"
    assert default_end_period(datetime(2027, 1, 1, 3, tzinfo=UTC)) == "2026-11"


def test_one_month_and_tiny_runs(tmp_path: Path) -> None:
    summary = generate(tmp_path / "tiny", entities=1, events=0, months=1, end_period="2027-03")
    assert summary.periods == ["2027-03"]
    assert summary.counts["marketplace_events"] == 0 and summary.counts["payments"] == 0
    header = (tmp_path / "tiny" / "marketplace_events" / "part-00001.csv").read_text()
    assert header == ",".join(RAW_TABLES["marketplace_events"]) + "\n"


@pytest.mark.parametrize(
    "options",
    [
        {"entities": 0},
        {"events": -1},
        {"months": 0},
        {"end_period": "2026-13"},
        {"end_period": "oct"},
        {"events_format": "xml"},
    ],
)
def test_bad_options_are_billing_errors(tmp_path: Path, options: dict) -> None:
    with pytest.raises(BillingError):
        generate(tmp_path / "x", **({"end_period": END} | options))
    assert not (tmp_path / "x").exists()
