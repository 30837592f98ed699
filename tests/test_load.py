"""The raw-folder loader on real files and a real DuckDB warehouse file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from billing import warehouse as wh
from billing.inputs import FileOutcome, load_raw_dir

FIXTURE = Path(__file__).parent / "fixtures" / "raw_basic"

EXPECTED_ROWS = {
    "organizations": 2, "entities": 3, "teams": 3, "users": 4, "entity_users": 5, "plans": 2,
    "event_prices": 12, "subscription_changes": 4, "credit_purchases": 3,
    "marketplace_events": 26, "payments": 3,
}


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """A private, writable copy of the raw_basic folder."""
    target = tmp_path / "raw"
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns("README.md"))
    return target


@pytest.fixture
def con(warehouse_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = wh.connect(warehouse_path)
    yield connection
    connection.close()


def active_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {
        table: con.execute(
            f"select count(*) from raw.{table} r join raw.source_files f "
            "on f.file_id = r._file_id where f.is_active"
        ).fetchone()[0]
        for table in wh.RAW_TABLES
    }


def total_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in wh.RAW_TABLES}


def source_files(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select file_id, rel_path, table_name, sha256, row_count, first_load_id, load_id, "
        "is_active, retracted_load_id from raw.source_files order by file_id"
    ).fetchall()


def write_events_parquet(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def test_loads_every_table_of_raw_basic(con: duckdb.DuckDBPyConnection, raw: Path) -> None:
    summary = load_raw_dir(con, raw)

    assert summary.load_id == 1
    assert summary.files_new == 12 and summary.files_changed == summary.files_removed == 0
    assert summary.rows_by_table == EXPECTED_ROWS
    assert summary.events_rows_added == 26
    assert active_counts(con) == EXPECTED_ROWS
    run = con.execute(
        "select raw_dir, files_new, rows_loaded, finished_at is not null from raw.load_runs"
    ).fetchall()
    assert run == [(str(raw.resolve()), 12, sum(EXPECTED_ROWS.values()), True)]


def test_values_are_stored_as_the_exact_text_given(
    con: duckdb.DuckDBPyConnection, raw: Path
) -> None:
    load_raw_dir(con, raw)

    address = con.execute("select address from raw.entities where entity_id = 'ent_us'")
    assert address.fetchone()[0] == "100 Main Street\nSuite 500\nNew York, NY 10001"
    events = dict(
        con.execute(
            "select f.rel_path || '#' || r._row_number, "
            "coalesce(r.quantity, '<null>') || '|' || coalesce(r.amount, '<null>') "
            "from raw.marketplace_events r join raw.source_files f on f.file_id = r._file_id"
        ).fetchall()
    )
    # an empty CSV cell and a missing JSON key are both NULL; JSON numbers keep their text
    assert events["marketplace_events/2026-09.csv#4"] == "<null>|1250.00"
    assert events["marketplace_events/2026-10.jsonl#8"] == "<null>|1250.00"
    assert events["marketplace_events/2026-10.jsonl#7"] == "<null>|1999.99"
    assert events["marketplace_events/2026-09.csv#10"] == "2.5|<null>"
    # a Parquet DECIMAL(12,2) column becomes its exact text
    amounts = con.execute("select amount from raw.payments order by _row_number").fetchall()
    assert amounts == [("512.40",), ("210.00",), ("210.00",)]


def test_loading_the_same_folder_again_adds_nothing(
    con: duckdb.DuckDBPyConnection, raw: Path
) -> None:
    load_raw_dir(con, raw)
    files_before, counts_before = source_files(con), total_counts(con)

    again = load_raw_dir(con, raw)

    assert again.files_unchanged == 12
    assert again.files_new == again.files_changed == again.files_removed == 0
    assert not again.changed_anything and again.rows_loaded == 0
    assert source_files(con) == files_before
    assert total_counts(con) == counts_before


def test_a_new_events_file_is_the_only_file_read(
    con: duckdb.DuckDBPyConnection, raw: Path
) -> None:
    load_raw_dir(con, raw)
    new_rows = [
        {"event_id": f"ev_11{i:02d}", "entity_id": "ent_us", "user_id": "u_alice",
         "event_type": "message_sent", "occurred_at": "2026-11-02T10:00:00-05:00",
         "quantity": i + 1}
        for i in range(5)
    ]
    write_events_parquet(raw / "marketplace_events" / "2026-11.parquet", new_rows)

    summary = load_raw_dir(con, raw)

    assert summary.files_new == 1 and summary.files_unchanged == 12
    assert summary.events_rows_added == 5
    assert [(f.rel_path, f.status, f.rows) for f in summary.files if f.status != "unchanged"] == [
        ("marketplace_events/2026-11.parquet", "new", 5)
    ]
    rows = con.execute(
        "select r.event_id, r.quantity, r.amount, r._row_number, f.first_load_id "
        "from raw.marketplace_events r join raw.source_files f on f.file_id = r._file_id "
        "where f.rel_path = 'marketplace_events/2026-11.parquet' order by r._row_number"
    ).fetchall()
    assert rows == [(f"ev_11{i:02d}", str(i + 1), None, i + 1, 2) for i in range(5)]


def test_a_changed_file_gets_a_new_version_and_the_old_one_is_retracted(
    con: duckdb.DuckDBPyConnection, raw: Path
) -> None:
    load_raw_dir(con, raw)
    events = raw / "marketplace_events" / "2026-10.jsonl"
    extra = {"event_id": "ev_0109", "entity_id": "ent_jp", "user_id": "u_kenji",
             "event_type": "message_sent", "occurred_at": "2026-10-20T10:00:00+09:00"}
    events.write_text(events.read_text() + json.dumps(extra) + "\n")

    summary = load_raw_dir(con, raw)

    assert (summary.files_changed, summary.files_unchanged, summary.events_rows_added) == (
        1, 11, 11)
    versions = con.execute(
        "select file_id, row_count, first_load_id, load_id, is_active, retracted_load_id "
        "from raw.source_files where rel_path = 'marketplace_events/2026-10.jsonl' "
        "order by file_id"
    ).fetchall()
    assert versions == [(6, 10, 1, 1, False, 2), (13, 11, 1, 2, True, None)]
    # the old version's rows stay for audit; only the new version is active
    assert total_counts(con)["marketplace_events"] == 26 + 11
    assert active_counts(con)["marketplace_events"] == 27


def test_a_deleted_file_is_retracted_and_a_returning_one_keeps_its_first_load(
    con: duckdb.DuckDBPyConnection, raw: Path
) -> None:
    load_raw_dir(con, raw)
    payments = raw / "payments.parquet"
    kept = payments.read_bytes()
    payments.unlink()

    removed = load_raw_dir(con, raw)

    assert removed.files_removed == 1
    assert [f for f in removed.files if f.status == "removed"] == [
        FileOutcome("payments", "payments.parquet", "removed")
    ]
    assert active_counts(con)["payments"] == 0
    assert total_counts(con)["payments"] == 3

    payments.write_bytes(kept)
    back = load_raw_dir(con, raw)

    assert back.files_new == 1
    assert con.execute(
        "select file_id, first_load_id, load_id, is_active, retracted_load_id "
        "from raw.source_files where rel_path = 'payments.parquet' order by file_id"
    ).fetchall() == [(8, 1, 1, False, 2), (13, 1, 3, True, None)]


def test_removing_a_required_table_is_refused(
    con: duckdb.DuckDBPyConnection, raw: Path
) -> None:
    from billing.errors import InputError

    load_raw_dir(con, raw)
    before = source_files(con)
    (raw / "plans.csv").unlink()

    with pytest.raises(InputError) as err:
        load_raw_dir(con, raw)

    assert err.value.file == "plans" and err.value.row is None
    assert "required table plans is missing" in err.value.rule
    assert source_files(con) == before


def test_json_numbers_keep_their_exact_text(
    con: duckdb.DuckDBPyConnection, raw: Path
) -> None:
    line = (
        '{"event_id": "ev_big", "entity_id": "ent_us", "user_id": "u_bob", '
        '"event_type": "contract_fee", "occurred_at": "2026-10-11T10:00:00Z", '
        '"quantity": 1.0, "amount": 12345678901234567.891, "note": {"a": [1, 2.50]}}\n'
        '{"event_id": "ev_exp", "entity_id": "ent_us", "user_id": "u_bob", '
        '"event_type": "contract_fee", "occurred_at": "2026-10-11T10:00:00Z", '
        '"quantity": null, "amount": 1E+2}\n'
    )
    (raw / "marketplace_events" / "2026-10b.jsonl").write_text(line)

    load_raw_dir(con, raw)

    rows = con.execute(
        "select event_id, quantity, amount from raw.marketplace_events "
        "where event_id in ('ev_big', 'ev_exp') order by event_id"
    ).fetchall()
    assert rows == [("ev_big", "1.0", "12345678901234567.891"), ("ev_exp", None, "1E+2")]
    assert Decimal(rows[0][2]) == Decimal("12345678901234567.891")


def test_csv_jsonl_and_parquet_mix_in_one_folder_read_in_path_order(
    con: duckdb.DuckDBPyConnection, raw: Path
) -> None:
    folder = raw / "marketplace_events"
    write_events_parquet(
        folder / "2026-09b.parquet",
        [{"occurred_at": "2026-09-25T08:00:00+02:00", "event_id": "ev_pq", "user_id": "u_alice",
          "entity_id": "ent_fr", "event_type": "data_export", "quantity": 7, "extra": "x"}],
    )
    (folder / "README.txt").write_text("not a table file: ignored")
    (folder / ".hidden.csv").write_text("garbage")

    summary = load_raw_dir(con, raw)

    assert [f.rel_path for f in summary.files if f.table == "marketplace_events"] == [
        "marketplace_events/2026-09.csv",
        "marketplace_events/2026-09b.parquet",
        "marketplace_events/2026-10.jsonl",
    ]
    assert con.execute(
        "select entity_id, quantity, amount from raw.marketplace_events where event_id = 'ev_pq'"
    ).fetchall() == [("ent_fr", "7", None)]


def test_reference_tables_may_be_folders_with_reordered_and_extra_columns(
    con: duckdb.DuckDBPyConnection, raw: Path
) -> None:
    (raw / "users.csv").unlink()
    (raw / "users").mkdir()
    (raw / "users" / "a.csv").write_text(
        "\ufeffemail,nickname,user_id,name\r\n"
        "alice@acme.example,al,u_alice,Alice Martin\r\n"
        'bob@acme.example,"",u_bob,"Bob ""the builder"" Stone"\r\n'
    )
    (raw / "users" / "b.jsonl").write_text(
        '{"user_id": "u_chloe", "name": "Chloé Dubois", "email": "chloe@acme.example"}\n\n'
        '{"user_id": "u_kenji", "name": "Kenji Sato", "email": "kenji@kite.example", "x": 1}\n'
    )
    (raw / "credit_purchases.csv").write_text(
        "purchase_id,entity_id,credits,price,purchased_at,expires_at\n"
    )

    summary = load_raw_dir(con, raw)

    assert summary.rows_by_table["users"] == 4
    assert summary.rows_by_table["credit_purchases"] == 0
    users = con.execute(
        "select f.rel_path, r._row_number, r.user_id, r.name from raw.users r "
        "join raw.source_files f on f.file_id = r._file_id order by f.rel_path, r._row_number"
    ).fetchall()
    assert users == [
        ("users/a.csv", 1, "u_alice", "Alice Martin"),
        ("users/a.csv", 2, "u_bob", 'Bob "the builder" Stone'),
        ("users/b.jsonl", 1, "u_chloe", "Chloé Dubois"),
        ("users/b.jsonl", 3, "u_kenji", "Kenji Sato"),  # JSONL rows are numbered by line
    ]


def test_progress_callback_sees_every_file(con: duckdb.DuckDBPyConnection, raw: Path) -> None:
    seen: list[FileOutcome] = []

    load_raw_dir(con, raw, progress=seen.append)

    assert [f.rel_path for f in seen] == sorted(p.relative_to(raw).as_posix() for p in (
        q for q in raw.rglob("*") if q.is_file()))
    assert all(f.status == "new" and f.rows is not None for f in seen)


def test_inside_an_outer_transaction_the_caller_decides(
    con: duckdb.DuckDBPyConnection, raw: Path
) -> None:
    con.execute("begin transaction")
    summary = load_raw_dir(con, raw, own_transaction=False)
    assert summary.files_new == 12
    assert active_counts(con) == EXPECTED_ROWS  # visible inside the caller's transaction
    con.execute("rollback")

    assert source_files(con) == []
    assert sum(total_counts(con).values()) == 0


def test_rows_keep_file_order_in_a_large_parallel_csv(
    con: duckdb.DuckDBPyConnection, raw: Path
) -> None:
    """_row_number follows the file order even when DuckDB reads the CSV on several threads."""
    n = 300_000
    con.execute(
        "copy (select 'ev_' || lpad(i::varchar, 7, '0') as event_id, 'ent_us' as entity_id, "
        "'u_alice' as user_id, 'message_sent' as event_type, "
        "'2026-10-02T10:00:00Z' as occurred_at, i::varchar as quantity "
        f"from range(1, {n + 1}) t(i)) to '{raw / 'marketplace_events' / 'big.csv'}' "
        "(header, delimiter ',')"
    )
    con.execute("set threads = 4")

    load_raw_dir(con, raw)

    mismatches = con.execute(
        "select count(*) from raw.marketplace_events r join raw.source_files f "
        "on f.file_id = r._file_id where f.rel_path = 'marketplace_events/big.csv' "
        "and r.quantity <> r._row_number::varchar"
    ).fetchone()[0]
    assert mismatches == 0
    assert active_counts(con)["marketplace_events"] == 26 + n


def test_a_missing_folder_or_an_empty_csv_is_an_input_error(
    con: duckdb.DuckDBPyConnection, raw: Path
) -> None:
    from billing.errors import InputError

    with pytest.raises(InputError, match="the raw folder does not exist"):
        load_raw_dir(con, raw / "nope")

    (raw / "teams.csv").write_bytes(b"")
    with pytest.raises(InputError) as err:
        load_raw_dir(con, raw)
    assert (err.value.file, err.value.row) == ("teams.csv", None)
    assert err.value.rule == "the file is empty: a CSV table needs a header row"
    assert source_files(con) == []


def test_two_subscription_changes_at_one_instant_load(
    con: duckdb.DuckDBPyConnection, raw: Path
) -> None:
    # a plan switch written as "0 seats of the old plan" and "3 seats of the new one" at the
    # same instant is ordinary input, not an error: the highest change_id wins
    # (int_seat_stretches; unit test seats_cancellation_plan_change_and_same_instant_tie)
    path = raw / "subscription_changes.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "sc_us_3,ent_us,plan_team_usd,0,2026-10-01T00:00:00-04:00\n"
                    "sc_us_4,ent_us,plan_team_usd,3,2026-10-01T00:00:00-04:00\n",
                    encoding="utf-8")
    summary = load_raw_dir(con, raw)
    assert summary.rows_by_table["subscription_changes"] == EXPECTED_ROWS[
        "subscription_changes"] + 2
