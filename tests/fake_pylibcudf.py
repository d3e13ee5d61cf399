"""A NumPy test double of the pylibcudf-era cuDF API that ``merlin_mlm_ops/frames/_cudf.py`` uses.

cuDF needs a GPU to import, so the frames' cuDF path is tested against this double.  It follows
cuDF 25.06-26.08 where the code depends on it, read from rapidsai/cudf at v26.08.00
(``python/pylibcudf/pylibcudf/column.pyx``, ``transform.pyx``, ``python/cudf/cudf/core/series.py``):

- a ``pylibcudf.Column`` is ``(type, size, data, mask, null_count, offset, children)``; a slice
  keeps the base buffers and children and changes ``offset``/``size`` only (no rebasing);
- a LIST column's children are ``[offsets (INT32), elements]``; a STRING column's are ``[offsets]``
  with the characters in its own ``data``; the null mask is a little-endian bitmask (bit
  ``offset + r`` is row ``r``), here real packed bits;
- ``data()``/``null_mask()`` expose device memory (here: NumPy uint8/typed arrays; CuPy is NumPy);
- ``Column.from_array`` wraps an array (BOOL8 for bools), ``transform.bools_to_mask`` packs bools;
- ``copying.gather(Table, gather_map, OutOfBoundsPolicy)`` -> a Table of every column's rows at the map
  (values and nulls; a LIST column's rows whole), ``Table(columns).columns()``
  (``python/pylibcudf/pylibcudf/copying.pyx``, a 2024 version); here gathered through Arrow's ``take``;
- ``cudf.Series.to_pylibcudf()`` / ``from_pylibcudf(col, metadata={"name", "index"})``;
  ``cudf.DataFrame(dict of Series)`` and setting its ``index`` (its Series then carry that index).

``install(monkeypatch)`` puts ``pylibcudf``, ``cudf`` and ``cupy`` (NumPy) into ``sys.modules``.
"""
from __future__ import annotations

import enum
import sys
import types

import numpy as np
import pandas as pd
import pyarrow as pa

TypeId = enum.Enum("TypeId", "INT8 INT16 INT32 INT64 UINT8 UINT16 UINT32 UINT64 FLOAT32 FLOAT64 BOOL8 STRING LIST STRUCT")
_NUMPY = {"INT8": "i1", "INT16": "i2", "INT32": "i4", "INT64": "i8", "UINT8": "u1", "UINT16": "u2",
          "UINT32": "u4", "UINT64": "u8", "FLOAT32": "f4", "FLOAT64": "f8", "BOOL8": "b1"}


class DataType:
    def __init__(self, type_id):
        self._id = type_id

    def id(self):
        return self._id


class Column:
    def __init__(self, data_type, size, data, mask, null_count, offset, children):
        self._type, self._size, self._data, self._mask = data_type, size, data, mask
        self._null_count, self._offset, self._children = null_count, offset, list(children)

    def type(self):
        return self._type

    def size(self):
        return self._size

    def offset(self):
        return self._offset

    def null_count(self):
        return self._null_count

    def null_mask(self):
        return self._mask

    def data(self):
        return self._data

    def child(self, index):
        return self._children[index]

    def children(self):
        return self._children

    @classmethod
    def from_array(cls, arr):
        arr = np.ascontiguousarray(arr)
        type_id = {v: k for k, v in _NUMPY.items()}[arr.dtype.str.lstrip("<>|=")]
        return cls(DataType(TypeId[type_id]), arr.shape[0], arr, None, 0, 0, [])

    # -- test helpers (not pylibcudf API) ---------------------------------------------------

    def slice(self, start, stop):
        return Column(self._type, stop - start, self._data, self._mask,
                      int((~self.valid()[start:stop]).sum()), self._offset + start, self._children)

    def valid(self):
        if self._mask is None:
            return np.ones(self._size, dtype=bool)
        bits = np.unpackbits(np.asarray(self._mask).view(np.uint8), bitorder="little").astype(bool)
        return bits[self._offset:self._offset + self._size]

    def to_pylist(self):
        name, valid, o = self._type.id().name, self.valid(), self._offset
        if name in ("LIST", "STRING"):
            offs = np.asarray(self.child(0).data()).view(np.uint8).view(np.int32)
            offs = offs[self.child(0).offset():][o:o + self._size + 1]
            if name == "STRING":
                chars = bytes(np.asarray(self._data).view(np.uint8))
                return [chars[offs[r]:offs[r + 1]].decode() if valid[r] else None for r in range(self._size)]
            items = self.child(1).slice(int(offs[0]), int(offs[-1])).to_pylist() if self._size else []
            return [items[offs[r] - offs[0]:offs[r + 1] - offs[0]] if valid[r] else None for r in range(self._size)]
        values = np.asarray(self._data).view(np.uint8).view(np.dtype(_NUMPY[name]))[o:o + self._size]
        return [v.item() if ok else None for v, ok in zip(values, valid)]


def _arrow_type(col):
    name = col.type().id().name
    if name == "LIST":
        return pa.list_(_arrow_type(col.child(1)))
    if name == "STRING":
        return pa.string()
    return pa.from_numpy_dtype(np.dtype(_NUMPY[name]))


def to_arrow(col):
    """The Column's rows as an Arrow array of its type (a test helper, not pylibcudf API)."""
    return pa.array(col.to_pylist(), type=_arrow_type(col))


class Table:
    def __init__(self, columns):
        self._columns = list(columns)

    def columns(self):
        return self._columns


def gather(table, gather_map, bounds_policy):
    assert bounds_policy is OutOfBoundsPolicy.DONT_CHECK
    rows = pa.array(np.asarray(gather_map.data()))
    return Table([from_arrow(to_arrow(col).take(rows)) for col in table.columns()])


OutOfBoundsPolicy = enum.Enum("OutOfBoundsPolicy", "NULLIFY DONT_CHECK")


def _bitmask(arrow_buffer):
    return None if arrow_buffer is None else np.frombuffer(arrow_buffer, dtype=np.uint8)


def from_arrow(arr):
    """A Column over an Arrow array's own buffers, keeping its offset and base children (as cuDF slices)."""
    t = arr.type
    bufs = arr.buffers()
    if pa.types.is_large_list(t):
        return from_arrow(arr.cast(pa.list_(t.value_type)))
    if pa.types.is_large_string(t):
        return from_arrow(arr.cast(pa.string()))
    mask = _bitmask(bufs[0])
    if pa.types.is_list(t):
        offsets = np.frombuffer(bufs[1], dtype=np.int32)
        offsets_col = Column(DataType(TypeId.INT32), len(offsets), offsets, None, 0, 0, [])
        return Column(DataType(TypeId.LIST), len(arr), None, mask, arr.null_count, arr.offset,
                      [offsets_col, from_arrow(arr.values)])
    if pa.types.is_string(t):
        offsets = np.frombuffer(bufs[1], dtype=np.int32)
        offsets_col = Column(DataType(TypeId.INT32), len(offsets), offsets, None, 0, 0, [])
        chars = None if bufs[2] is None else np.frombuffer(bufs[2], dtype=np.uint8)
        return Column(DataType(TypeId.STRING), len(arr), chars, mask, arr.null_count, arr.offset, [offsets_col])
    dtype = np.dtype(t.to_pandas_dtype())
    if pa.types.is_boolean(t):  # Arrow packs bools into bits, BOOL8 holds a byte each
        return Column(DataType(TypeId.BOOL8), len(arr), arr.fill_null(False).to_numpy(zero_copy_only=False),
                      None if mask is None else np.packbits(arr.is_valid().to_numpy(zero_copy_only=False),
                                                            bitorder="little"), arr.null_count, 0, [])
    data = np.frombuffer(bufs[1], dtype=dtype)
    type_id = {v: k for k, v in _NUMPY.items()}[dtype.str.lstrip("<>|=")]
    return Column(DataType(TypeId[type_id]), len(arr), data, mask, arr.null_count, arr.offset, [])


def bools_to_mask(col):
    bits = np.packbits(np.asarray(col.data()).astype(bool), bitorder="little")
    return bits, int((~np.asarray(col.data()).astype(bool)).sum())


class Series:
    def __init__(self, col, name=None, index=None):
        self._col, self.name = col, name
        self.index = pd.RangeIndex(col.size()) if index is None else index

    @property
    def dtype(self):
        return self._col.type().id().name.lower()

    def __len__(self):
        return self._col.size()

    def to_pylibcudf(self):
        return self._col, {"name": self.name, "index": self.index}

    @classmethod
    def from_pylibcudf(cls, col, metadata=None):
        metadata = metadata or {}
        assert set(metadata) <= {"name", "index"}
        return cls(col, metadata.get("name"), metadata.get("index"))

    def to_pylist(self):
        return self._col.to_pylist()

    def to_arrow(self):
        return pa.array(self.to_pylist())


class DataFrame:
    def __init__(self, series, index=None):
        self._series = dict(series)
        self.index = next(iter(self._series.values())).index if index is None else index

    @property
    def index(self):
        return self._index

    @index.setter
    def index(self, index):
        assert all(len(s) == len(index) for s in self._series.values())
        self._index = index
        self._series = {n: Series(s._col, s.name, index) for n, s in self._series.items()}

    @classmethod
    def from_arrow(cls, table):
        index = pd.RangeIndex(table.num_rows)
        return cls({name: Series(from_arrow(table.column(name).combine_chunks()), name, index)
                    for name in table.column_names}, index)

    @property
    def columns(self):
        return pd.Index(list(self._series))

    def __getitem__(self, name):
        return self._series[name]

    def __len__(self):
        return len(self.index)

    def assign(self, **columns):
        for name, s in columns.items():
            assert isinstance(s, Series) and s.index is self.index and len(s) == len(self)
        return DataFrame({**self._series, **columns}, self.index)

    def slice(self, start, stop):
        """Rows [start, stop) as cuDF slices them: offsets change, buffers are shared."""
        index = self.index[start:stop]
        return DataFrame({n: Series(s._col.slice(start, stop), n, index) for n, s in self._series.items()}, index)


Series.__module__ = "cudf.core.series"
DataFrame.__module__ = "cudf.core.dataframe"


def install(monkeypatch):
    """Make ``import pylibcudf``, ``import cudf`` and ``import cupy`` give this double (CuPy is NumPy)."""
    plc = types.ModuleType("pylibcudf")
    plc.Column, plc.DataType, plc.TypeId = Column, DataType, TypeId
    plc.transform = types.SimpleNamespace(bools_to_mask=bools_to_mask)
    plc.Table = Table
    plc.copying = types.SimpleNamespace(gather=gather, OutOfBoundsPolicy=OutOfBoundsPolicy)
    cudf = types.ModuleType("cudf")
    cudf.Series, cudf.DataFrame = Series, DataFrame
    monkeypatch.setitem(sys.modules, "pylibcudf", plc)
    monkeypatch.setitem(sys.modules, "cudf", cudf)
    monkeypatch.setitem(sys.modules, "cupy", np)
    return cudf
