"""Marketplace events, generated a chunk at a time with vectorized pyarrow compute.

Row ``i`` of the event stream depends only on (seed, i): see :mod:`.rand`. Each row gets an
entity (skewed: a few large entities, many small), a member user of that entity (skewed: a few
busy users), an event type, a local day and time of day (business hours, quieter weekends,
slow growth), a quantity and, for percentage-priced types, an amount. About 0.1% of the rows
are made bad on purpose, one rejection reason each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pyarrow as pa
import pyarrow.compute as pc

from . import catalog as cat
from .rand import below, choose, lookup_table, uniform
from .timezones import naive_seconds, offset_text, transitions, utc_seconds
from .world import World

#: Column order of the contract's marketplace_events table.
EVENT_COLUMNS = (
    "event_id",
    "entity_id",
    "user_id",
    "event_type",
    "occurred_at",
    "quantity",
    "amount",
)
#: The rejection reason each kind of bad row is made to hit, by kind number.
BAD_KINDS = (
    "invalid_timestamp",
    "invalid_quantity",
    "invalid_amount",
    "unknown_entity",
    "unknown_user",
    "user_not_in_entity",
    "no_price",
)
BAD_RATE = 0.001
REPLAY_RATE = 0.001
CONFLICTS = 2
UNKNOWN_ENTITY = "ent_000"  # entity ids start at ent_001
UNKNOWN_USER = "usr_00000"  # user ids start at usr_00001

# Random streams (one per independent draw of a row).
(
    S_ENTITY,
    S_USER,
    S_TYPE,
    S_DAY,
    S_HOUR,
    S_SECOND,
    S_QUANTITY,
    S_QUANTITY_EMPTY,
    S_AMOUNT,
    S_UTC,
    S_BAD,
    S_BAD_KIND,
    S_BAD_VARIANT,
    S_REPLAY,
    S_CONFLICT,
) = range(1, 16)

_HOUR_WEIGHTS = (
    0.3,
    0.2,
    0.1,
    0.1,
    0.1,
    0.2,
    0.5,
    1.2,
    2.5,
    4.0,
    4.5,
    4.5,
    3.5,
    4.0,
    4.5,
    4.2,
    3.8,
    3.0,
    2.2,
    1.8,
    1.5,
    1.2,
    0.9,
    0.6,
)
_WEEKDAY_WEIGHTS = (1.0, 1.05, 1.05, 1.0, 0.9, 0.35, 0.25)


def _s(value: str | None) -> pa.Scalar:
    return pa.scalar(value, pa.string())


def _i64(values: list[int]) -> pa.Array:
    return pa.array(values, pa.int64())


@dataclass
class EventChunk:
    table: pa.Table  # the contract's columns, all strings
    bad_kind: pa.Array  # int16 kind per row (null = a good row)


class EventSource:
    """Everything needed to draw rows; build once, call :meth:`rows` per chunk."""

    def __init__(self, world: World, *, events: int, seed: int) -> None:
        self.seed = seed
        self.n_events = events
        entities = world.entities
        window = world.window
        self.entity_ids = pa.array([e.entity_id for e in entities], pa.string())
        self.entity_table = lookup_table([e.weight for e in entities])

        zones = sorted({e.timezone for e in entities})
        self.entity_zone = pa.array([zones.index(e.timezone) for e in entities], pa.int32())
        lo = min(utc_seconds(window.start, z) for z in zones) - 2 * 86400
        hi = max(utc_seconds(window.end, z) for z in zones) + 2 * 86400
        zone_base: list[int] = []
        self.transitions: list[tuple[int, int, int]] = []
        for k, zone in enumerate(zones):
            base, changes = transitions(zone, lo, hi)
            zone_base.append(base)
            self.transitions += [(k, when, after) for when, after in changes]
        self.zone_base = _i64(zone_base)
        offsets = sorted(set(zone_base) | {after for _, _, after in self.transitions})
        self.offset_values = _i64(offsets)
        self.offset_texts = pa.array([offset_text(o) for o in offsets], pa.string())

        self.entity_minor = _i64([e.currency.minor for e in entities])
        self.minor_digits = sorted({e.currency.minor for e in entities} - {0})
        self.amount_base = _i64(
            [int(e.currency.nice(cat.PAID_INVOICE_BASE).scaleb(e.currency.minor)) for e in entities]
        )
        counts = [len(e.members) for e in entities]
        self.member_count = _i64(counts)
        self.member_offset = _i64([sum(counts[:i]) for i in range(len(counts))])
        self.members = pa.array([u for e in entities for u in e.members], pa.string())
        self.outsiders = pa.array([e.outsider for e in entities], pa.string())

        types = cat.EVENT_TYPES
        self.type_names = pa.array([t.name for t in types], pa.string())
        self.type_table = lookup_table([t.weight for t in types])
        self.type_quantity_max = _i64([t.quantity_max for t in types])
        self.type_percentage = pa.array([t.model == "percentage" for t in types], pa.bool_())

        day_weights = []
        for d in range(window.total_days):
            day = window.start + timedelta(days=d)
            day_weights.append(_WEEKDAY_WEIGHTS[day.weekday()] * (1 + 0.3 * d / window.total_days))
        self.day_table = lookup_table(day_weights)
        self.hour_table = lookup_table(_HOUR_WEIGHTS)
        self.base_local = naive_seconds(window.start)

        forced = [(2 * k + 1) * events // (2 * len(BAD_KINDS) + 1) for k in range(len(BAD_KINDS))]
        if events < 100:
            forced = []
        self.forced_index = pa.array(forced, pa.uint64())
        self.forced_kind = pa.array(range(len(forced)), pa.int16())

    # -- rows ----------------------------------------------------------------------------
    def _offset(self, zone: pa.Array, instant: pa.Array) -> pa.Array:
        """UTC offset (seconds) of each row's zone at each instant (seconds since epoch)."""
        off = pc.take(self.zone_base, zone)
        for k, when, after in self.transitions:
            hit = pc.and_(pc.equal(zone, k), pc.greater_equal(instant, when))
            off = pc.if_else(hit, after, off)
        return off

    def rows(self, index: pa.Array) -> EventChunk:
        """The rows at these stream positions (uint64), with their bad kinds."""
        seed = self.seed

        def u(stream: int) -> pa.Array:
            return uniform(index, seed, stream)

        entity = choose(u(S_ENTITY), self.entity_table)
        u_user = u(S_USER)
        member = pc.add(
            pc.take(self.member_offset, entity),
            below(pc.multiply(u_user, u_user), pc.take(self.member_count, entity)),
        )
        user = pc.take(self.members, member)
        etype = choose(u(S_TYPE), self.type_table)

        # Local wall-clock time, then the instant and the offset in force then.
        day = pc.cast(choose(u(S_DAY), self.day_table), pa.int64())
        hour = pc.cast(choose(u(S_HOUR), self.hour_table), pa.int64())
        local = pc.add(
            pc.add(pc.multiply(day, 86400), pc.multiply(hour, 3600)),
            pc.add(below(u(S_SECOND), 3600), self.base_local),
        )
        zone = pc.take(self.entity_zone, entity)
        utc = pc.subtract(local, pc.take(self.zone_base, zone))
        for _ in range(2):
            utc = pc.subtract(local, self._offset(zone, utc))
        offset = self._offset(zone, utc)
        in_utc = pc.less(u(S_UTC), 0.3)
        shown = pc.if_else(in_utc, utc, pc.add(utc, offset))
        # "YYYY-MM-DD HH:MM:SS" from a cast (much faster than strftime), then the "T".
        stamp = pc.utf8_replace_slice(
            pc.cast(pc.cast(shown, pa.timestamp("s")), pa.string()),
            start=10,
            stop=11,
            replacement="T",
        )
        suffix = pc.if_else(
            in_utc,
            _s("Z"),
            pc.take(self.offset_texts, pc.index_in(offset, value_set=self.offset_values)),
        )

        # Quantity 1..max, skewed to 1; a quantity of 1 is often left empty (default 1).
        u_q = u(S_QUANTITY)
        qmax = pc.take(self.type_quantity_max, etype)
        qty = pc.add(
            pc.min_element_wise(
                below(pc.multiply(pc.multiply(u_q, u_q), u_q), qmax), pc.subtract(qmax, 1)
            ),
            1,
        )
        qty_text = pc.cast(qty, pa.string())
        empty = pc.and_(pc.equal(qty, 1), pc.less(u(S_QUANTITY_EMPTY), 0.5))
        quantity = pc.if_else(empty, _s(None), qty_text)

        # Amount (percentage types only): log-uniform x1 .. x300 of a typical invoice.
        minor_units = pc.cast(
            pc.floor(
                pc.multiply(
                    pc.cast(pc.take(self.amount_base, entity), pa.float64()),
                    pc.power(10.0, pc.multiply(u(S_AMOUNT), 2.5)),
                )
            ),
            pa.int64(),
        )
        amount = pc.if_else(
            pc.take(self.type_percentage, etype),
            self._decimal_text(minor_units, pc.take(self.entity_minor, entity)),
            _s(None),
        )

        event_id = pc.binary_join_element_wise(
            _s("evt_"),
            pc.utf8_lpad(pc.cast(pc.add(index, 1), pa.string()), width=10, padding="0"),
            "",
        )
        entity_id = pc.take(self.entity_ids, entity)
        event_type = pc.take(self.type_names, etype)

        # Bad rows: about BAD_RATE at random, plus one of each kind at fixed positions.
        forced = pc.take(self.forced_kind, pc.index_in(index, value_set=self.forced_index))
        random_kind = pc.cast(below(u(S_BAD_KIND), len(BAD_KINDS)), pa.int16())
        kind = pc.coalesce(
            forced,
            pc.if_else(pc.less(u(S_BAD), BAD_RATE), random_kind, pa.scalar(None, pa.int16())),
        )

        def is_kind(name: str) -> pa.Array:
            return pc.fill_null(pc.equal(kind, BAD_KINDS.index(name)), False)

        suffix = pc.if_else(is_kind("invalid_timestamp"), _s(""), suffix)
        bad_qty = pc.if_else(
            pc.less(u(S_BAD_VARIANT), 0.5),
            _s("0"),
            pc.binary_join_element_wise(_s("-"), qty_text, ""),
        )
        quantity = pc.if_else(is_kind("invalid_quantity"), bad_qty, quantity)
        no_amount = is_kind("invalid_amount")
        event_type = pc.if_else(no_amount, _s("invoice_paid"), event_type)
        quantity = pc.if_else(no_amount, _s(None), quantity)
        entity_id = pc.if_else(is_kind("unknown_entity"), _s(UNKNOWN_ENTITY), entity_id)
        user = pc.if_else(is_kind("unknown_user"), _s(UNKNOWN_USER), user)
        user = pc.if_else(is_kind("user_not_in_entity"), pc.take(self.outsiders, entity), user)
        unpriced = is_kind("no_price")
        event_type = pc.if_else(unpriced, _s(cat.UNPRICED_EVENT_TYPE), event_type)
        amount = pc.if_else(pc.or_(no_amount, unpriced), _s(None), amount)

        occurred_at = pc.binary_join_element_wise(stamp, suffix, "")
        table = pa.table(
            [event_id, entity_id, user, event_type, occurred_at, quantity, amount],
            names=list(EVENT_COLUMNS),
        )
        return EventChunk(table, kind)

    def _decimal_text(self, minor_units: pa.Array, minor: pa.Array) -> pa.Array:
        """Exact decimal text of integer minor units, with each row's number of decimals."""
        text = pc.cast(minor_units, pa.string())
        for digits in self.minor_digits:
            scale = 10**digits
            whole = pc.cast(pc.divide(minor_units, scale), pa.string())
            frac = pc.utf8_lpad(
                pc.cast(
                    pc.subtract(minor_units, pc.multiply(pc.divide(minor_units, scale), scale)),
                    pa.string(),
                ),
                width=digits,
                padding="0",
            )
            with_digits = pc.binary_join_element_wise(whole, frac, ".")
            text = pc.if_else(pc.equal(minor, digits), with_digits, text)
        return text

    # -- replays and conflicting duplicates ------------------------------------------------
    def extras(
        self, part: int, upto: int, rows: int, *, conflicts: int
    ) -> tuple[pa.Table, int, int]:
        """Rows appended to a part: replays of earlier good rows (same event_id, same content)
        and ``conflicts`` conflicting copies (same event_id, another quantity).

        ``rows`` is the part's own row count; sources are drawn from stream positions < upto.
        Returns (table, replays, conflicting duplicates).
        """
        wanted = round(rows * REPLAY_RATE) if rows >= 50 else 0
        if upto < 50:
            conflicts = 0
        tables = []
        replays = self._good_sources(part, upto, wanted, S_REPLAY, distinct=False)
        tables.append(replays)
        copies = self._good_sources(part, upto, conflicts, S_CONFLICT, distinct=True)
        if copies.num_rows:
            q = copies.column("quantity")
            one = pc.fill_null(pc.equal(q, "1"), True)
            copies = copies.set_column(
                EVENT_COLUMNS.index("quantity"), "quantity", pc.if_else(one, _s("2"), _s("1"))
            )
        tables.append(copies)
        return pa.concat_tables(tables), replays.num_rows, copies.num_rows

    def _good_sources(
        self, part: int, upto: int, count: int, stream: int, *, distinct: bool
    ) -> pa.Table:
        if count <= 0:
            return self.rows(pa.array([], pa.uint64())).table
        draws = pa.array([(part << 32) + k for k in range(count * 4)], pa.uint64())
        picks = pc.cast(below(uniform(draws, self.seed, stream), upto), pa.uint64())
        if distinct:
            picks = pc.unique(picks)
        chunk = self.rows(picks)
        good = chunk.table.filter(pc.is_null(chunk.bad_kind))
        return good.slice(0, count)
