"""pandas adapter: object columns of Python lists / NumPy arrays <-> flat values + offsets.

NVTabular's CPU partitions hold list columns as ``object`` Series whose rows are lists or
1-D arrays (Parquet read-back and Categorify give arrays), with ``None``/NaN for null rows.
Flattening uses ``map(len)`` + ``np.concatenate`` (C loops), never a Python loop per row;
``merlin.core.dispatch.pull_apart_list`` is ~100x slower here.  Slow, row-by-row scans run
only after a check has failed, to name the first offending row.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
import pandas as pd
import pyarrow as pa

from merlin_mlm_ops.adapters import first_row
from merlin_mlm_ops.errors import MaskInputError

_ROW_TYPES = (list, tuple, np.ndarray)


class FlatList(NamedTuple):
    """A list column taken apart: rows are ``values[offsets[r]:offsets[r + 1]]``.

    ``valid`` is None when no row is null; else ``valid[r]`` is False for a null row (whose
    offsets span no values).  ``values`` is None when only the row structure was asked for.
    """

    values: Optional[np.ndarray]
    offsets: np.ndarray
    valid: Optional[np.ndarray]


def flatten(series: pd.Series, column: str, op: str, with_values: bool = True) -> FlatList:
    """Take a pandas list column apart into :class:`FlatList` (values in their own dtype)."""
    objs = series.to_numpy(dtype=object)
    null = pd.isna(objs)
    valid = None if not null.any() else ~null
    rows = objs if valid is None else objs[valid]
    kinds = set(map(type, rows))
    if not kinds.issubset(_ROW_TYPES):
        is_row = np.fromiter((isinstance(x, _ROW_TYPES) for x in objs), dtype=bool, count=len(objs))
        bad = ~is_row & ~null
        raise MaskInputError(op, column, f"is not a list column: the row holds "
                             f"{type(objs[bad][0]).__name__} {objs[bad][0]!r}", first_row(series.index, bad))
    row_lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    lengths = np.zeros(len(objs), dtype=np.int64)
    lengths[~null] = row_lengths
    offsets = np.zeros(len(objs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if not with_values:
        return FlatList(None, offsets, valid)
    # Empty Python lists would turn the concatenation into float64: leave them out.
    nonempty = rows if row_lengths.all() else rows[row_lengths > 0]
    values = _concatenate(series, objs, nonempty, null, column, op, int(offsets[-1]))
    return FlatList(values, offsets, valid)


def _concatenate(series, objs, rows, null, column, op, total):
    if total == 0:
        return np.empty(0, dtype=np.int64)
    try:
        values = np.concatenate(rows)
    except (ValueError, TypeError):
        values = None
    if values is not None and values.ndim == 1 and values.dtype.kind in "iu":
        return values
    # Something is off. A null item first: pandas turns a whole integer column into float64
    # (NaN) or object (None) when any item is null, so the dtype alone points at the wrong row.
    for pos, row in enumerate(objs):
        if null[pos] or not len(row):
            continue
        try:
            arr = np.asarray(row) if not isinstance(row, np.ndarray) else row
        except ValueError:  # ragged nested lists: reported below
            continue
        holes = pd.isna(arr) if arr.dtype.kind in "fOc" else None
        if holes is not None and holes.ndim == 1 and holes.any():
            raise MaskInputError(op, column, f"null item id at position {int(np.argmax(holes))} of the row; "
                                 "every item needs an id", series.index[pos])
    # Then the first row that is not a flat sequence of integers.
    for pos, row in enumerate(objs):
        if null[pos]:
            continue
        arr = np.asarray(row) if not isinstance(row, np.ndarray) else row
        if arr.ndim != 1:
            raise MaskInputError(op, column, "nested lists are not supported: each row must be a "
                                 "flat list of item ids", series.index[pos])
        if len(arr) and arr.dtype.kind not in "iu":
            raise MaskInputError(op, column, f"holds {arr.dtype} values ({list(arr[:3])!r}...); "
                                 "item ids must be integers (put Categorify before the mask "
                                 "operator)", series.index[pos])
    raise MaskInputError(op, column, f"could not be flattened into integer ids (dtype {values.dtype})")


def build_bool_lists(mask: np.ndarray, offsets: np.ndarray, valid: Optional[np.ndarray],
                     index: pd.Index, source=None) -> pd.Series:
    """An object Series of bool arrays with the given row structure (null where not ``valid``).

    ``source`` (the column the structure came from) is accepted for symmetry with the cuDF
    adapter, which reuses its buffers; object columns have none to share.
    """
    list_type = pa.LargeListArray if offsets[-1] > np.iinfo(np.int32).max else pa.ListArray
    offs = offsets if list_type is pa.LargeListArray else offsets.astype(np.int32)
    arrow = list_type.from_arrays(pa.array(offs), pa.array(mask, type=pa.bool_()),
                                  mask=None if valid is None else pa.array(~valid))
    return pd.Series(arrow.to_numpy(zero_copy_only=False), index=index, dtype=object)


def build_lists(values: np.ndarray, offsets: np.ndarray, valid: Optional[np.ndarray],
                index: pd.Index, source=None) -> pd.Series:
    """An object Series of arrays of ``values`` (any NumPy dtype) with the given row structure."""
    list_type = pa.LargeListArray if offsets[-1] > np.iinfo(np.int32).max else pa.ListArray
    offs = offsets if list_type is pa.LargeListArray else offsets.astype(np.int32)
    arrow = list_type.from_arrays(pa.array(offs), pa.array(values),
                                  mask=None if valid is None else pa.array(~valid))
    return pd.Series(arrow.to_numpy(zero_copy_only=False), index=index, dtype=object)


def row_keys(series: pd.Series, column: str, op: str) -> "tuple[str, np.ndarray, np.ndarray|None]":
    """The key column as hashing input: ``("int", int64 values, None)`` or ``("str", utf8 bytes, offsets)``."""
    null = series.isna().to_numpy()
    if null.any():
        raise MaskInputError(op, column, "key is null; every row needs a key", first_row(series.index, null))
    if series.dtype.kind in "iu":  # NumPy and nullable (Int64) integer dtypes alike
        return "int", series.to_numpy(dtype=np.uint64 if series.dtype.kind == "u" else np.int64), None
    if len(series) == 0:  # a zero-row partition: no keys to hash, whatever the column holds
        return "int", np.zeros(0, dtype=np.int64), None
    inferred = pd.api.types.infer_dtype(series, skipna=False)
    if inferred == "integer":
        return "int", series.to_numpy(dtype=np.int64), None
    if inferred == "string":
        arrow = pa.array(series.to_numpy(dtype=object), type=pa.large_string())
        offsets = np.frombuffer(arrow.buffers()[1], dtype=np.int64)[arrow.offset:arrow.offset + len(arrow) + 1]
        data_buf = arrow.buffers()[2]
        data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, np.uint8)
        data = data[offsets[0]:offsets[-1]]
        return "str", data, offsets - offsets[0]
    # Error path only: point at the first row that is neither int nor str, or else at the
    # first row whose kind differs from the first row's (a mix of ints and strings).
    kinds = series.map(lambda x: "int" if isinstance(x, (int, np.integer)) else
                       "str" if isinstance(x, str) else "other").to_numpy()
    bad = kinds == "other"
    if not bad.any():
        bad = kinds != kinds[0]
    row = first_row(series.index, bad) if bad.any() else None
    raise MaskInputError(op, column, f"key must hold integers or strings, found {inferred} "
                         f"(dtype {series.dtype})", row)
