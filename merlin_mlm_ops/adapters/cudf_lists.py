"""cuDF adapter: list columns of cuDF partitions <-> CuPy values + offsets, on the device.

Written against the cuDF list-column API that ships with NVTabular 23.08 and later (RAPIDS
23.06-23.12): ``Series._column`` is a ``ListColumn`` whose ``.offsets`` (int32) and
``.elements`` are its two children, with ``.offset``/``.size`` (the slice), ``.null_count`` and
``.mask``; numeric columns expose ``.values`` as CuPy arrays.  The masking never copies the
sequences to the host and does no per-row work.  (String *keys* are hashed through Arrow on
the host: cuDF's string-column internals changed across those releases; integer keys stay on
the device.)

Slices: for a column that is a slice of another (``offset != 0`` or fewer rows than its
buffers: every partition after the first of ``Dataset(gdf, npartitions>1)``, any ``iloc``),
cuDF's ``children`` are not the base buffers but a copy of the slice (``column.pyx``
``children`` builds a libcudf ``column`` from the sliced view, which rebases the offsets).  So
the offsets child already describes exactly this column's rows, and the slice's ``offset``
must not be applied again; its first entry need not be 0 in general, so values are taken from
``offsets[0]`` to ``offsets[-1]`` (as NVTabular's ``ListSlice`` and merlin-core's
``pull_apart_list`` do).  An empty column's offsets child may have no entry at all.

Not run on a GPU yet; CI tests this module against ``tests/fake_cudf.py``, a NumPy double of
the ``ListColumn`` API that rebases its children on slicing as cuDF does.
"""
from __future__ import annotations

import numpy as np

from merlin_mlm_ops.adapters import FlatList, _xp, first_row
from merlin_mlm_ops.errors import MaskInputError


def take_rows(offsets_child, elements, xp):
    """``(values, offsets)`` of a list column from its offsets child and elements (child or
    None for structure only): int64 offsets starting at 0, values the items they span.

    >>> import numpy as np
    >>> values, offsets = take_rows(np.array([2, 2, 5], dtype=np.int32), np.arange(9), np)
    >>> values.tolist(), offsets.tolist()
    ([2, 3, 4], [0, 0, 3])
    >>> take_rows(np.zeros(0, dtype=np.int32), np.arange(0), np)[1].tolist()  # no rows, no offsets
    [0]
    """
    if offsets_child.shape[0] == 0:
        empty = None if elements is None else elements[:0]
        return empty, xp.zeros(1, dtype=xp.int64)
    offsets = offsets_child.astype(xp.int64)
    first = int(offsets[0])
    values = None if elements is None else elements[first:int(offsets[-1])]
    return values, offsets - first


def _kind(dtype):
    """NumPy kind of a cuDF dtype, ``"?"`` for cuDF's own (list, struct, decimal, categorical)."""
    try:
        return np.dtype(dtype).kind
    except TypeError:
        return "?"


def flatten(series, column: str, op: str, with_values: bool = True) -> FlatList:
    """Take a cuDF list column apart into CuPy ``values`` and ``offsets``."""
    import cudf

    dtype = series.dtype
    if not isinstance(dtype, cudf.ListDtype):
        raise MaskInputError(op, column, f"is not a list column (cuDF dtype {dtype})")
    if isinstance(dtype.element_type, cudf.ListDtype):
        raise MaskInputError(op, column, "nested lists are not supported: each row must be a flat "
                             "list of item ids")
    col = series._column
    offsets_child = col.offsets.values  # this column's rows only, even for a slice: module doc
    xp = _xp(offsets_child)
    valid = None if col.null_count == 0 else ~series.isna().values
    elements = None
    if with_values:
        if _kind(dtype.element_type) not in "iu":
            raise MaskInputError(op, column, f"holds {dtype.element_type} values; item ids must be "
                                 "integers (put Categorify before the mask operator)")
        elements = col.elements
        elements = elements.values if elements.null_count == 0 else _no_null_items(series, elements, offsets_child, column, op, xp)
    values, offsets = take_rows(offsets_child, elements, xp)
    return FlatList(values, offsets, valid)


def _no_null_items(series, elements, offsets_child, column, op, xp):
    """The elements' values, or a MaskInputError naming the row of the first null item."""
    _, offsets = take_rows(offsets_child, None, xp)
    first = int(offsets_child[0]) if offsets_child.shape[0] else 0
    null = elements.isnull().values[first:first + int(offsets[-1])]  # items of this column's rows only
    if bool(null.any()):
        item = xp.flatnonzero(null)[:1]
        row = int(xp.searchsorted(offsets, item, side="right")[0]) - 1
        position = int(item[0]) - int(offsets[row])
        # the pandas adapter's wording, so a job's error reads the same on CPU and GPU
        raise MaskInputError(op, column, f"null item id at position {position} of the row; every item needs an id",
                             series.index[row])
    return elements.values


def build_bool_lists(mask, offsets, valid, index, source=None):
    """A cuDF list<bool> Series with the given row structure (null where not ``valid``)."""
    return build_lists(mask, offsets, valid, index, source=source, element="bool")


def build_lists(values, offsets, valid, index, source=None, element=None):
    """A cuDF list Series of ``values`` (element type ``element``, default their dtype) with the
    given row structure (null where not ``valid``).

    With ``source`` (the selected column, same rows), the new column shares its offsets child
    and null mask where that is valid, instead of building them.
    """
    import cudf
    from cudf.core.column import as_column, build_column

    n_rows = offsets.shape[0] - 1
    offsets_col = null_mask = None
    src = None if source is None else source._column
    if src is not None:
        # The offsets child describes this column's rows even for a slice (module doc); it can
        # index the new elements (mask[0:offsets[-1]]) when it starts at 0 and has one entry
        # per row + 1 (an empty column's may have none).
        child = src.offsets
        if child.size == n_rows + 1 and int(child.values[0]) == 0:
            offsets_col = child
        # ``.mask`` is rebased to the slice (cuDF copies the bitmask when offset != 0; with
        # offset 0 bit r is row r already), and the new column has offset 0: bit r is row r.
        null_mask = src.mask
    if offsets_col is None:
        offsets_col = as_column(offsets.astype(np.int32))
    if src is None and valid is not None:
        from cudf._lib.transform import bools_to_mask

        null_mask = bools_to_mask(as_column(valid))
    element = element or str(values.dtype)
    column = build_column(None, dtype=cudf.ListDtype(element), size=n_rows,
                          mask=null_mask, children=(offsets_col, as_column(values)))
    return cudf.Series(column, index=index)


def row_keys(series, column: str, op: str):
    """The key column as hashing input: ``("int", cupy int64, None)`` or ``("str", bytes, offsets)``."""
    null = series.isna().values
    if bool(null.any()):
        raise MaskInputError(op, column, "key is null; every row needs a key", first_row(series.index, null))
    kind = _kind(series.dtype)
    if kind in "iu":
        return "int", series.values, None
    if len(series) == 0:  # a zero-row partition: no keys to hash, whatever the column holds
        return "int", _xp(null).zeros(0, dtype=np.int64), None
    if kind == "O" and str(series.dtype) in ("object", "str", "string"):
        from merlin_mlm_ops.adapters import pandas_lists

        xp = _xp(null)
        _, data, offsets = pandas_lists.row_keys(series.to_pandas(), column, op)
        return "str", xp.asarray(data), xp.asarray(offsets)
    raise MaskInputError(op, column, f"key must hold integers or strings, found dtype {series.dtype}")


# ---- row-changing operators (SlidingWindows): new rows gathered from a partition's rows ----------


def is_list(series) -> bool:
    """Whether a column is a cuDF list column."""
    import cudf

    return isinstance(series.dtype, cudf.ListDtype)


def take_lists(series, flat: FlatList, source, offsets, rows, column: str, op: str):
    """A new list column whose row ``w`` holds the items ``source[offsets[w]:offsets[w + 1]]`` of
    ``series`` taken apart as ``flat`` (structure only), null where input row ``rows[w]`` is null.

    The items are gathered from the elements child on the device (any element type, its nulls
    kept); the list dtype is the input's.  The result has a RangeIndex.
    """
    import cudf
    from cudf.core.column import as_column, build_column

    if int(offsets[-1]) > np.iinfo(np.int32).max:
        raise MaskInputError(op, column, f"the windows of this partition hold {int(offsets[-1]):,} items, more "
                             "than a cuDF list column's int32 offsets allow; use smaller partitions")
    col = series._column
    offsets_child = col.offsets.values  # this column's rows only, even for a slice: module doc
    first = int(offsets_child[0]) if offsets_child.shape[0] else 0
    elements = col.elements.take(as_column(source + first))
    null_mask = None
    if flat.valid is not None:
        from cudf._lib.transform import bools_to_mask

        null_mask = bools_to_mask(as_column(flat.valid[rows]))
    xp = _xp(offsets)
    column_ = build_column(None, dtype=series.dtype, size=offsets.shape[0] - 1, mask=null_mask,
                           children=(as_column(offsets.astype(xp.int32)), elements))
    return cudf.Series(column_)


def take(series, rows):
    """``series`` at positions ``rows`` (a CuPy array), with a RangeIndex."""
    return series.take(rows).reset_index(drop=True)


def take_index(index, rows):
    """The index labels at positions ``rows`` (repeated labels, as ``DataFrame.explode``)."""
    return index.take(rows)


def int_series(values, index=None):
    """A cuDF Series of ``values`` (a CuPy array; default index: a RangeIndex)."""
    import cudf

    return cudf.Series(values, index=index)


def frame(columns: dict, index):
    """A cuDF frame of ``columns`` (Series with RangeIndex, same length) with ``index``."""
    import cudf

    out = cudf.DataFrame(columns)
    out.index = index
    return out
