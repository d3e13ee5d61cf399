"""pandas adapter: object columns of Python lists / NumPy arrays <-> flat values + offsets.

NVTabular's CPU partitions hold list columns as ``object`` Series whose rows are lists or
1-D arrays (Parquet read-back and Categorify give arrays), with ``None``/NaN for null rows.
Flattening uses ``map(len)`` + ``np.concatenate`` (C loops), never a Python loop per row;
``merlin.core.dispatch.pull_apart_list`` is ~100x slower here.  Slow, row-by-row scans run
only after a check has failed, to name the first offending row.
"""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np
import pandas as pd
import pyarrow as pa

from merlin_mlm_ops.adapters import FlatList, first_row
from merlin_mlm_ops.errors import MaskInputError

_ROW_TYPES = (list, tuple, np.ndarray)


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
    try:
        row_lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    except TypeError:  # a 0-d array has no len()
        scalar = np.fromiter((isinstance(x, np.ndarray) and x.ndim == 0 for x in objs), dtype=bool, count=len(objs))
        raise MaskInputError(op, column, f"is not a list column: the row holds a 0-d array "
                             f"{objs[scalar][0]!r}", first_row(series.index, scalar)) from None
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
        arr = row if isinstance(row, np.ndarray) else _as_array(row)
        holes = pd.isna(arr) if arr.dtype.kind in "fOc" else None
        if holes is not None and holes.ndim == 1 and holes.any():
            raise MaskInputError(op, column, f"null item id at position {int(np.argmax(holes))} of the row; "
                                 "every item needs an id", series.index[pos])
    # Then the first row that is not a flat sequence of integers, or whose integers NumPy cannot
    # put beside the earlier rows' without floats (uint64 beside signed ints).
    seen = None
    for pos, row in enumerate(objs):
        if null[pos]:
            continue
        arr = row if isinstance(row, np.ndarray) else _as_array(row)
        if arr.ndim != 1 or (arr.dtype == object and any(isinstance(x, _ROW_TYPES) for x in arr)):
            raise MaskInputError(op, column, "nested lists are not supported: each row must be a "
                                 "flat list of item ids", series.index[pos])
        if len(arr) and arr.dtype.kind not in "iu":
            raise MaskInputError(op, column, f"holds {arr.dtype} values ({list(arr[:3])!r}...); "
                                 "item ids must be integers (put Categorify before the mask "
                                 "operator)", series.index[pos])
        if len(arr):
            if seen is not None and np.result_type(seen, arr.dtype).kind not in "iu":
                raise MaskInputError(op, column, f"holds {arr.dtype} ids beside {seen} ids in earlier rows, which "
                                     "NumPy cannot put in one integer array; give every row one dtype (uint64 "
                                     "for ids >= 2**63)", series.index[pos])
            seen = arr.dtype if seen is None else np.result_type(seen, arr.dtype)
    raise MaskInputError(op, column, f"could not be flattened into integer ids (dtype {values.dtype})")


def _as_array(row):
    """``row`` as an array; ragged nested rows (NumPy 2 raises, NumPy 1 warns) as a 1-D object array."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy 1's VisibleDeprecationWarning for ragged rows
        try:
            return np.asarray(row)
        except ValueError:
            return np.asarray(row, dtype=object)


def _object_int_keys(series, column, op):
    """Python ints of an object key column as 64-bit patterns (int64, or uint64 past 2**63)."""
    for dtype in (np.int64, np.uint64):
        try:
            return series.to_numpy(dtype=dtype)
        except (OverflowError, ValueError):
            pass
    # Rare: negative ints beside ints >= 2**63, or ints beyond 64 bits (error path: one pass in Python).
    objs = series.to_numpy(dtype=object)
    wide = np.fromiter((not -(1 << 63) <= int(x) < 1 << 64 for x in objs), dtype=bool, count=len(objs))
    if wide.any():
        raise MaskInputError(op, column, "key integers must fit in 64 bits (in [-2**63, 2**64))",
                             first_row(series.index, wide))
    return np.fromiter((int(x) & ((1 << 64) - 1) for x in objs), dtype=np.uint64, count=len(objs))


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
        return "int", _object_int_keys(series, column, op), None
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


# ---- row-changing operators (SlidingWindows): new rows gathered from a partition's rows ----------


def is_list(series: pd.Series) -> bool:
    """Whether a column holds lists: an object column whose first non-null row is a list or array."""
    if series.dtype != object:
        return False
    objs = series.to_numpy(dtype=object)
    present = np.flatnonzero(~pd.isna(objs))
    return bool(len(present)) and isinstance(objs[present[0]], _ROW_TYPES)


def take_lists(series: pd.Series, flat: FlatList, source: np.ndarray, offsets: np.ndarray,
               rows: np.ndarray, column: str, op: str) -> pd.Series:
    """A new list column whose row ``w`` holds the items ``source[offsets[w]:offsets[w + 1]]`` of
    ``series`` taken apart as ``flat`` (structure only), null where input row ``rows[w]`` is null.
    Items keep their dtype (any: ids, floats, strings); the result has a RangeIndex."""
    objs = series.to_numpy(dtype=object)
    lengths = np.diff(flat.offsets)
    nonempty = objs[lengths > 0]  # null rows have length 0; empty Python lists would turn ints into floats
    try:
        values = np.concatenate(nonempty) if len(nonempty) else np.empty(0, dtype=np.int64)
    except ValueError:
        values = None
    if values is None or values.ndim != 1:
        ndims = np.fromiter((np.ndim(x) if n else 1 for x, n in zip(objs, lengths)), dtype=np.int64, count=len(objs))
        raise MaskInputError(op, column, "nested lists are not supported: each row must be a flat list",
                             first_row(series.index, ndims != 1) if (ndims != 1).any() else None)
    valid = None if flat.valid is None else flat.valid[rows]
    list_type = pa.LargeListArray if offsets[-1] > np.iinfo(np.int32).max else pa.ListArray
    offs = offsets if list_type is pa.LargeListArray else offsets.astype(np.int32)
    arrow = list_type.from_arrays(pa.array(offs), pa.array(values[source]),
                                  mask=None if valid is None else pa.array(~valid))
    return pd.Series(arrow.to_numpy(zero_copy_only=False), dtype=object)


def take(series: pd.Series, rows: np.ndarray) -> pd.Series:
    """``series`` at positions ``rows`` (dtype kept), with a RangeIndex."""
    return series.take(rows).reset_index(drop=True)


def take_index(index: pd.Index, rows: np.ndarray) -> pd.Index:
    """The index labels at positions ``rows`` (repeated labels, as ``DataFrame.explode``)."""
    return index.take(rows)


def int_series(values: np.ndarray, index=None) -> pd.Series:
    """A Series of ``values`` (default index: a RangeIndex)."""
    return pd.Series(values, index=index)


def frame(columns: dict, index: pd.Index) -> pd.DataFrame:
    """A frame of ``columns`` (Series with RangeIndex, same length) with ``index``."""
    out = pd.DataFrame(columns, copy=False)
    out.index = index
    return out
