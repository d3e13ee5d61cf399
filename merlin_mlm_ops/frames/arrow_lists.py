"""Arrow list arrays <-> flat NumPy values + offsets, without copying the values.

A ``list``/``large_list`` array is already what the kernels read: a values child and an offsets
buffer.  :func:`flatten` views both as NumPy arrays (zero-copy; only the offsets are rebased to
start at 0, n + 1 integers).  It follows the operator's pandas adapter where Arrow allows more:

- a sliced array (``offset != 0``) is read through its own offsets, whatever its parent holds;
- a null row may span values in Arrow (the format allows it): those values are dropped, as the
  operator sees a null row as empty, so the masks of the other rows are unchanged;
- several chunks are concatenated first (one copy), since row ordinals key masks without ``key``;
- null item ids, nested lists and non-integer items raise :class:`MaskInputError` naming the
  column (and the row, for a null item).

>>> import pyarrow as pa
>>> flat = flatten(pa.array([[5, 6], None, [7, 8, 9]]).slice(1), "item_ids", "mask_last", range(2))
>>> flat.values.tolist(), flat.offsets.tolist(), flat.valid.tolist()
([7, 8, 9], [0, 0, 3], [False, True])
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from merlin_mlm_ops.adapters import FlatList
from merlin_mlm_ops.errors import MaskInputError


def one_array(arr):
    """A ``pa.Array`` from an Array or ChunkedArray (chunks concatenated; one chunk: no copy)."""
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks == 1:
            return arr.chunk(0)
        if arr.num_chunks == 0:
            return pa.array([], type=arr.type)
        return pa.concat_arrays(arr.chunks)
    return arr


def _has_type(t, name):
    """``pa.types.<name>(t)``, False where this pyarrow predates the type (views: pyarrow 16)."""
    check = getattr(pa.types, name, None)
    return check is not None and check(t)


def _is_list(t):
    return (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
            or _has_type(t, "is_list_view") or _has_type(t, "is_large_list_view"))


def _as_list(arr, column, op):
    """``arr`` as a list or large_list array, or a MaskInputError."""
    t = arr.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return arr
    if _is_list(t):  # fixed-size lists and list views: rebuilt in the offsets layout (one copy)
        # Not arr.cast(large_list): pyarrow (25, 26) casts a list view into an invalid array whose
        # offsets are its view offsets, not monotonic.  list_flatten walks the rows in order and
        # skips null rows; their lengths count 0.
        lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
        offsets = np.zeros(len(arr) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return pa.LargeListArray.from_arrays(pa.array(offsets), pc.list_flatten(arr),
                                             mask=arr.is_null() if arr.null_count else None)
    raise MaskInputError(op, column, f"is not a list column (Arrow type {t})")


def flatten(arr, column: str, op: str, labels, with_values: bool = True) -> FlatList:
    """Take an Arrow list column apart into a FlatList (NumPy, values zero-copy).

    ``labels[r]`` names row ``r`` in errors (a pandas index, or ``range(n)``).
    """
    arr = _as_list(one_array(arr), column, op)
    value_type = arr.type.value_type
    if pa.types.is_null(value_type):  # what pa.array([[], []]) and Polars infer for lists with no items
        arr = arr.cast(pa.large_list(pa.int64()) if pa.types.is_large_list(arr.type) else pa.list_(pa.int64()))
        value_type = pa.int64()  # items, if any, are null: the null-item check below names the row
    if with_values:
        if _is_list(value_type):
            raise MaskInputError(op, column, "nested lists are not supported: each row must be a flat "
                                 "list of item ids")
        if not pa.types.is_integer(value_type):
            raise MaskInputError(op, column, f"holds {value_type} values; item ids must be integers "
                                 "(put Categorify before the mask operator)")
    n = len(arr)
    raw = np.asarray(arr.offsets) if n else np.zeros(1, dtype=np.int64)  # this slice's n + 1 offsets
    start, stop = int(raw[0]), int(raw[-1])
    offsets = raw.astype(np.int64) - start
    valid = None
    if arr.null_count:
        valid = ~np.asarray(arr.is_null())
    values = None
    if with_values:
        child = arr.values.slice(start, stop - start)
        if child.null_count:
            _null_item(child, offsets, valid, column, op, labels)
        if child.null_count:  # nulls left only under null rows, whose values are dropped below
            child = pc.fill_null(child, 0)
        values = child.to_numpy(zero_copy_only=True)
    if valid is not None:
        lengths = np.diff(offsets)
        if lengths[~valid].any():  # null rows that span values: the operator sees them as empty
            keep = np.repeat(valid, lengths)
            lengths[~valid] = 0
            offsets = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            if values is not None:
                values = values[keep]
    return FlatList(values, offsets, valid)


def _null_item(child, offsets, valid, column, op, labels):
    """Raise for the first null item of a valid row (nulls under null rows are ignored)."""
    null = np.asarray(child.is_null())
    rows = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    if valid is not None:
        null &= valid[rows]
    if null.any():
        item = int(np.flatnonzero(null)[0])
        row = int(rows[item])
        raise MaskInputError(op, column, f"null item id at position {item - int(offsets[row])} of the row; "
                             "every item needs an id", labels[row])


def bool_lists(mask, flat, like_type=None):
    """A list<bool> array with ``flat``'s row structure (null where not valid).

    ``like_type`` (the source's Arrow type) picks ``list`` or ``large_list``; the mask child is
    the only buffer of item size written (Arrow bools are bits).
    """
    return value_lists(pa.array(mask, type=pa.bool_()), flat, like_type)


def value_lists(values, flat, like_type=None):
    """A list array of the Arrow or NumPy ``values`` with ``flat``'s row structure (as :func:`bool_lists`)."""
    large = (like_type is not None and not pa.types.is_list(like_type)) or flat.offsets[-1] > np.iinfo(np.int32).max
    list_type = pa.LargeListArray if large else pa.ListArray
    offsets = pa.array(flat.offsets if large else flat.offsets.astype(np.int32))
    values = values if isinstance(values, pa.Array) else pa.array(values)  # pyarrow < 13 takes no Array
    return list_type.from_arrays(offsets, values, mask=None if flat.valid is None else pa.array(~flat.valid))


def row_keys(arr, column: str, op: str, labels):
    """A key column as hashing input: ``("int", values, None)`` or ``("str", utf8 bytes, offsets)``.

    The same bits as the operator's pandas adapter: integers by their 64-bit pattern, strings by
    their UTF-8 bytes.
    """
    arr = one_array(arr)
    t = arr.type
    if arr.null_count:
        null = np.asarray(arr.is_null())
        raise MaskInputError(op, column, "key is null; every row needs a key", labels[int(np.flatnonzero(null)[0])])
    if _is_list(t):
        raise MaskInputError(op, column, "is a list column; the key must hold one integer or string per row")
    if pa.types.is_dictionary(t):
        arr, t = arr.dictionary_decode(), t.value_type
    if pa.types.is_integer(t):
        return "int", arr.to_numpy(zero_copy_only=False), None
    if len(arr) == 0:  # no keys to hash, whatever the column holds
        return "int", np.zeros(0, dtype=np.int64), None
    if pa.types.is_string(t) or pa.types.is_large_string(t) or _has_type(t, "is_string_view"):
        arr = arr.cast(pa.large_string()) if not pa.types.is_large_string(t) else arr
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
        data_buf = arr.buffers()[2]
        data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, np.uint8)
        return "str", data[offsets[0]:offsets[-1]], offsets - offsets[0]
    raise MaskInputError(op, column, f"key must hold integers or strings, found Arrow type {t}")
