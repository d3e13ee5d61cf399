"""cuDF adapter: list columns of cuDF partitions <-> CuPy values + offsets, on the device.

Written against the cuDF list-column API that ships with NVTabular 23.08 and later (RAPIDS
23.06-23.12): ``Series._column`` is a ``ListColumn`` with ``.offsets`` (int32 column),
``.elements``, ``.offset`` (slice start), ``.size``, ``.null_count`` and ``.mask``; numeric
columns expose ``.values`` as CuPy arrays.  The masking never copies the sequences to the
host and does no per-row work; the mask column reuses the source's offsets column and null
mask when the source is not a slice.  (String *keys* are hashed through Arrow on the host:
cuDF's string-column internals changed across those releases; integer keys stay on device.)

Not exercised in CI (no GPU, and cuDF cannot be installed beside this CPU stack); the
array-level part, :func:`take_rows`, is tested with NumPy, and ``ci/gpu-check.sh`` runs
the kernels on a GPU.
"""
from __future__ import annotations

import numpy as np

from merlin_mlm_ops.adapters import first_row
from merlin_mlm_ops.adapters.pandas_lists import FlatList
from merlin_mlm_ops.errors import MaskInputError


def take_rows(offsets_all, elements, col_offset, size, xp):
    """Rows ``[col_offset, col_offset + size)`` of a list column as ``(values, offsets)``,
    with int64 offsets starting at 0 (``elements`` may be None for structure only)."""
    offsets = offsets_all[col_offset:col_offset + size + 1].astype(xp.int64)
    first = int(offsets[0])
    values = None if elements is None else elements[first:int(offsets[-1])]
    return values, offsets - first


def flatten(series, column: str, op: str, with_values: bool = True) -> FlatList:
    """Take a cuDF list column apart into CuPy ``values`` and ``offsets``."""
    import cudf
    import cupy

    dtype = series.dtype
    if not isinstance(dtype, cudf.ListDtype):
        raise MaskInputError(op, column, f"is not a list column (cuDF dtype {dtype})")
    if isinstance(dtype.element_type, cudf.ListDtype):
        raise MaskInputError(op, column, "nested lists are not supported: each row must be a flat "
                             "list of item ids")
    col = series._column
    valid = None if col.null_count == 0 else ~series.isna().values
    elements = None
    if with_values:
        if np.dtype(dtype.element_type).kind not in "iu":
            raise MaskInputError(op, column, f"holds {dtype.element_type} values; item ids must be "
                                 "integers (put Categorify before the mask operator)")
        if col.elements.null_count:
            item_null = col.elements.isnull().values
            offsets = col.offsets.values
            row = cupy.searchsorted(offsets, cupy.flatnonzero(item_null)[:1], side="right") - 1 - col.offset
            raise MaskInputError(op, column, "holds null item ids", series.index[int(row[0])])
        elements = col.elements.values
    values, offsets = take_rows(col.offsets.values, elements, col.offset, len(series), cupy)
    return FlatList(values, offsets, valid)


def build_bool_lists(mask, offsets, valid, index, source=None):
    """A cuDF list<bool> Series with the given row structure (null where not ``valid``).

    With ``source`` (the selected column, same rows) that is not a slice, the new column
    shares its offsets column and null mask instead of building them.
    """
    import cudf
    from cudf.core.column import as_column, build_column

    src = None if source is None else source._column
    if src is not None and src.offset == 0:
        offsets_col, null_mask = src.offsets, src.mask
    else:
        offsets_col = as_column(offsets.astype(np.int32))
        null_mask = None
        if valid is not None:
            from cudf._lib.transform import bools_to_mask

            null_mask = bools_to_mask(as_column(valid))
    column = build_column(None, dtype=cudf.ListDtype("bool"), size=offsets.shape[0] - 1,
                          mask=null_mask, children=(offsets_col, as_column(mask)))
    return cudf.Series(column, index=index)


def row_keys(series, column: str, op: str):
    """The key column as hashing input: ``("int", cupy int64, None)`` or ``("str", bytes, offsets)``."""
    import cupy

    null = series.isna().values
    if bool(null.any()):
        raise MaskInputError(op, column, "key is null; every row needs a key", first_row(series.index, null))
    kind = np.dtype(series.dtype).kind if not hasattr(series.dtype, "element_type") else "O"
    if kind in "iu":
        return "int", series.values, None
    if kind == "O" and str(series.dtype) in ("object", "str", "string"):
        from merlin_mlm_ops.adapters import pandas_lists

        _, data, offsets = pandas_lists.row_keys(series.to_pandas(), column, op)
        return "str", cupy.asarray(data), cupy.asarray(offsets)
    raise MaskInputError(op, column, f"key must hold integers or strings, found dtype {series.dtype}")
