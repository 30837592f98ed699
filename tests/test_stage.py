"""Staging events at load: each raw event row is parsed once, by a real dbt run on a real file."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from billing import pipeline

FIXTURE = Path(__file__).parent / "fixtures" / "raw_basic"
HEADER = "event_id,entity_id,user_id,event_type,occurred_at,quantity,amount\n"


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    target = tmp_path / "raw"
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns("README.md"))
    return target


def one(warehouse: Path, sql: str) -> object:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def rows(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_stage_parses_new_rows_once_and_keeps_raw_text_only_where_it_fails(
    tmp_path: Path, raw: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    pipeline.load(warehouse, raw)
    pipeline.stage(warehouse)
    raw_rows = one(warehouse, "select count(*) from raw.marketplace_events")
    assert one(warehouse, "select count(*) from staging.base_marketplace_events") == raw_rows

    # a parsed row is never parsed again: a later stage leaves it as it is
    key = one(warehouse, "select min(event_key) from staging.base_marketplace_events")
    con = duckdb.connect(str(warehouse))
    con.execute("update staging.base_marketplace_events set quantity = 999 where event_key = ?",
                [key])
    con.close()

    (raw / "marketplace_events" / "2026-11.csv").write_text(
        HEADER
        + "ev_new1,ent_us,u_alice,message_sent,2026-11-02T10:00:00-05:00,,12.50\n"
        + "ev_new2,ent_us,u_alice,message_sent,2026-11-02T10:00:00,0,ten\n"
    )
    pipeline.load(warehouse, raw)
    pipeline.stage(warehouse)

    assert one(warehouse, f"select quantity from staging.base_marketplace_events "
                          f"where event_key = {key}") == 999
    assert one(warehouse, "select count(*) from staging.base_marketplace_events") == raw_rows + 2
    parsed = rows(
        warehouse,
        "select event_id, occurred_at, quantity, amount, occurred_at_unparsed, "
        "quantity_unparsed, amount_unparsed from staging.stg_marketplace_events "
        "where event_id like 'ev_new%' order by event_id",
    )
    good, bad = parsed
    assert good[0] == "ev_new1" and good[1].isoformat() == "2026-11-02T15:00:00+00:00"
    assert good[2:] == (1, Decimal("12.5"), None, None, None)  # an empty quantity is 1
    assert bad == ("ev_new2", None, None, None, "2026-11-02T10:00:00", "0", "ten")


def test_rows_parsed_by_other_rules_are_parsed_again(tmp_path: Path, raw: Path) -> None:
    """An upgrade that changes the parse rules must not leave rows parsed the old way."""
    warehouse = tmp_path / "w.duckdb"
    pipeline.load(warehouse, raw)
    pipeline.stage(warehouse)
    rules = one(warehouse, "select min(parse_rules) from staging.base_marketplace_events")
    assert rules == one(warehouse, "select max(parse_rules) from staging.base_marketplace_events")
    total = one(warehouse, "select count(*) from staging.base_marketplace_events")
    con = duckdb.connect(str(warehouse))
    stale_file = con.execute("select min(source_file_id) from staging.base_marketplace_events")
    stale_file = stale_file.fetchone()[0]
    # as if the rows of one file had been parsed by an earlier version, and wrongly
    con.execute("update staging.base_marketplace_events set parse_rules = 'older', "
                "quantity = 999 where source_file_id = ?", [stale_file])
    con.close()

    pipeline.stage(warehouse)

    assert one(warehouse, "select count(*) from staging.base_marketplace_events") == total
    assert one(warehouse, "select count(*) from staging.base_marketplace_events "
                          "where parse_rules <> '" + rules + "' or quantity = 999") == 0

    # a warehouse staged before rows recorded their rules: everything is parsed again
    con = duckdb.connect(str(warehouse))
    con.execute("alter table staging.base_marketplace_events drop column parse_rules")
    con.execute("update staging.base_marketplace_events set quantity = 999")
    con.close()
    pipeline.stage(warehouse)
    assert one(warehouse, "select count(*) from staging.base_marketplace_events "
                          f"where parse_rules = '{rules}' and quantity is distinct from 999"
               ) == total


def test_staging_follows_retracted_files_and_the_close_stages_what_load_did_not(
    tmp_path: Path, raw: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    pipeline.load(warehouse, raw)
    events = raw / "marketplace_events" / "2026-09.csv"
    events.write_text(events.read_text() + "ev_0099,ent_us,u_alice,message_sent,"
                      "2026-09-20T10:00:00Z,1,\n")
    pipeline.load(warehouse, raw)  # the old version of 2026-09.csv is retracted
    pipeline.stage(warehouse)

    active = one(warehouse, "select count(*) from raw.marketplace_events r join "
                            "raw.source_files f on f.file_id = r._file_id where f.is_active")
    total = one(warehouse, "select count(*) from raw.marketplace_events")
    assert active < total
    assert one(warehouse, "select count(*) from staging.base_marketplace_events") == total
    assert one(warehouse, "select count(*) from staging.stg_marketplace_events") == active
    assert one(warehouse, "select count(*) from staging.stg_marketplace_events "
                          "where event_id = 'ev_0099'") == 1

    # a load without staging (a crash between the two, or an old version's load): the close's
    # build stages the new rows itself
    (raw / "marketplace_events" / "2026-11.csv").write_text(
        HEADER + "ev_late,ent_us,u_alice,message_sent,2026-10-30T10:00:00Z,2,\n"
    )
    pipeline.load(warehouse, raw)
    pipeline.build(warehouse, through_period="2026-10",
                   as_of=datetime(2026, 11, 1, 12, tzinfo=UTC), quiet=True)
    assert one(warehouse, "select quantity from main.rated_events "
                          "where event_id = 'ev_late'") == 2


def test_timestamps_parse_only_with_a_possible_utc_offset(tmp_path: Path, raw: Path) -> None:
    # offsets run from -18:00 to +18:00 with minutes 00-59; +25:00 or +02:99 is a typo, not an
    # instant (DuckDB alone would read them as 25 hours or 3h39 east of UTC)
    cases = {
        "ts_plus_0545": ("2026-10-02T10:00:00+05:45", "2026-10-02T04:15:00+00:00"),
        "ts_minus_0930": ("2026-10-02T10:00:00-0930", "2026-10-02T19:30:00+00:00"),
        "ts_plus_14": ("2026-10-02T10:00:00+14", "2026-10-01T20:00:00+00:00"),
        "ts_minus_18": ("2026-10-02T10:00:00-18:00", "2026-10-03T04:00:00+00:00"),
        "ts_plus_25": ("2026-10-02T10:00:00+25:00", None),
        "ts_plus_0299": ("2026-10-02T10:00:00+02:99", None),
        "ts_plus_1830": ("2026-10-02T10:00:00+18:30", None),
        "ts_no_offset": ("2026-10-02T10:00:00", None),
    }
    (raw / "marketplace_events" / "2026-10-offsets.csv").write_text(
        HEADER
        + "".join(f"{k},ent_us,u_alice,message_sent,{ts},,\n" for k, (ts, _) in cases.items())
    )
    warehouse = tmp_path / "w.duckdb"
    pipeline.load(warehouse, raw)
    pipeline.stage(warehouse)
    parsed = dict(rows(
        warehouse,
        "select event_id, occurred_at from staging.stg_marketplace_events "
        "where event_id like 'ts_%'",
    ))
    assert {k: v.astimezone(UTC).isoformat() if v else None for k, v in parsed.items()} == {
        k: want for k, (_, want) in cases.items()
    }


def test_first_loaded_is_per_row_so_an_appended_row_does_not_jump_the_queue(
    tmp_path: Path, raw: Path
) -> None:
    """The contract: "the first one loaded stands". A row appended to an old file in a later
    load counts from that later load; a row corrected in place keeps its place."""
    events = raw / "marketplace_events"
    z = events / "z-old.csv"
    z.write_text(HEADER + "keep1,ent_us,u_alice,message_sent,2026-10-02T10:00:00Z,1,\n")
    warehouse = tmp_path / "w.duckdb"
    as_of = datetime(2026, 11, 15, tzinfo=UTC)

    def load_and_build() -> None:
        pipeline.load(warehouse, raw)
        pipeline.build(warehouse, through_period="2026-10", as_of=as_of, quiet=True)

    load_and_build()  # load 1: z-old.csv
    (events / "a-new.csv").write_text(
        HEADER + "dup7,ent_us,u_alice,message_sent,2026-10-03T10:00:00Z,1,\n"
    )
    load_and_build()  # load 2: a-new.csv brings dup7 (quantity 1)
    z.write_text(z.read_text() + "dup7,ent_us,u_alice,message_sent,2026-10-03T10:00:00Z,2,\n")
    load_and_build()  # load 3: dup7 appended to the older file, with another quantity

    assert rows(warehouse, "select event_id, quantity from rated_events "
                           "where event_id in ('dup7', 'keep1') order by event_id") == [
        ("dup7", 1), ("keep1", 1)]
    assert rows(warehouse, "select event_id, reason, source_file from rejected_events "
                           "where event_id = 'dup7'") == [
        ("dup7", "conflicting_duplicate", "marketplace_events/z-old.csv")]
    loaded = dict(rows(warehouse, "select event_id || '@' || source_file, first_load_id "
                                  "from staging.stg_marketplace_events "
                                  "where event_id in ('dup7', 'keep1')"))
    assert loaded == {"keep1@marketplace_events/z-old.csv": 1,
                      "dup7@marketplace_events/a-new.csv": 2,
                      "dup7@marketplace_events/z-old.csv": 3}

    # load 4: keep1 corrected in place (quantity 1 -> 5) is a correction, not a later copy
    z.write_text(z.read_text().replace("10:00:00Z,1,\n", "10:00:00Z,5,\n", 1))
    load_and_build()
    assert rows(warehouse, "select quantity from rated_events where event_id = 'keep1'") == [(5,)]
    assert rows(warehouse, "select count(*) from rejected_events where event_id = 'keep1'") == [
        (0,)]
