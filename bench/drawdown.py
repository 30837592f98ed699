"""Time billing.drawdown.draw_down on synthetic events and lots.

    .venv/bin/python bench/drawdown.py --events 1000000
    .venv/bin/python bench/drawdown.py --events 10000000 --python-events 1000000

N events over --entities entities (about 70% of them with 1-3 credit lots, about 2/3 of users
with a monthly limit), sorted as the kernel wants. Prints, for the numba engine, the first-call
cost (JIT compile with an empty cache, then loading the cache, each in a fresh process), then
events/s of a warm call with its phases; for the python engine events/s on --python-events; and
the process's peak RSS after generating and after the calls.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from billing import drawdown  # noqa: E402

YEAR_US = 365 * 86_400 * 10**6
START_US = 1_767_225_600 * 10**6  # 2026-01-01T00:00:00Z
USERS_PER_ENTITY = 20


def decimals(cents: np.ndarray) -> pa.Array:
    """int64 hundredths as an exact decimal(38, 12) array."""
    words = drawdown._decimal_words(len(cents))
    words[:, 0] = cents
    return drawdown._decimal_from_words(words, len(cents), 2)


def padded(prefix: str, codes: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pa.array(codes).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, text, "")


def generate(n: int, entities: int, seed: int = 1) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    entity = rng.integers(0, entities, n)
    t = START_US + rng.integers(0, YEAR_US // 10**6, n) * 10**6  # whole seconds: some ties
    order = np.lexsort((t, entity))
    entity, t = entity[order], t[order]
    user = entity * USERS_PER_ENTITY + rng.integers(0, USERS_PER_ENTITY, n)
    limited = user % 3 != 0  # two users in three have a limit
    limit_cents = np.where(limited, 5_000 + (user % 7) * 5_000, 0)
    occurred_at = pa.array(t, pa.timestamp("us", tz="UTC"))
    events = pa.table(
        {
            "event_id": padded("ev", np.arange(n), 10),
            "entity_id": padded("ent", entity, 6),
            "user_id": padded("u", user, 8),
            "occurred_at": occurred_at,
            "occurred_us": pa.array(t),
            "period": pc.strftime(occurred_at, format="%Y-%m"),
            "amount": decimals(rng.integers(0, 5_000, n)),
            "credit_limit": pc.if_else(
                pa.array(limited), decimals(limit_cents), pa.scalar(None, drawdown.DECIMAL)
            ),
        }
    )
    with_lots = np.flatnonzero(rng.random(entities) < 0.7)
    per = rng.integers(1, 4, len(with_lots))
    lot_entity = np.repeat(with_lots, per)
    m = len(lot_entity)
    bought = START_US + rng.integers(0, YEAR_US // 10**6, m) * 10**6
    expires = bought + rng.integers(30, 181, m) * 86_400 * 10**6
    lots = pa.table(
        {
            "entity_id": padded("ent", lot_entity, 6),
            "purchase_id": padded("p", np.arange(m), 8),
            "purchased_us": pa.array(bought),
            "expires_us": pa.array(expires),
            "credits": decimals(rng.integers(100, 5_001, m) * 100),
        }
    )
    return events, lots


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def first_call_seconds(cache_dir: str) -> tuple[float, float]:
    """In a fresh process with NUMBA_CACHE_DIR: (import numba, compile or load the kernel)."""
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]);"
        "from bench.drawdown import generate; from billing import drawdown;"
        "ev, lots = generate(2_000, 50); t = time.perf_counter(); import numba;"
        "u = time.perf_counter(); drawdown.draw_down(ev, lots, engine='numba');"
        "print(u - t, time.perf_counter() - u)"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)], env=env, check=True, capture_output=True, text=True
    )
    load, call = out.stdout.split()
    return float(load), float(call)


def timed(events: pa.Table, lots: pa.Table, engine: str) -> tuple[float, pa.Table]:
    start = time.perf_counter()
    out = drawdown.draw_down(events, lots, engine=engine)
    return time.perf_counter() - start, out


def phases(events: pa.Table, lots: pa.Table) -> str:
    """Where a warm numba call spends its time."""
    marks = [time.perf_counter()]
    prep = drawdown._prepare(events, lots)
    marks.append(time.perf_counter())
    fitted = drawdown._int64_columns(prep)
    marks.append(time.perf_counter())
    drawdown._run_numba(prep, fitted)
    marks.append(time.perf_counter())
    names = ("prepare+checks", "rescale", "kernel+decimals")
    return ", ".join(f"{n} {b - a:.2f}s" for n, a, b in zip(names, marks, marks[1:], strict=False))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--entities", type=int, default=5_000)
    parser.add_argument("--python-events", type=int, default=500_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as cache:
        (imp, cold), (_, warm) = first_call_seconds(cache), first_call_seconds(cache)
    print(
        f"numba import {imp:.2f}s; first draw_down call (2,000 events): "
        f"{cold:.2f}s with an empty cache (JIT), {warm:.2f}s with the cache"
    )

    start = time.perf_counter()
    events, lots = generate(args.events, args.entities)
    print(
        f"generated {events.num_rows:,} events, {lots.num_rows:,} lots in "
        f"{time.perf_counter() - start:.1f}s; peak RSS {peak_rss_mb():,.0f} MB"
    )

    drawdown.draw_down(events.slice(0, 1_000), lots, engine="numba")  # JIT/cache load, untimed
    seconds, out = timed(events, lots, "numba")
    again = min(timed(events, lots, "numba")[0] for _ in range(2))
    drawn = pc.sum(out["credits_drawn"]).as_py()
    overages = pc.sum(out["is_overage"].cast(pa.int64())).as_py()
    n = events.num_rows
    print(
        f"numba:  {n:,} events in {seconds:.2f}s = {n / seconds:,.0f} events/s on the first "
        f"call, {again:.2f}s = {n / again:,.0f} events/s on a repeat "
        f"({phases(events, lots)}); drawn {drawn:,.2f}, {overages:,} overages; "
        f"peak RSS {peak_rss_mb():,.0f} MB"
    )
    del out

    small = events.slice(0, min(args.python_events, events.num_rows))
    seconds, out = timed(small, lots, "python")
    print(
        f"python: {small.num_rows:,} events in {seconds:.2f}s = "
        f"{small.num_rows / seconds:,.0f} events/s; peak RSS {peak_rss_mb():,.0f} MB"
    )
    same = drawdown.draw_down(small, lots, engine="numba").equals(out)
    print(f"numba == python on those {small.num_rows:,} events: {same}")


if __name__ == "__main__":
    main()
