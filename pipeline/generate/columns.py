"""Turning numpy arrays into the Arrow columns of the extracts (dates, timestamps, look-ups)."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from .util import categorical


def dates(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    if null is not None and null.any():
        d = np.where(null, np.datetime64(0, "D"), d)
        return pa.array(d, type=pa.date32(), mask=null)
    return pa.array(d, type=pa.date32())


def timestamps(seconds: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    t = np.asarray(seconds, dtype=np.int64).astype("datetime64[s]").astype("datetime64[us]")
    typ = pa.timestamp("us")
    if null is not None and null.any():
        t = np.where(null, np.datetime64(0, "us"), t)
        return pa.array(t, type=typ, mask=null)
    return pa.array(t, type=typ)


def lookup(values: pa.Array, index: np.ndarray) -> pa.Array:
    """values[index] as an Arrow gather (e.g. person tokens for event rows)."""
    return values.take(pa.array(np.asarray(index, dtype=np.int64)))


def codes(labels: list[str], index: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return categorical(labels, index, null)


def ints(values: np.ndarray, null: np.ndarray | None = None, typ=pa.int32()) -> pa.Array:
    if null is not None and null.any():
        return pa.array(np.where(null, 0, values).astype(np.int64), type=typ, mask=null)
    return pa.array(np.asarray(values), type=typ)
