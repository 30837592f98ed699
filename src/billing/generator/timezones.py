"""Time-zone facts the generator needs: offsets, DST transitions, ISO-8601 strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1)


def naive_seconds(local: datetime) -> int:
    """Seconds since 1970-01-01T00:00 of a naive (wall-clock) datetime."""
    return int((local - EPOCH).total_seconds())


def offset_at(tz: str, utc_seconds: int) -> int:
    """The UTC offset in seconds of zone ``tz`` at an instant."""
    instant = datetime.fromtimestamp(utc_seconds, UTC)
    offset = instant.astimezone(ZoneInfo(tz)).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def transitions(tz: str, start_utc: int, end_utc: int) -> tuple[int, list[tuple[int, int]]]:
    """The offset at ``start_utc`` and each (instant, new offset) change up to ``end_utc``.

    Scans hour by hour, then bisects each change to the second.
    """
    base = offset_at(tz, start_utc)
    changes: list[tuple[int, int]] = []
    current, t = base, start_utc
    while t < end_utc:
        nxt = min(t + 3600, end_utc)
        after = offset_at(tz, nxt)
        if after != current:
            lo, hi = t, nxt  # offset(lo) == current, offset(hi) == after
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset_at(tz, mid) == current:
                    lo = mid
                else:
                    hi = mid
            changes.append((hi, after))
            current = after
        t = nxt
    return base, changes


def offset_text(seconds: int) -> str:
    """+02:00 style text of an offset in seconds."""
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def iso_instant(local: datetime, tz: str, *, as_utc: bool = False) -> str:
    """ISO-8601 text of a wall-clock time in ``tz``: with its local offset, or in UTC with Z."""
    aware = local.replace(tzinfo=ZoneInfo(tz))
    if as_utc:
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    offset = aware.utcoffset()
    assert offset is not None
    return local.strftime("%Y-%m-%dT%H:%M:%S") + offset_text(int(offset.total_seconds()))


def utc_seconds(local: datetime, tz: str) -> int:
    """The instant (seconds since the epoch) of a wall-clock time in ``tz``."""
    return int(local.replace(tzinfo=ZoneInfo(tz)).timestamp())


def add_months(first: datetime, months: int) -> datetime:
    """The 1st of the month ``months`` after the month of ``first`` (a 1st at midnight)."""
    index = first.year * 12 + first.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1)


def days(n: float) -> timedelta:
    return timedelta(days=n)
