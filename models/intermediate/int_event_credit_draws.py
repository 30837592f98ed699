"""Prepaid-credit drawdown: one row per (event_id, purchase_id) draw.

The contract's rule is sequential: per entity, events in (occurred_at, event_id) order each draw
min(amount, user room, credits available), from the valid lot that expires first (then purchased
first, then lowest purchase_id), then the next. Set-based SQL first narrows the events to those
that can draw at all (int_credit_draw_candidates); this model loops only over those.

Money is exact: decimal(38,12) values are read as Python ints in units of 1e-12 straight from
the Arrow buffers and written back the same way; no float is ever involved.
"""

import heapq
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

SCALE = 12
DECIMAL = pa.decimal128(38, SCALE)
NO_LIMIT = -1  # credit limits are never negative: -1 unit stands for "no limit"


def decimal_units(column, null_units=None):
    """A decimal Arrow column as a list of ints in units of 10**-SCALE.

    Nulls become ``null_units`` (a sentinel int is much faster than None on a large column).
    """
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if arr.type != DECIMAL:
        arr = arr.cast(DECIMAL)
    if arr.null_count and null_units is not None:
        arr = arr.fill_null(pa.scalar(Decimal(null_units).scaleb(-SCALE), DECIMAL))
    if len(arr) == 0:
        return []
    raw = memoryview(arr.buffers()[1])[arr.offset * 16 : (arr.offset + len(arr)) * 16]
    # each value is a little-endian int128: low 64 bits (unsigned), then high 64 bits (signed)
    words = raw.cast("q")
    lows, highs = words[0::2].tolist(), words[1::2].tolist()
    if not any(highs):
        values = lows  # 0 <= value < 2**63 units (9.2 million in currency): the common case
    else:
        values = [h * 2**64 + (lo % 2**64) for lo, h in zip(lows, highs, strict=True)]
    if arr.null_count:
        valid = arr.is_valid().to_pylist()
        values = [v if ok else None for v, ok in zip(values, valid, strict=True)]
    return values


def decimal_array(units):
    """Ints in units of 10**-SCALE as an exact decimal(38, SCALE) Arrow array."""
    payload = b"".join(u.to_bytes(16, "little", signed=True) for u in units)
    return pa.Array.from_buffers(DECIMAL, len(units), [None, pa.py_buffer(payload)])


def group_lots(lots):
    """entity_id -> its lots as (purchased_us, expires_us, purchase_id, credits), by purchase."""
    by_entity = {}
    for entity, pid, bought, expires, credits in zip(
        lots["entity_id"].to_pylist(),
        lots["purchase_id"].to_pylist(),
        lots["purchased_us"].to_pylist(),
        lots["expires_us"].to_pylist(),
        decimal_units(lots["credits"]),
        strict=True,
    ):
        if credits > 0 and expires > bought:
            by_entity.setdefault(entity, []).append((bought, expires, pid, credits))
    for entity_lots in by_entity.values():
        entity_lots.sort()
    return by_entity


def draw_down(events, lots_by_entity):
    """Run the drawdown; returns parallel lists (event row index, purchase_id, units drawn)."""
    entities = events["entity_id"].to_pylist()
    users = events["user_id"].to_pylist()
    periods = events["period"].to_pylist()
    times = events["occurred_us"].to_pylist()
    amounts = decimal_units(events["amount"])
    limits = decimal_units(events["credit_limit"], null_units=NO_LIMIT)

    out_row, out_pid, out_units = [], [], []
    heappush, heappop = heapq.heappush, heapq.heappop
    current = None
    for k, entity in enumerate(entities):
        if entity != current:
            # New entity: fresh state (events arrive sorted by entity, then time, then id).
            current = entity
            lots = lots_by_entity.get(entity, ())
            next_lot, n_lots = 0, len(lots)
            heap = []  # [expires_us, purchased_us, purchase_id, remaining]; the key never mutates
            available = 0
            period = None
            used = {}
        t = times[k]
        while next_lot < n_lots and lots[next_lot][0] <= t:
            bought, expires, pid, credits = lots[next_lot]
            heappush(heap, [expires, bought, pid, credits])
            available += credits
            next_lot += 1
        while heap and heap[0][0] <= t:
            available -= heappop(heap)[3]  # the remainder is forfeited at expires_at
        if available <= 0:
            continue
        if periods[k] != period:
            period = periods[k]
            used = {}
        want = amounts[k]
        if want > available:
            want = available
        limit = limits[k]
        if limit != NO_LIMIT:
            user = users[k]
            room = limit - used.get(user, 0)
            if room < want:
                want = room
            if want <= 0:
                continue
            used[user] = used.get(user, 0) + want
        available -= want
        while want > 0:
            lot = heap[0]
            take = lot[3] if lot[3] < want else want
            lot[3] -= take
            want -= take
            out_row.append(k)
            out_pid.append(lot[2])
            out_units.append(take)
            if lot[3] == 0:
                heappop(heap)
    return out_row, out_pid, out_units


def model(dbt, session):
    dbt.config(materialized="table")
    events = (
        dbt.ref("int_credit_draw_candidates")
        .order("entity_id, occurred_us, event_id")
        .to_arrow_table()
    )
    lots = dbt.ref("int_credit_lots").query(
        "lots",
        "select entity_id, purchase_id, epoch_us(purchased_at) as purchased_us, "
        "epoch_us(expires_at) as expires_us, credits from lots",
    ).to_arrow_table()

    rows, pids, units = draw_down(events, group_lots(lots))
    index = pa.array(rows, type=pa.int64())
    return pa.table(
        {
            "entity_id": pc.take(events["entity_id"], index),
            "user_id": pc.take(events["user_id"], index),
            "event_id": pc.take(events["event_id"], index),
            "purchase_id": pa.array(pids, type=pa.string()),
            "occurred_at": pc.take(events["occurred_at"], index),
            "period": pc.take(events["period"], index),
            "amount": decimal_array(units),
        }
    )
