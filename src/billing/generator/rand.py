"""Counter-based random numbers, vectorized with pyarrow.

Each random value is a pure function of (seed, stream, row index): SplitMix64 applied to
``index * golden + key(seed, stream)``. So a row can be regenerated alone (replays copy earlier
rows exactly), chunk sizes do not change the data, and the output does not depend on the
version of any library (the arithmetic is plain wrapping uint64 maths).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_C1 = 0xBF58476D1CE4E5B9
_C2 = 0x94D049BB133111EB

#: Resolution of the lookup tables used to draw from a discrete distribution.
TABLE_SIZE = 1 << 20


def splitmix64(x: int) -> int:
    """One SplitMix64 step on a Python int (used for stream keys and small draws)."""
    z = (x + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * _C1) & _MASK
    z = ((z ^ (z >> 27)) * _C2) & _MASK
    return z ^ (z >> 31)


def stream_key(seed: int, stream: int) -> int:
    """The 64-bit key of one named random stream of one seed."""
    return splitmix64(splitmix64(seed & _MASK) ^ (stream * 0x632BE59BD9B4E019 & _MASK))


def _u64(value: int) -> pa.Scalar:
    return pa.scalar(value, pa.uint64())


def _mix(z: pa.Array) -> pa.Array:
    z = pc.multiply(pc.bit_wise_xor(z, pc.shift_right(z, _u64(30))), _u64(_C1))
    z = pc.multiply(pc.bit_wise_xor(z, pc.shift_right(z, _u64(27))), _u64(_C2))
    return pc.bit_wise_xor(z, pc.shift_right(z, _u64(31)))


def uniform(index: pa.Array, seed: int, stream: int) -> pa.Array:
    """A float64 in [0, 1) per row index (uint64), for the given seed and stream."""
    z = pc.add(pc.multiply(index, _u64(_GOLDEN)), _u64(stream_key(seed, stream)))
    bits = pc.shift_right(_mix(z), _u64(11))
    return pc.multiply(pc.cast(bits, pa.float64()), 2.0**-53)


def below(u: pa.Array, n: pa.Array | int) -> pa.Array:
    """floor(u * n) as int64: a uniform integer in [0, n) from a uniform u in [0, 1)."""
    return pc.cast(
        pc.floor(pc.multiply(u, pc.cast(n, pa.float64()) if isinstance(n, pa.Array) else float(n))),
        pa.int64(),
    )


def lookup_table(weights: Sequence[float]) -> pa.Array:
    """An int32 table of TABLE_SIZE slots; slot j holds the category drawn for u in its slice.

    Every category with a positive weight gets at least one slot.
    """
    total = float(sum(weights))
    if total <= 0:
        raise ValueError("weights must have a positive sum")
    positive = [i for i, w in enumerate(weights) if w > 0]
    counts = [max(1, int(weights[i] / total * TABLE_SIZE)) for i in positive]
    # Give the rounding remainder to (or take it from) the heaviest category.
    heaviest = max(range(len(positive)), key=lambda k: counts[k])
    counts[heaviest] += TABLE_SIZE - sum(counts)
    slots: list[int] = []
    for category, count in zip(positive, counts, strict=True):
        slots.extend([category] * count)
    return pa.array(slots, pa.int32())


def choose(u: pa.Array, table: pa.Array) -> pa.Array:
    """Draw categories (int32) for uniforms ``u`` with a table from :func:`lookup_table`."""
    return pc.take(table, below(u, len(table)))
