"""Prepaid-credit drawdown as one exact kernel, run by numba on big inputs and by Python on small.

The contract's rule (CONTRACT.md, "Prepaid credits"): per entity, events in (occurred_at,
event_id) order each draw ``min(amount, user room, credits available)``, first from the valid lot
that expires first (then purchased first, then lowest purchase_id), then from the next. A lot is
valid at t when ``purchased_at <= t < expires_at``; at ``expires_at`` its remainder is forfeited.
A user's room is their credit_limit in the entity minus what their events drew earlier in the
same period (every event of theirs counts, limited or not; room never goes below 0); a null limit
means no limit. An event is an overage when its room was smaller than both its amount and the
credits available.

Money is exact everywhere. Decimal buffers are read as integers. The fast path rescales every
amount, limit and credit to the smallest common scale ``s <= 12`` at which they are integers and
runs :func:`_kernel` compiled by numba over int64 arrays, after checking that nothing can exceed
2**62. Otherwise (small input, values too large, or ``engine="python"``) the same
:func:`_kernel` source runs as plain Python over lists of Python ints at scale 12, so the two
engines cannot disagree. numba and numpy are imported only on the fast path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from billing.errors import BillingError

SCALE = 12
DECIMAL = pa.decimal128(38, SCALE)
DRAW = pa.struct([("purchase_id", pa.string()), ("amount", DECIMAL)])
# Below this many events engine="auto" stays in Python and never imports numba. A fresh process
# pays ~0.55 s to import numba and ~0.5 s to load the cached kernel (~0.9 s to compile it when no
# cache exists); the Python engine runs ~500k events/s, so numba only pays off from ~600k events.
SMALL = 500_000
SAFE = 2**62  # every int64 the fast path holds (amounts, limits, per-entity credit sums) < this
MAX_DECIMAL = 10**38  # decimal128(38, s) holds |unscaled| < 10**38

UTC_US = pa.timestamp("us", tz="UTC")
#: An identity: text (the ids themselves) or integers standing for them (e.g. entity_key), which
#: the kernel only compares; a caller with tens of millions of events passes integers, cheaper to
#: sort and hand over than strings.
KEY = "key"
EVENT_COLUMNS = {
    "event_id": KEY,  # optional: when given, checked ascending at one instant of an entity
    "entity_id": KEY,
    "user_id": KEY,
    "occurred_at": UTC_US,
    "occurred_us": pa.int64(),
    "period": KEY,  # ordered like the periods (YYYY-MM text, or e.g. yyyymm integers)
    "amount": None,  # any decimal; read at scale 12
    "credit_limit": None,
}
OPTIONAL_EVENT_COLUMNS = frozenset({"event_id"})
LOT_COLUMNS = {
    "entity_id": KEY,  # the same kind as the events' entity_id
    "purchase_id": pa.string(),
    "purchased_us": pa.int64(),
    "expires_us": pa.int64(),
    "credits": None,
}
OUTPUT = pa.schema(
    [
        ("event_id", pa.string()),
        ("entity_id", pa.string()),
        ("user_id", pa.string()),
        ("occurred_at", pa.timestamp("us", tz="UTC")),
        ("period", pa.string()),
        ("amount", DECIMAL),
        ("credit_limit", DECIMAL),
        ("user_room_before", DECIMAL),
        ("balance_before", DECIMAL),
        ("credits_drawn", DECIMAL),
        ("balance_after", DECIMAL),
        ("is_overage", pa.bool_()),
        ("draws", pa.list_(DRAW)),
    ]
)

_jitted: Any = None


# --------------------------------------------------------------------------------- the kernel


def _kernel(
    ev_start,
    lot_start,
    usr,
    per,
    t,
    amt,
    lim,
    has_lim,
    lot_bought,
    lot_expires,
    lot_left,
    used,
    used_seg,
    room_out,
    before_out,
    drawn_out,
    after_out,
    over_out,
    draw_off,
    draw_lot,
    draw_amt,
):
    """The drawdown over integer money, for numba (numpy arrays) and Python (lists of ints).

    Entities are rows ``ev_start[e]:ev_start[e+1]`` of the events and ``lot_start[e]:
    lot_start[e+1]`` of the lots, the lots sorted by (expires, purchased, purchase_id).
    ``lot_left`` starts as the lots' credits and is drawn down in place. ``used``/``used_seg`` hold
    what each user drew in the current (entity, period) segment: a stale segment number means 0.
    Writes per event outputs and the draws (CSR by event: ``draw_off``); returns the draw count.
    """
    nd = 0
    seg = 0
    for e in range(len(ev_start) - 1):
        lo = lot_start[e]
        hi = lot_start[e + 1]
        cur_per = -1
        for i in range(ev_start[e], ev_start[e + 1]):
            if per[i] != cur_per:
                cur_per = per[i]
                seg += 1
            now = t[i]
            # lots are sorted by expiry, so those expired by now are a prefix: forfeit them
            while lo < hi and lot_expires[lo] <= now:
                lo += 1
            avail = 0
            for j in range(lo, hi):
                if lot_bought[j] <= now:
                    avail += lot_left[j]
            amount = amt[i]
            want = amount if amount < avail else avail
            u = usr[i]
            if used_seg[u] != seg:
                used_seg[u] = seg
                used[u] = 0
            room = 0
            over = False
            if has_lim[i]:
                room = lim[i] - used[u]
                if room < 0:
                    room = 0
                if room < want:
                    want = room
                over = room < amount and room < avail
            used[u] += want
            room_out[i] = room
            before_out[i] = avail
            drawn_out[i] = want
            after_out[i] = avail - want
            over_out[i] = over
            draw_off[i] = nd
            j = lo
            while want > 0:
                left = lot_left[j]
                if left > 0 and lot_bought[j] <= now:
                    take = left if left < want else want
                    lot_left[j] = left - take
                    want -= take
                    draw_lot[nd] = j
                    draw_amt[nd] = take
                    nd += 1
                j += 1
    draw_off[len(draw_off) - 1] = nd
    return nd


# ---------------------------------------------------------------------------- shared preparation


@dataclass
class _Prepared:
    """Integer-coded inputs shared by both engines (all plain Python or pyarrow)."""

    events: pa.Table
    ev_start: list[int]  # CSR: entity e owns event rows ev_start[e]:ev_start[e+1]
    users: pa.Array  # int32 user code per event
    n_users: int
    periods: pa.Array  # int32 rank of the period (order-preserving) per event
    lot_start: list[int]  # CSR into the sorted lots
    lot_pid: list[str]
    lot_bought: list[int]
    lot_expires: list[int]
    lot_credits: list[int]  # units of 10**-12


def _one_chunk(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _is_key_type(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)


def _check_columns(
    table: pa.Table,
    wanted: dict[str, pa.DataType | str | None],
    what: str,
    optional: frozenset[str] = frozenset(),
) -> None:
    for name, kind in wanted.items():
        if name not in table.column_names:
            if name in optional:
                continue
            raise BillingError(f"draw_down: {what} has no column {name!r}")
        got = table.schema.field(name).type
        if kind == KEY:
            if not _is_key_type(got):
                raise BillingError(f"draw_down: {what}.{name} must be text or integers, not {got}")
            continue
        if kind is None and not pa.types.is_decimal(got):
            raise BillingError(f"draw_down: {what}.{name} must be a decimal, not {got}")
        if kind == UTC_US and pa.types.is_timestamp(got) and got.unit == "us" and got.tz:
            continue  # any zone: the same instants, handed back in UTC
        if kind is not None and got != kind:
            raise BillingError(f"draw_down: {what}.{name} must be {kind}, not {got}")


def _first_true(mask: pa.Array) -> int | None:
    if not pc.any(mask).as_py():
        return None
    return pc.index(mask, True).as_py()


def _unsorted(events: pa.Table, row: int, why: str) -> BillingError:
    which = f"events row {row}"
    if "event_id" in events.column_names:
        which += f" (event_id {events['event_id'][row].as_py()!r})"
    return BillingError(
        f"draw_down: {which}: events must be sorted by (entity_id, occurred_us, event_id); {why}"
    )


def _prepare(events: pa.Table, lots: pa.Table) -> _Prepared:
    _check_columns(events, EVENT_COLUMNS, "events", OPTIONAL_EVENT_COLUMNS)
    _check_columns(lots, LOT_COLUMNS, "lots")
    events = events.select([c for c in EVENT_COLUMNS if c in events.column_names])
    events = events.combine_chunks()
    for name in ("event_id", "entity_id", "user_id", "occurred_us", "period", "amount"):
        if name not in events.column_names:
            continue
        nulls = events[name].null_count
        if nulls:
            row = _first_true(pc.is_null(_one_chunk(events[name])))
            raise BillingError(f"draw_down: events row {row}: {name} is null")
    amount = _one_chunk(events["amount"])
    limit = _one_chunk(events["credit_limit"])
    for name, column in (("amount", amount), ("credit_limit", limit)):
        row = _first_true(pc.fill_null(pc.less(column, pa.scalar(0, column.type)), False))
        if row is not None:
            raise BillingError(f"draw_down: events row {row}: {name} is negative")

    entity = _one_chunk(events["entity_id"])
    t = _one_chunk(events["occurred_us"])
    n = len(entity)
    head, tail = slice(0, n - 1), slice(1, n)
    new_entity = pc.not_equal(entity[tail], entity[head])
    same_entity = pc.invert(new_entity)
    starts = [0] + [i + 1 for i in pc.indices_nonzero(new_entity).to_pylist()]
    names = pc.take(entity, pa.array(starts, pa.int64()))
    if len(starts) > 1:
        back = _first_true(pc.less_equal(names[1:], names[:-1]))
        if back is not None:
            raise _unsorted(
                events, starts[back + 1], f"entity {names[back + 1]} after {names[back]}"
            )
    row = _first_true(pc.and_(same_entity, pc.less(t[tail], t[head])))
    if row is not None:
        raise _unsorted(events, row + 1, "occurred_us goes back in time within the entity")
    tie = pc.and_(same_entity, pc.equal(t[tail], t[head]))
    # without event_id the caller vouches for the order at one instant
    if "event_id" in events.column_names and pc.any(tie).as_py():
        event_id = _one_chunk(events["event_id"])
        at = pc.indices_nonzero(tie)
        bad = _first_true(pc.greater(pc.take(event_id, at), pc.take(event_id[tail], at)))
        if bad is not None:
            raise _unsorted(events, at[bad].as_py() + 1, "event_id out of order at one instant")

    period_codes = pc.dictionary_encode(_one_chunk(events["period"]))
    labels = period_codes.dictionary.to_pylist()
    rank = {label: r for r, label in enumerate(sorted(labels))}
    periods = pc.take(pa.array([rank[x] for x in labels], pa.int32()), period_codes.indices)
    row = _first_true(pc.and_(same_entity, pc.less(periods[tail], periods[head])))
    if row is not None:
        raise _unsorted(events, row + 1, "period goes back within the entity")
    user_codes = pc.dictionary_encode(_one_chunk(events["user_id"]))

    return _Prepared(
        events=events,
        ev_start=[*starts, n],
        users=user_codes.indices,
        n_users=len(user_codes.dictionary),
        periods=periods,
        **_prepare_lots(lots, names),
    )


def _prepare_lots(lots: pa.Table, names: pa.Array) -> dict[str, list]:
    """The usable lots of the events' entities, sorted and cut per entity (CSR)."""
    lot_entities = _one_chunk(lots["entity_id"])
    if lot_entities.type != names.type:
        if pa.types.is_integer(lot_entities.type) != pa.types.is_integer(names.type):
            raise BillingError(
                f"draw_down: lots.entity_id ({lot_entities.type}) and events.entity_id "
                f"({names.type}) must be of the same kind"
            )
        lot_entities = lot_entities.cast(names.type)
    codes = pc.index_in(lot_entities, value_set=names)
    keep = pc.is_valid(codes)
    kept = lots.filter(keep)
    for name in LOT_COLUMNS:
        if kept[name].null_count:
            row = _first_true(pc.and_(keep, pc.is_null(_one_chunk(lots[name]))))
            raise BillingError(f"draw_down: lots row {row}: {name} is null")
    rows = sorted(
        (code, expires, bought, pid, credits)
        for code, pid, bought, expires, credits in zip(
            pc.filter(codes, keep).to_pylist(),
            kept["purchase_id"].to_pylist(),
            kept["purchased_us"].to_pylist(),
            kept["expires_us"].to_pylist(),
            decimal_units(_one_chunk(kept["credits"])),
            strict=True,
        )
        if credits > 0 and expires > bought
    )
    lot_start = [0] * (len(names) + 1)
    for code, *_ in rows:
        lot_start[code + 1] += 1
    for e in range(len(names)):
        lot_start[e + 1] += lot_start[e]
    return {
        "lot_start": lot_start,
        "lot_pid": [r[3] for r in rows],
        "lot_bought": [r[2] for r in rows],
        "lot_expires": [r[1] for r in rows],
        "lot_credits": [r[4] for r in rows],
    }


# ------------------------------------------------------------------------ exact decimal <-> int


def decimal_units(arr: pa.Array, null_units: int = 0) -> list[int]:
    """A decimal Arrow array as Python ints in units of 10**-12 (nulls become ``null_units``)."""
    if arr.type != DECIMAL:
        arr = arr.cast(DECIMAL)  # exact or raises: a larger scale only adds zeros
    if len(arr) == 0:
        return []
    raw = memoryview(arr.buffers()[1])[arr.offset * 16 : (arr.offset + len(arr)) * 16]
    words = raw.cast("q")  # little-endian int128: low 64 bits (unsigned), then high (signed)
    lows, highs = words[0::2].tolist(), words[1::2].tolist()
    if any(highs):
        values = [h * 2**64 + (lo % 2**64) for lo, h in zip(lows, highs, strict=True)]
    else:
        values = lows
    if arr.null_count:
        valid = arr.is_valid().to_pylist()
        values = [v if ok else null_units for v, ok in zip(values, valid, strict=True)]
    return values


def decimal_array(units: list[int]) -> pa.Array:
    """Python ints in units of 10**-12 as an exact decimal(38, 12) array."""
    for value in units:
        if not -MAX_DECIMAL < value < MAX_DECIMAL:
            raise BillingError(f"draw_down: {Decimal(value).scaleb(-SCALE)} overflows decimal(38)")
    payload = b"".join(u.to_bytes(16, "little", signed=True) for u in units)
    return pa.Array.from_buffers(DECIMAL, len(units), [None, pa.py_buffer(payload)])


# ----------------------------------------------------------------------------- the two engines


def _run_python(prep: _Prepared) -> dict[str, Any]:
    n = prep.events.num_rows
    amount = decimal_units(_one_chunk(prep.events["amount"]))
    limit_column = _one_chunk(prep.events["credit_limit"])
    limit = decimal_units(limit_column)
    has_limit = limit_column.is_valid().to_pylist()
    room, before, drawn, after = [0] * n, [0] * n, [0] * n, [0] * n
    over = [False] * n
    capacity = n + len(prep.lot_pid)
    draw_off, draw_lot, draw_amt = [0] * (n + 1), [0] * capacity, [0] * capacity
    nd = _kernel(
        prep.ev_start,
        prep.lot_start,
        prep.users.to_pylist(),
        prep.periods.to_pylist(),
        _one_chunk(prep.events["occurred_us"]).to_pylist(),
        amount,
        limit,
        has_limit,
        prep.lot_bought,
        prep.lot_expires,
        list(prep.lot_credits),
        [0] * prep.n_users,
        [0] * prep.n_users,
        room,
        before,
        drawn,
        after,
        over,
        draw_off,
        draw_lot,
        draw_amt,
    )
    return {
        "user_room_before": decimal_array(room),
        "balance_before": decimal_array(before),
        "credits_drawn": decimal_array(drawn),
        "balance_after": decimal_array(after),
        "is_overage": pa.array(over, pa.bool_()),
        "draw_off": pa.array(draw_off, pa.int32()),
        "draw_lot": pa.array(draw_lot[:nd], pa.int64()),
        "draw_amt": decimal_array(draw_amt[:nd]),
    }


def _int64_columns(prep: _Prepared) -> tuple[int, Any, Any, Any, list[int]] | None:
    """Amounts, limits, validity and lot credits as int64 at the smallest common scale.

    Returns (scale, amounts, limits, has_limit, lot credits) or None when some value, or some
    entity's credits in total, would reach 2**62 at that scale.
    """
    import numpy as np

    columns = []
    bigs: list[tuple[int, list[int], list[int]]] = []  # (column, rows, python ints)
    for c, name in enumerate(("amount", "credit_limit")):
        arr = _one_chunk(prep.events[name])
        if arr.type != DECIMAL:
            arr = arr.cast(DECIMAL)
        words = np.frombuffer(arr.buffers()[1], np.int64, 2 * len(arr), arr.offset * 16)
        lo, hi = words[0::2], words[1::2]
        valid = None
        if arr.null_count:
            valid = arr.is_valid().to_numpy(zero_copy_only=False)
            lo, hi = np.where(valid, lo, 0), np.where(valid, hi, 0)
        big = np.flatnonzero(hi != (lo >> 63))
        if len(big):
            bigs.append(
                (
                    c,
                    big.tolist(),
                    [
                        h * 2**64 + (x % 2**64)
                        for x, h in zip(lo[big].tolist(), hi[big].tolist(), strict=True)
                    ],
                )
            )
            lo = lo.copy()
            lo[big] = 0
        columns.append((lo, valid))
    # the scale: a candidate from a sample, lowered until the lots and every value agree
    zeros = SCALE
    for lo, _ in columns:
        sample = lo[:4096]
        while zeros and np.any(sample % 10**zeros):
            zeros -= 1
    for value in [*prep.lot_credits, *(v for _, _, vals in bigs for v in vals)]:
        while zeros and value % 10**zeros:
            zeros -= 1
    while zeros and any(np.any(lo % 10**zeros) for lo, _ in columns):
        zeros -= 1
    step = 10**zeros
    scaled = [lo // step if zeros else lo.copy() for lo, _ in columns]
    for c, rows, values in bigs:
        for row, value in zip(rows, values, strict=True):
            if abs(value // step) >= SAFE:
                return None
            scaled[c][row] = value // step
    for arr in scaled:
        if len(arr) and (arr.max() >= SAFE or arr.min() <= -SAFE):
            return None
    credits = [v // step for v in prep.lot_credits]
    for e in range(len(prep.lot_start) - 1):
        if sum(credits[prep.lot_start[e] : prep.lot_start[e + 1]]) >= SAFE:
            return None
    has_limit = columns[1][1]
    if has_limit is None:
        has_limit = np.ones(prep.events.num_rows, np.bool_)
    return SCALE - zeros, scaled[0], scaled[1], has_limit, credits


def _decimal_words(n: int) -> Any:
    """An (n, 2) int64 array: little-endian int128 words; the kernel writes column 0."""
    import numpy as np

    return np.empty((n, 2), np.int64)


def _decimal_from_words(words: Any, n: int, scale: int) -> pa.Array:
    """The first n rows of ``words`` (low words hold int64 units of 10**-scale) as an exact
    decimal(38, 12) array, widened in place: no copy of the values."""
    import numpy as np

    low = words[:n, 0]
    step = 10 ** (SCALE - scale)
    if step > 1 and n and max(low.max(), -low.min()) < 2**63 // step:
        np.multiply(low, step, out=low)  # exact in int64: cheaper than a decimal cast
        scale = SCALE
    np.right_shift(low, 63, out=words[:n, 1])
    arr = pa.Array.from_buffers(pa.decimal128(38, scale), n, [None, pa.py_buffer(words)])
    return arr if scale == SCALE else arr.cast(DECIMAL)


def _compiled() -> Any:
    global _jitted
    if _jitted is None:
        if not os.environ.get("NUMBA_CACHE_DIR"):
            # the compiled kernel is cached in the per-user cache, never beside the installed
            # package (which may be read-only: numba would then warn and recompile every time)
            from billing.runtime import billing_cache_dir

            os.environ["NUMBA_CACHE_DIR"] = str(billing_cache_dir() / "numba")
        import numba

        _jitted = numba.njit(cache=True, nogil=True)(_kernel)
    return _jitted


def _run_numba(prep: _Prepared, fitted: tuple) -> dict[str, Any]:
    import numpy as np

    scale, amount, limit, has_limit, credits = fitted
    n = prep.events.num_rows
    capacity = n + len(prep.lot_pid)  # each draw ends its event or empties its lot
    if capacity >= 2**31:
        raise BillingError(
            f"draw_down: {n} events and {len(prep.lot_pid)} lots are more than "
            "one call can list; split the input by entity"
        )
    i64 = np.int64
    room, before, drawn, after = (_decimal_words(n) for _ in range(4))
    draw_amt = _decimal_words(capacity)
    over = np.empty(n, np.bool_)
    draw_off, draw_lot = np.empty(n + 1, np.int32), np.empty(capacity, np.int32)
    nd = _compiled()(
        np.asarray(prep.ev_start, i64),
        np.asarray(prep.lot_start, i64),
        prep.users.to_numpy(),
        prep.periods.to_numpy(),
        _one_chunk(prep.events["occurred_us"]).to_numpy(),
        amount,
        limit,
        np.ascontiguousarray(has_limit, np.bool_),
        np.asarray(prep.lot_bought, i64),
        np.asarray(prep.lot_expires, i64),
        np.asarray(credits, i64),
        np.zeros(prep.n_users, i64),
        np.zeros(prep.n_users, i64),
        room[:, 0],
        before[:, 0],
        drawn[:, 0],
        after[:, 0],
        over,
        draw_off,
        draw_lot,
        draw_amt[:, 0],
    )
    return {
        "user_room_before": _decimal_from_words(room, n, scale),
        "balance_before": _decimal_from_words(before, n, scale),
        "credits_drawn": _decimal_from_words(drawn, n, scale),
        "balance_after": _decimal_from_words(after, n, scale),
        "is_overage": pa.array(over),
        "draw_off": pa.array(draw_off),
        "draw_lot": pa.array(draw_lot[:nd]),
        "draw_amt": _decimal_from_words(draw_amt, nd, scale),
    }


# ------------------------------------------------------------------------------------ the API


def _as_decimal(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column if column.type == DECIMAL else column.cast(DECIMAL)


IDENTITIES = ("event_id", "entity_id", "user_id", "period")


def _output_schema(events: pa.Table) -> pa.Schema:
    """OUTPUT, with the identities as given (text or integers; no event_id if none was given)."""
    fields = []
    for field in OUTPUT:
        if field.name in IDENTITIES:
            if field.name not in events.column_names:
                continue
            field = field.with_type(events.schema.field(field.name).type)
        fields.append(field)
    return pa.schema(fields)


def draw_down(events: pa.Table, lots: pa.Table, *, engine: str = "auto") -> pa.Table:
    """One row per event (input order) with its room, balances, credits drawn and lot draws.

    ``events`` must be sorted by (entity_id, occurred_us, event_id) (checked: entities
    contiguous and ascending, time and period never going back within an entity, event_id
    ascending at one instant; BillingError otherwise). entity_id, user_id and period may be
    text or integers standing for them (``lots.entity_id`` of the same kind); event_id may be
    left out, and the order at one instant is then the caller's word. The output carries the
    identities as given. ``engine``: "numba" (int64 kernel;
    BillingError when the values do not fit int64), "python" (same kernel over Python ints),
    or "auto" (python below SMALL = 500,000 events or when the values do not fit int64, numba
    otherwise).
    """
    if engine not in ("auto", "numba", "python"):
        raise BillingError(f"draw_down: engine must be auto, numba or python, not {engine!r}")
    if events.num_rows == 0:
        _check_columns(events, EVENT_COLUMNS, "events", OPTIONAL_EVENT_COLUMNS)
        return _output_schema(events).empty_table()
    prep = _prepare(events, lots)
    fitted = None
    if engine == "numba" or (engine == "auto" and events.num_rows >= SMALL):
        fitted = _int64_columns(prep)
        if fitted is None and engine == "numba":
            raise BillingError(
                "draw_down: money values too large for the int64 kernel "
                "(use engine='python' or 'auto')"
            )
    out = _run_numba(prep, fitted) if fitted is not None else _run_python(prep)

    ev = prep.events
    has_limit = pc.is_valid(_one_chunk(ev["credit_limit"]))
    room = pc.if_else(has_limit, out["user_room_before"], pa.scalar(None, DECIMAL))
    pids = pc.take(pa.array(prep.lot_pid, pa.string()), out["draw_lot"])
    draws = pa.ListArray.from_arrays(
        out["draw_off"], pa.StructArray.from_arrays([pids, out["draw_amt"]], fields=list(DRAW))
    )
    given = [name for name in ("event_id", "entity_id", "user_id") if name in ev.column_names]
    columns = [
        *(ev[name] for name in given),
        ev["occurred_at"].cast(UTC_US),
        ev["period"],
        _as_decimal(ev["amount"]),
        _as_decimal(ev["credit_limit"]),
        room,
        out["balance_before"],
        out["credits_drawn"],
        out["balance_after"],
        out["is_overage"],
        draws,
    ]
    return pa.Table.from_arrays(
        [c if isinstance(c, pa.ChunkedArray) else pa.chunked_array([c]) for c in columns],
        schema=_output_schema(ev),
    )
