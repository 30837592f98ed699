"""Bad raw folders stop the load with (file, row, rule) and leave the warehouse as it was.

Each case breaks a copy of raw_basic that was already loaded once, so a failed reload must also
undo its retractions and new versions. The raw folder is edited in place and restored after each
test; each test gets its own copy of the loaded warehouse file.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from billing import warehouse as wh
from billing.errors import InputError
from billing.inputs import load_raw_dir

FIXTURE = Path(__file__).parent / "fixtures" / "raw_basic"

Mutation = Callable[[Path], None]


# --- editing CSV files ---------------------------------------------------------------------


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def set_cell(name: str, row: int, column: str, value: str) -> Mutation:
    """Set data row ``row`` (1-based) of ``name``'s ``column`` to ``value``."""
    def mutate(raw: Path) -> None:
        header, rows = _read(raw / name)
        rows[row - 1][header.index(column)] = value
        _write(raw / name, header, rows)
    return mutate


def drop_column(name: str, column: str) -> Mutation:
    def mutate(raw: Path) -> None:
        header, rows = _read(raw / name)
        i = header.index(column)
        _write(raw / name, header[:i] + header[i + 1:], [r[:i] + r[i + 1:] for r in rows])
    return mutate


def append_row(name: str, values: list[str]) -> Mutation:
    def mutate(raw: Path) -> None:
        header, rows = _read(raw / name)
        _write(raw / name, header, [*rows, values])
    return mutate


def write_text(name: str, text: str) -> Mutation:
    def mutate(raw: Path) -> None:
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / name).write_text(text, encoding="utf-8")
    return mutate


def delete(name: str) -> Mutation:
    def mutate(raw: Path) -> None:
        (raw / name).unlink()
    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(raw: Path) -> None:
        for m in mutations:
            m(raw)
    return mutate


def csv_to_jsonl(name: str, edit: Callable[[list[dict[str, str]]], None]) -> Mutation:
    """Replace ``name``.csv by ``name``.jsonl holding the same rows after ``edit``."""
    def mutate(raw: Path) -> None:
        with (raw / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        edit(rows)
        (raw / f"{name}.csv").unlink()
        (raw / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return mutate


def csv_to_parquet(name: str, edit: Callable[[list[dict[str, str]]], None]) -> Mutation:
    def mutate(raw: Path) -> None:
        with (raw / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        edit(rows)
        (raw / f"{name}.csv").unlink()
        pq.write_table(pa.Table.from_pylist(rows), raw / f"{name}.parquet")
    return mutate


def _set(row: int, column: str, value: str) -> Callable[[list[dict[str, str]]], None]:
    def edit(rows: list[dict[str, str]]) -> None:
        rows[row - 1][column] = value
    return edit


# --- the cases -----------------------------------------------------------------------------

CASES: dict[str, tuple[Mutation, tuple[str, int | None, str]]] = {
    "missing_required_column": (
        drop_column("entities.csv", "timezone"),
        ("entities.csv", None, "required column 'timezone' is missing"),
    ),
    "bad_currency": (
        set_cell("entities.csv", 2, "currency", "EURO"),
        ("entities.csv", 2, 'currency "EURO" is not an ISO 4217 currency code'),
    ),
    "bad_timezone": (
        set_cell("entities.csv", 3, "timezone", "Asia/Tokio"),
        ("entities.csv", 3, 'timezone "Asia/Tokio" is not an IANA time zone (e.g. Europe/Paris)'),
    ),
    "bad_country": (
        set_cell("entities.csv", 1, "country", "usa"),
        ("entities.csv", 1,
         'country "usa" is not an ISO 3166-1 alpha-2 country code (two capital letters, e.g. FR, '
         "US, GB)"),
    ),
    "country_not_assigned": (
        set_cell("entities.csv", 1, "country", "UK"),  # the United Kingdom is GB
        ("entities.csv", 1,
         'country "UK" is not an ISO 3166-1 alpha-2 country code (two capital letters, e.g. FR, '
         "US, GB)"),
    ),
    "timestamp_without_offset": (
        set_cell("subscription_changes.csv", 2, "effective_at", "2026-09-15T12:00:00"),
        ("subscription_changes.csv", 2,
         'effective_at "2026-09-15T12:00:00" has no UTC offset (write e.g. +02:00 or Z)'),
    ),
    "impossible_utc_offset": (
        set_cell("subscription_changes.csv", 2, "effective_at", "2026-09-15T12:00:00+25:00"),
        ("subscription_changes.csv", 2,
         'effective_at "2026-09-15T12:00:00+25:00" has an impossible UTC offset '
         "(from -18:00 to +18:00)"),
    ),
    "non_integer_seats": (
        set_cell("subscription_changes.csv", 3, "seats", "2.5"),
        ("subscription_changes.csv", 3, 'seats "2.5" is not an integer'),
    ),
    "negative_seats": (
        set_cell("subscription_changes.csv", 4, "seats", "-1"),
        ("subscription_changes.csv", 4, 'seats "-1" must be an integer >= 0'),
    ),
    "unknown_organization": (
        set_cell("entities.csv", 3, "organization_id", "org_nope"),
        ("entities.csv", 3, 'organization_id "org_nope" is not in organizations'),
    ),
    "duplicate_primary_key": (
        append_row("users.csv", ["u_bob", "Robert Stone", "robert@acme.example"]),
        ("users.csv", 5, "duplicate key (user_id u_bob): already at users.csv row 2"),
    ),
    "duplicate_key_across_files_of_one_load": (
        both(write_text("organizations/a.csv", "organization_id,name\norg_new,New\n"),
             write_text("organizations/b.csv", "organization_id,name\norg_x,X\norg_new,Again\n")),
        ("organizations/b.csv", 2,
         "duplicate key (organization_id org_new): already at organizations/a.csv row 1"),
    ),
    "bad_decimal": (
        set_cell("plans.csv", 1, "seat_price", "30,00"),
        ("plans.csv", 1, 'seat_price "30,00" is not a decimal number'),
    ),
    "too_many_decimal_places": (
        set_cell("entities.csv", 1, "tax_rate", "0.0875000000001"),
        ("entities.csv", 1, 'tax_rate "0.0875000000001" has more than 12 decimal places'),
    ),
    "money_too_large_to_sum": (
        set_cell("credit_purchases.csv", 1, "credits", "60000000000000000000000000"),
        ("credit_purchases.csv", 1,
         'credits "60000000000000000000000000" is too large (at most 15 digits before the '
         'decimal point)'),
    ),
    "tax_rate_as_percent": (
        set_cell("entities.csv", 1, "tax_rate", "8.75"),
        ("entities.csv", 1,
         'tax_rate "8.75" must be a fraction from 0 to below 1 (0.2 means 20 %)'),
    ),
    "non_positive_credits": (
        set_cell("credit_purchases.csv", 1, "credits", "-5"),
        ("credit_purchases.csv", 1, 'credits "-5" must be greater than 0'),
    ),
    "required_cell_empty": (
        set_cell("users.csv", 3, "email", ""),
        ("users.csv", 3, "required column email is empty"),
    ),
    "bad_proration": (
        set_cell("plans.csv", 2, "proration", "hourly"),
        ("plans.csv", 2, 'proration "hourly" must be daily or second'),
    ),
    "bad_model": (
        set_cell("event_prices.csv", 1, "model", "flat"),
        ("event_prices.csv", 1,
         'model "flat" must be one of per_unit, graduated, volume, package, percentage'),
    ),
    "bad_date": (
        set_cell("event_prices.csv", 3, "valid_from", "2026/01/01"),
        ("event_prices.csv", 3, 'valid_from "2026/01/01" is not a date YYYY-MM-DD'),
    ),
    "plan_currency_differs_from_entity": (
        set_cell("plans.csv", 2, "currency", "USD"),
        ("subscription_changes.csv", 3,
         'plan "plan_pro_eur" is priced in USD but entity "ent_fr" bills in EUR'),
    ),
    "overlapping_price_windows": (
        set_cell("event_prices.csv", 1, "valid_to", "2026-10-02"),
        ("event_prices.csv", 2,
         'price_id "p_msg_usd_v2" valid from 2026-10-01 overlaps price_id "p_msg_usd_v1" '
         'valid from 2026-01-01 for event_type "message_sent" in USD'),
    ),
    "tier_gap": (
        set_cell("event_prices.csv", 5, "tier_from", "1001"),
        ("event_prices.csv", 5,
         'tier_from 1001 of price_id "p_search_usd" must equal the previous tier_to 1000'),
    ),
    "last_tier_bounded": (
        set_cell("event_prices.csv", 6, "tier_to", "100000"),
        ("event_prices.csv", 6,
         'the last tier of price_id "p_search_usd" must have an empty tier_to (no upper bound)'),
    ),
    "tier_rows_disagree_on_model": (
        set_cell("event_prices.csv", 8, "model", "graduated"),
        ("event_prices.csv", 8,
         'rows of price_id "p_proposal_eur" disagree on event_type, currency or model '
         "(first row: event_prices.csv row 7)"),
    ),
    "package_without_size": (
        set_cell("event_prices.csv", 10, "package_size", ""),
        ("event_prices.csv", 10, "model package needs package_size"),
    ),
    "expiry_before_purchase": (
        set_cell("credit_purchases.csv", 2, "expires_at", "2026-09-05T09:00:00+02:00"),
        ("credit_purchases.csv", 2, "expires_at must be later than purchased_at"),
    ),
    "team_of_another_entity": (
        set_cell("entity_users.csv", 3, "team_id", "team_us_design"),
        ("entity_users.csv", 3,
         'team_id "team_us_design" belongs to entity "ent_us", not "ent_fr"'),
    ),
    "unknown_user_in_membership": (
        set_cell("entity_users.csv", 5, "user_id", "u_nobody"),
        ("entity_users.csv", 5, 'user_id "u_nobody" is not in users'),
    ),
    "unknown_plan": (
        set_cell("subscription_changes.csv", 1, "plan_id", "plan_x"),
        ("subscription_changes.csv", 1, 'plan_id "plan_x" is not in plans'),
    ),
    "missing_required_table": (
        delete("entity_users.csv"),
        ("entity_users", None,
         "required table entity_users is missing (expected entity_users.csv, "
         "entity_users.jsonl, entity_users.parquet or a folder entity_users/ of such files)"),
    ),
    "event_csv_missing_column": (
        drop_column("marketplace_events/2026-09.csv", "occurred_at"),
        ("marketplace_events/2026-09.csv", None, "required column 'occurred_at' is missing"),
    ),
    "event_jsonl_missing_column": (
        write_text("marketplace_events/2026-11.jsonl",
                   '{"event_id": "e1", "entity_id": "ent_us", "user_id": "u_bob", '
                   '"event_type": "message_sent", "when": "2026-11-01T00:00:00Z"}\n'),
        ("marketplace_events/2026-11.jsonl", None, "required column 'occurred_at' is missing"),
    ),
    "payments_missing_column": (
        write_text("payments/extra.csv", "payment_id,invoice_number,amount,attempted_at\n"),
        ("payments/extra.csv", None, "required column 'status' is missing"),
    ),
    "jsonl_reference_table": (
        csv_to_jsonl("users", _set(2, "email", "bob at acme")),
        ("users.jsonl", 2, 'email "bob at acme" is not an email address'),
    ),
    "parquet_reference_table": (
        csv_to_parquet("plans", _set(2, "currency", "XXY")),
        ("plans.parquet", 2, 'currency "XXY" is not an ISO 4217 currency code'),
    ),
    "first_violation_by_file_then_row": (
        both(set_cell("users.csv", 1, "email", "nope"),
             set_cell("entities.csv", 3, "timezone", "Mars/Olympus"),
             set_cell("entities.csv", 2, "country", "F")),
        ("entities.csv", 2,
         'country "F" is not an ISO 3166-1 alpha-2 country code (two capital letters, e.g. FR, '
         "US, GB)"),
    ),
}


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, bytes]]:
    """raw_basic copied and loaded once: (raw folder, warehouse file, original file bytes)."""
    base = tmp_path_factory.mktemp("bad_input")
    raw = base / "raw"
    shutil.copytree(FIXTURE, raw, ignore=shutil.ignore_patterns("README.md"))
    warehouse = base / "loaded.duckdb"
    with wh.connect(warehouse) as con:
        load_raw_dir(con, raw)
    originals = {p.relative_to(raw).as_posix(): p.read_bytes() for p in raw.rglob("*")
                 if p.is_file()}
    return raw, warehouse, originals


@pytest.fixture
def case_env(
    loaded: tuple[Path, Path, dict[str, bytes]], tmp_path: Path
) -> Iterator[tuple[Path, duckdb.DuckDBPyConnection]]:
    """The shared raw folder (restored afterwards) and a private copy of the loaded warehouse."""
    raw, warehouse, originals = loaded
    private = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, private)
    con = wh.connect(private)
    try:
        yield raw, con
    finally:
        con.close()
        shutil.rmtree(raw)
        for rel, data in originals.items():
            (raw / rel).parent.mkdir(parents=True, exist_ok=True)
            (raw / rel).write_bytes(data)


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    state: dict[str, object] = {
        t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in wh.RAW_TABLES
    }
    state["source_files"] = con.execute(
        "select * from raw.source_files order by file_id").fetchall()
    state["load_runs"] = con.execute("select * from raw.load_runs order by load_id").fetchall()
    return state


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_names_file_row_rule_and_changes_nothing(
    case: str, case_env: tuple[Path, duckdb.DuckDBPyConnection]
) -> None:
    raw, con = case_env
    mutate, (file, row, rule) = CASES[case]
    before = snapshot(con)
    mutate(raw)

    with pytest.raises(InputError) as err:
        load_raw_dir(con, raw)

    assert (err.value.file, err.value.row, err.value.rule) == (file, row, rule)
    where = f"{file}, row {row}" if row is not None else file
    assert str(err.value) == f"{where}: {rule}"
    assert snapshot(con) == before


def test_bad_input_on_a_fresh_warehouse_leaves_it_empty(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(FIXTURE, raw)
    set_cell("entities.csv", 3, "organization_id", "org_gone")(raw)
    con = wh.connect(tmp_path / "w.duckdb")

    with pytest.raises(InputError) as err:
        load_raw_dir(con, raw)

    assert (err.value.file, err.value.row) == ("entities.csv", 3)
    assert err.value.rule == 'organization_id "org_gone" is not in organizations'
    assert con.execute("select count(*) from raw.source_files").fetchone()[0] == 0
    assert con.execute("select count(*) from raw.load_runs").fetchone()[0] == 0
    assert con.execute("select count(*) from raw.marketplace_events").fetchone()[0] == 0


def test_malformed_csv_and_json_are_input_errors(
    case_env: tuple[Path, duckdb.DuckDBPyConnection]
) -> None:
    raw, con = case_env
    before = snapshot(con)
    (raw / "teams.csv").write_text(
        "team_id,entity_id,name\nteam_a,ent_us,A\nteam_b,ent_us,B,extra\n"
    )
    with pytest.raises(InputError) as err:
        load_raw_dir(con, raw)
    assert err.value.file == "teams.csv"
    assert err.value.rule == "malformed CSV at line 3: Expected Number of Columns: 3 Found: 4"

    (raw / "teams.csv").write_bytes((Path(FIXTURE) / "teams.csv").read_bytes())
    events = raw / "marketplace_events" / "2026-10.jsonl"
    lines = events.read_text().splitlines(keepends=True)
    lines[3] = lines[3][:40] + "\n"
    events.write_text("".join(lines))
    with pytest.raises(InputError) as err:
        load_raw_dir(con, raw)
    assert (err.value.file, err.value.row) == ("marketplace_events/2026-10.jsonl", 4)
    assert err.value.rule.startswith("not valid JSON")
    assert snapshot(con) == before


def test_a_later_load_may_restate_a_key(
    case_env: tuple[Path, duckdb.DuckDBPyConnection]
) -> None:
    """Duplicate keys are refused within one load; a later load's row supersedes (staging)."""
    raw, con = case_env
    write_text("organizations/renamed.csv", "organization_id,name\norg_kite,Kite Holdings\n")(raw)

    summary = load_raw_dir(con, raw)

    assert summary.files_new == 1 and summary.rows_by_table["organizations"] == 1


def test_text_that_is_not_utf8_and_a_broken_parquet_file_are_one_line_errors(
    case_env: tuple[Path, duckdb.DuckDBPyConnection]
) -> None:
    raw, con = case_env
    before = snapshot(con)
    events = raw / "marketplace_events" / "2026-09.csv"
    original = events.read_bytes()
    # a Latin-1 "café" deep in the file (past the first block the header read decodes)
    bad = b"ev_late,ent_us,usr_ana,message_sent,2026-09-10T10:00:00Z,1,caf\xe9\n"
    events.write_bytes(original + bad)
    line, column = original.count(b"\n") + 1, bad.index(b"\xe9") + 1
    with pytest.raises(InputError) as err:
        load_raw_dir(con, raw)
    assert str(err.value) == (
        f"marketplace_events/2026-09.csv: is not UTF-8 text: byte 0xe9 at line {line}, "
        f"column {column} (save the file as UTF-8)")
    events.write_bytes(original)

    (raw / "payments.parquet").write_bytes(b"PAR1 this is not a parquet file")
    with pytest.raises(InputError) as err:
        load_raw_dir(con, raw)
    message = str(err.value)
    assert message.startswith("payments.parquet: cannot be read as Parquet (")
    assert "\n" not in message and str(raw) not in message
    assert snapshot(con) == before
