"""Small vectorised helpers shared by the generator stages.

Everything here works on whole numpy arrays: the generator never loops over people or events.
Dates are carried as int32 day numbers (days since 1970-01-01) until the writer turns them into
Arrow date32 columns, because integer arithmetic on them is fast and exact.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

_EPOCH = date(1970, 1, 1)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def stage_rng(seed: int, stage: int) -> np.random.Generator:
    """A generator per stage, so that changing one stage never shifts the draws of another."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(stage)])))


def day_number(d: date) -> int:
    return (d - _EPOCH).days


def add_months(days: np.ndarray | int, months: int) -> np.ndarray:
    """Shift day numbers by whole calendar months, clamping the day to the month's length."""
    d = np.asarray(days, dtype="int64").astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)
    target = m + np.timedelta64(int(months), "M")
    last = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64) - 1
    out = target.astype("datetime64[D]") + np.minimum(dom, last).astype("timedelta64[D]")
    return out.astype(np.int64)


def month_start(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Day number of the first day of (year, month)."""
    m = (np.asarray(year, dtype=np.int64) - 1970) * 12 + (np.asarray(month, dtype=np.int64) - 1)
    return m.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """A bijective 64-bit mixer: distinct inputs give distinct outputs, so hashed ids stay unique."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def fixed_width_strings(chars: np.ndarray) -> pa.Array:
    """Arrow string array from an (n, width) uint8 matrix of ASCII, without Python objects."""
    n, width = chars.shape
    offsets = (np.arange(n + 1, dtype=np.int64) * width).astype(np.int32 if n * width < 2**31 else np.int64)
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    typ = pa.string() if offsets.dtype == np.int32 else pa.large_string()
    return pa.Array.from_buffers(typ, n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def hex_tokens(values: np.ndarray) -> pa.Array:
    """16-character lower-case hex of uint64 values (big-endian, so tokens sort like the numbers)."""
    b = values.astype(">u8").view(np.uint8).reshape(-1, 8)
    nib = np.empty((b.shape[0], 16), dtype=np.uint8)
    nib[:, 0::2] = _HEX[b >> 4]
    nib[:, 1::2] = _HEX[b & 15]
    return fixed_width_strings(nib)


_QUADS = np.array([list(f"{i:04d}".encode()) for i in range(10000)], dtype=np.uint8)


def numbered_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """prefix + zero-padded decimal number, e.g. ('GPA', 42, 9) -> 'GPA000000042'."""
    numbers = np.asarray(numbers, dtype=np.int64)
    p = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    out = np.empty((numbers.shape[0], len(p) + width), dtype=np.uint8)
    out[:, : len(p)] = p
    rest = numbers.copy()
    pos = len(p) + width
    while pos > len(p):  # four digits at a time, from the right (a loop over digit groups, not rows)
        k = min(4, pos - len(p))
        out[:, pos - k:pos] = _QUADS[rest % 10000][:, 4 - k:]
        rest //= 10000
        pos -= k
    return fixed_width_strings(out)


def categorical(labels: list[str], index: np.ndarray, null_mask: np.ndarray | None = None) -> pa.Array:
    """A string column from code indices, held as an Arrow dictionary array.

    The Parquet writer stores it as an ordinary (dictionary-encoded) UTF-8 string column, and the
    files carry no Arrow schema, so every reader sees a plain string column; building it this way
    avoids materialising millions of strings."""
    if len(set(labels)) != len(labels):  # repeated values would make Parquet output order-unstable
        raise ValueError("categorical labels must be distinct")
    idx = np.asarray(index, dtype=np.int32)
    mask = null_mask if null_mask is not None and null_mask.any() else None
    indices = pa.array(idx, type=pa.int32(), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(labels, pa.string()))


def choice_index(rng: np.random.Generator, weights, size: int) -> np.ndarray:
    """Indices drawn with the given (unnormalised) weights, via one uniform and a CDF search."""
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int32)


def interp_age(age: np.ndarray, knots: list[tuple[float, float]]) -> np.ndarray:
    """Piecewise-linear curve over age from (age, value) knots."""
    xs, ys = zip(*knots)
    return np.interp(age, xs, ys)


def day_order(day: np.ndarray) -> np.ndarray:
    """Stable order by day: rows of one day keep their generated order. A radix sort (int16 keys)
    when the days span less than 89 years, which is most of what makes sorting 20M rows cheap."""
    day = np.asarray(day)
    if day.size == 0:
        return np.zeros(0, dtype=np.int64)
    off = day - day.min()
    key = off.astype(np.int16) if off.max() < 32767 else off
    return np.argsort(key, kind="stable")


def ragged_index(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts per parent, the parent index of each child and the child's rank within its parent."""
    counts = np.asarray(counts, dtype=np.int64)
    parent = np.repeat(np.arange(counts.shape[0], dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(parent.shape[0], dtype=np.int64) - np.repeat(starts, counts)
    return parent, rank


def piecewise_days(edges: np.ndarray, mass: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A day per row from a piecewise-uniform density: segment j is the days [edges[:, j],
    edges[:, j+1]) and gets mass[:, j] of the row's probability (renormalised; an empty segment gets
    none, and a row with no mass in any non-empty segment is uniform over them). One uniform u per
    row, so a caller swapping a uniform draw for this one keeps the rest of its random stream."""
    edges = np.asarray(edges, dtype=np.int64)
    length = np.maximum(edges[:, 1:] - edges[:, :-1], 0)
    w = np.where(length > 0, np.asarray(mass, dtype=np.float64), 0.0)
    w = np.where((w.sum(axis=1) > 0)[:, None], w, length.astype(np.float64))
    cum = np.cumsum(w, axis=1)
    target = u * cum[:, -1]
    last = w.shape[1] - 1 - np.argmax(w[:, ::-1] > 0, axis=1)  # last segment with mass
    seg = np.minimum((cum <= target[:, None]).sum(axis=1), last)
    rows = np.arange(w.shape[0])
    w_seg = w[rows, seg]
    frac = np.clip((target - (cum[rows, seg] - w_seg)) / np.where(w_seg > 0, w_seg, 1.0), 0.0, 1.0)
    len_seg = length[rows, seg]
    day = edges[rows, seg] + np.minimum(np.floor(frac * len_seg).astype(np.int64), np.maximum(len_seg - 1, 0))
    return day
