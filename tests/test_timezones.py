"""Python and DuckDB read local time from (almost) the same time-zone database.

The dbt models put events in periods with DuckDB (ICU), and so does the close's period-ended
check (billing.close.check_period_ended reads the build's int_billing_periods). Python's
zoneinfo only draws the PDF's service ranges; billing makes it read the pinned `tzdata`
package instead of the host's files (Debian's 2025b disagreed with DuckDB on Casablanca and
western Canada in 2026). This test checks, for every zone DuckDB knows, that both give the
same UTC offset at every 6 hours of 2026 and 2027. Known difference: America/Havana from
2026-11-01 (DuckDB's ICU puts Cuba on standard time for the winter, tzdata 2026.6 keeps it on
UTC-4); periods follow DuckDB there too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import duckdb
import pyarrow as pa

import billing  # noqa: F401  (sets zoneinfo's source)


def test_python_and_duckdb_agree_on_every_zones_offsets_but_havana() -> None:
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    duckdb_zones = {r[0] for r in con.execute("select name from pg_timezone_names()").fetchall()}
    zones = sorted(z for z in available_timezones() & duckdb_zones if "/" in z)
    assert len(zones) > 300
    start = datetime(2026, 1, 1, tzinfo=UTC)
    instants = [start + timedelta(hours=6 * i) for i in range(4 * 730)]
    rows = {"zone": [], "instant": [], "offset_s": []}
    for zone in zones:
        info = ZoneInfo(zone)
        for at in instants:
            rows["zone"].append(zone)
            rows["instant"].append(at)
            rows["offset_s"].append(int(at.astimezone(info).utcoffset().total_seconds()))
    table = pa.table(rows)
    con.register("python_offsets", table)
    disagree = con.execute(
        """
        with offsets as (
            select zone, instant, offset_s,
                   epoch(timezone(zone, instant)) - epoch(timezone('UTC', instant))
                       as duckdb_offset_s
            from python_offsets
        )
        select distinct zone from offsets where offset_s <> duckdb_offset_s order by zone
        """
    ).fetchall()
    assert disagree in ([], [("America/Havana",)])

