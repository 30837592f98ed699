"""Time the prepaid-credit drawdown (models/intermediate/int_event_credit_draws.py).

Generates N events and monthly credit lots in DuckDB, then runs the model's own `model()` on
them (the same code dbt runs, reading the same columns) and prints events per second.

    .venv/bin/python bench/credits_drawdown.py --events 1000000
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import duckdb

MODEL = Path(__file__).resolve().parents[1] / "models/intermediate/int_event_credit_draws.py"


def load_model():
    spec = importlib.util.spec_from_file_location("int_event_credit_draws", MODEL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeDbt:
    """The two things the model asks of dbt: config() and ref()."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def config(self, **_: object) -> None:
        pass

    def ref(self, name: str) -> duckdb.DuckDBPyRelation:
        return self.con.query(f"select * from {name}")


def generate(con: duckdb.DuckDBPyConnection, events: int, entities: int) -> None:
    con.execute("set timezone = 'UTC'")
    # 12 monthly lots per entity, each valid 60 days
    con.execute(f"""
        create table int_credit_lots as
        select 'e' || e as entity_id, 'e' || e || '_p' || lpad(m::varchar, 2, '0') as purchase_id,
            cast(500 + (e % 7) * 100 as decimal(38,12)) as credits,
            timestamptz '2026-01-01 00:00:00+00' + to_days(30 * m) + to_hours(e % 24)
                as purchased_at,
            timestamptz '2026-01-01 00:00:00+00' + to_days(30 * m + 60) + to_hours(e % 24)
                as expires_at
        from range({entities}) as t(e), range(12) as u(m)""")
    # events over a year; a fifth of the users have a monthly limit
    con.execute(f"""
        create table int_credit_draw_candidates as
        with ev as (
            select i, i % {entities} as e,
                timestamptz '2026-01-01 00:00:00+00' + to_seconds((hash(i) % 31536000)::bigint)
                    as occurred_at
            from range({events}) as t(i)
        )
        select 'e' || e as entity_id, 'ev' || i as event_id, 'u' || (i % 5) as user_id,
            occurred_at, strftime(occurred_at, '%Y-%m') as period,
            epoch_us(occurred_at) as occurred_us,
            cast((hash(i * 7) % 5000) / 100 as decimal(38,12)) as amount,
            case when i % 5 = 0 then cast(150 as decimal(38,12)) end as credit_limit
        from ev""")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--entities", type=int, default=1_000)
    args = parser.parse_args()
    con = duckdb.connect()
    generate(con, args.events, args.entities)
    module = load_model()
    start = time.perf_counter()
    draws = module.model(FakeDbt(con), con)
    elapsed = time.perf_counter() - start
    con.register("draws", draws)
    drawn = con.execute("select count(*), sum(amount) from draws").fetchone()
    print(f"{args.events:,} events, {args.entities:,} entities: {elapsed:.2f} s "
          f"({args.events / elapsed:,.0f} events/s); {drawn[0]:,} draw rows, total {drawn[1]}")


if __name__ == "__main__":
    main()
