"""cuDF frames: list columns read and written on the device through pylibcudf, without copies.

Written against cuDF's pylibcudf-era API, read at tags v25.06.00 and v26.08.00 of rapidsai/cudf
(``python/cudf/cudf/core/series.py``, ``python/pylibcudf/pylibcudf/column.pyx``); needs cuDF >= 25.06:

- ``Series.to_pylibcudf()`` gives the series' ``pylibcudf.Column`` (zero-copy); ``Series.from_pylibcudf
  (col, metadata={"name", "index"})`` makes one back;
- a LIST column holds ``offset()``/``size()`` (its slice), its null bitmask (bit ``offset + r`` is
  row ``r``), and its *base* children: ``child(0)`` the offsets (INT32), ``child(1)`` the elements.
  Unlike cuDF 23.x's ``ListColumn.children`` (adapters/cudf_lists.py), nothing is rebased on slicing:
  row ``r`` spans ``offsets[offset + r] .. offsets[offset + r + 1]`` of the elements;
- ``Column.data()`` / ``null_mask()`` are gpumemoryviews (CUDA array interface): CuPy views them;
- ``Column.from_array`` (CUDA array interface, 25.06+) wraps CuPy arrays; ``transform.bools_to_mask``
  packs a bool column into a bitmask; the ``Column(...)`` constructor assembles the list column.

The masks are drawn by the CUDA kernels on CuPy arrays (``masking.engine``), as the operator does on
cuDF partitions.  **Not run on a GPU yet**: CI runs this module against tests/fake_pylibcudf.py, a
NumPy double of exactly the calls above (bitmasks as real little-endian bits, base children kept on
slicing).
"""
from __future__ import annotations

import numpy as np

from merlin_mlm_ops.adapters import FlatList
from merlin_mlm_ops.errors import MaskInputError

_INTS = ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")


def _modules():
    import cupy
    import pylibcudf as plc

    return cupy, plc


def _name(plc, type_id):
    return type_id.name if hasattr(type_id, "name") else str(type_id)


def _view(cp, col, dtype, start=0, stop=None):
    """CuPy view of a fixed-width pylibcudf column's values ``[start, stop)`` (column offset applied)."""
    dtype = np.dtype(dtype)
    raw = cp.asarray(col.data()).view(cp.uint8)
    raw = raw[:raw.shape[0] // dtype.itemsize * dtype.itemsize].view(dtype)
    base = col.offset()
    stop = col.size() if stop is None else stop
    return raw[base + start:base + stop]


def _bits(cp, mask, start, n):
    """Validity of rows ``[start, start + n)`` of a null bitmask, as a CuPy bool array."""
    return cp.unpackbits(cp.asarray(mask).view(cp.uint8), bitorder="little")[start:start + n].astype(bool)


def flatten(series, column, op, with_values=True):
    """``(FlatList on the device, reuse)``: ``reuse`` is the source column when its offsets child and
    bitmask can serve the mask column as they are (no slice, no null row spanning values), else None."""
    cp, plc = _modules()
    col, _ = series.to_pylibcudf()
    if _name(plc, col.type().id()) != "LIST":
        raise MaskInputError(op, column, f"is not a list column (cuDF dtype {series.dtype})")
    offsets_child, elements = col.child(0), col.child(1)
    element_type = _name(plc, elements.type().id())
    if with_values and element_type in ("LIST", "STRUCT"):
        raise MaskInputError(op, column, "nested lists are not supported: each row must be a flat list of item ids")
    if with_values and element_type not in _INTS:
        raise MaskInputError(op, column, f"holds {element_type.lower()} values; item ids must be integers "
                             "(put Categorify before the mask operator)")
    n, o = col.size(), col.offset()
    raw = row_offsets(cp, plc, col)
    start, stop = int(raw[0]), int(raw[-1])
    offsets = raw - start
    valid = _bits(cp, col.null_mask(), o, n) if col.null_count() else None
    values = None
    if with_values:
        values = _view(cp, elements, np.dtype(element_type.lower()), start, stop)
        if elements.null_count():
            _null_item(cp, elements, start, stop, offsets, valid, series.index, column, op)
    reuse = col if o == 0 and start == 0 and offsets_child.size() == n + 1 else None
    if valid is not None:
        lengths = cp.diff(offsets)
        if bool(lengths[~valid].any()):  # null rows spanning values: masked as empty, as the operator does
            keep = valid[cp.searchsorted(offsets[1:], cp.arange(stop - start), side="right")]
            lengths[~valid] = 0
            offsets = cp.zeros(n + 1, dtype=cp.int64)
            cp.cumsum(lengths, out=offsets[1:])
            values = None if values is None else values[keep]
            reuse = None
    return FlatList(values, offsets, valid), reuse


def row_offsets(cp, plc, col):
    """The ``n + 1`` offsets (int64) of a LIST or STRING column's rows into its base child (elements
    or characters), the column's offset applied; ``[0]`` for no rows."""
    n, o = col.size(), col.offset()
    if n == 0:
        return cp.zeros(1, dtype=cp.int64)
    offsets_child = col.child(0)
    dtype = np.int64 if _name(plc, offsets_child.type().id()) == "INT64" else np.int32
    return _view(cp, offsets_child, dtype, o, o + n + 1).astype(cp.int64)


def _null_item(cp, elements, start, stop, offsets, valid, index, column, op):
    null = ~_bits(cp, elements.null_mask(), elements.offset() + start, stop - start)
    rows = cp.searchsorted(offsets[1:], cp.arange(stop - start), side="right")
    if valid is not None:
        null &= valid[rows]
    if bool(null.any()):
        item = int(cp.flatnonzero(null)[0])
        row = int(rows[item])
        raise MaskInputError(op, column, f"null item id at position {item - int(offsets[row])} of the row; "
                             "every item needs an id", index[row])


def bool_lists(mask, flat, reuse, name, index):
    """A cuDF list<bool> Series with ``flat``'s rows; shares the source's offsets and bitmask when ``reuse``.

    ``mask`` may hold any fixed-width values (the input ids too): they become the list's elements."""
    import cudf

    cp, plc = _modules()
    elements = plc.Column.from_array(cp.ascontiguousarray(mask))
    if reuse is None:
        col = list_column(cp, plc, flat.offsets, flat.valid, elements)
    else:
        col = plc.Column(plc.DataType(plc.TypeId.LIST), reuse.size(), None, reuse.null_mask(), reuse.null_count(),
                         0, [reuse.child(0), elements])
    return cudf.Series.from_pylibcudf(col, metadata={"name": name, "index": index})


def list_column(cp, plc, offsets, valid, elements):
    """A pylibcudf LIST column: rows ``elements[offsets[r]:offsets[r + 1]]`` (``offsets`` a CuPy array
    starting at 0, written as INT32), null where ``valid`` (CuPy bools, or None: no null row) is False."""
    null_mask, null_count = None, 0
    if valid is not None:
        null_mask, null_count = plc.transform.bools_to_mask(plc.Column.from_array(valid))
    children = [plc.Column.from_array(offsets.astype(cp.int32)), elements]
    return plc.Column(plc.DataType(plc.TypeId.LIST), offsets.shape[0] - 1, None, null_mask, null_count, 0, children)


def row_keys(series, column, op):
    """A cuDF key column as hashing input (device arrays): integers, or UTF-8 bytes + offsets."""
    cp, plc = _modules()
    col, _ = series.to_pylibcudf()
    n, o = col.size(), col.offset()
    if col.null_count():
        null = ~_bits(cp, col.null_mask(), o, n)
        raise MaskInputError(op, column, "key is null; every row needs a key", series.index[int(cp.flatnonzero(null)[0])])
    type_name = _name(plc, col.type().id())
    if type_name == "LIST":
        raise MaskInputError(op, column, "is a list column; the key must hold one integer or string per row")
    if type_name in _INTS:
        return "int", _view(cp, col, np.dtype(type_name.lower())), None
    if n == 0:
        return "int", cp.zeros(0, dtype=cp.int64), None
    if type_name == "STRING":
        raw = row_offsets(cp, plc, col)
        if col.data() is None:  # only empty strings: no character buffer
            return "str", cp.zeros(0, dtype=cp.uint8), raw - raw[0]
        chars = cp.asarray(col.data()).view(cp.uint8)  # the characters: the string column's own data
        return "str", chars[int(raw[0]):int(raw[-1])], raw - raw[0]
    raise MaskInputError(op, column, f"key must hold integers or strings, found cuDF dtype {series.dtype}")


def apply(frame, spec):
    """A cuDF DataFrame with the mask column (list<bool>) appended."""
    spec.check_columns(frame.columns)
    labels = frame.index
    first, reuse = flatten(frame[spec.columns[0]], spec.columns[0], spec.label)
    others = [(c, flatten(frame[c], c, spec.label, False)[0]) for c in spec.columns[1:]]
    spec.aligned(first, others, labels)
    keys = row_keys(frame[spec.key], spec.key, spec.label) if spec.random and spec.key else None
    mask, ids = spec.mask(first, keys)
    out = {spec.mask_name: bool_lists(mask, first, reuse, spec.mask_name, frame.index)}
    if ids is not None:  # the same list structure, the input ids as elements
        out[spec.input_name] = bool_lists(ids, first, reuse, spec.input_name, frame.index)
    return frame.assign(**out)
