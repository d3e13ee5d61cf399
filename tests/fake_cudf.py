"""A NumPy test double of the part of cuDF's API that ``adapters/cudf_lists.py`` uses.

cuDF cannot be installed beside the CPU stack, so the adapter is tested against this double.
It follows cuDF 23.06-23.12 where the adapter depends on it, read from cuDF's source
(``python/cudf/cudf/_lib/column.pyx``, ``python/cudf/cudf/core/column/lists.py``):

- a column is base buffers + ``offset`` + ``size``; ``iloc`` slicing changes only those two;
- ``ListColumn.children`` are the base children when the column spans them exactly
  (``offset == 0 and size == base_size``), else a *copy of the slice* (libcudf builds a column
  from the sliced view: offsets rebased to start at 0, elements only those the rows span;
  an empty slice gets empty children, as libcudf's ``empty_like``);
  ``.offsets``/``.elements`` are ``children[0]``/``children[1]``;
  ``base_size`` is ``len(base offsets) - 1`` (0 when the offsets child is empty);
- ``.mask`` is the base mask when ``offset == 0`` (bit r is row r; it may be longer than the
  column), else a copy rebased to the slice;
- numeric ``.values`` raise on nulls (cuDF refuses to expose them).

Masks are modelled as bool arrays of validity (cuDF's are bitmasks; only their meaning matters
here).  ``install(monkeypatch)`` puts the double in ``sys.modules`` as ``cudf``.
"""
from __future__ import annotations

import sys
import types

import numpy as np
import pandas as pd


class ListDtype:
    def __init__(self, element_type):
        self.element_type = element_type if isinstance(element_type, (CudfDtype, ListDtype)) else np.dtype(element_type)

    def __eq__(self, other):
        return isinstance(other, ListDtype) and other.element_type == self.element_type

    def __repr__(self):
        return f"ListDtype({self.element_type})"


class CudfDtype:
    """cuDF's own dtypes that are not NumPy dtypes (``np.dtype(...)`` raises TypeError on them)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


StructDtype = CudfDtype("struct")
Decimal64Dtype = CudfDtype("decimal64(10, 2)")
CategoricalDtype = CudfDtype("category")


class Column:
    """A flat column: base ``data`` (+ validity ``mask``), seen through ``offset``/``size``."""

    def __init__(self, data, mask=None, offset=0, size=None, dtype=None):
        self.base_data = np.asarray(data)
        self.base_mask = None if mask is None else np.asarray(mask, dtype=bool)
        self.offset = offset
        self.size = len(self.base_data) - offset if size is None else size
        self.dtype = self.base_data.dtype if dtype is None else dtype

    def __len__(self):
        return self.size

    def _valid(self):
        if self.base_mask is None:
            return np.ones(self.size, dtype=bool)
        return self.base_mask[self.offset:self.offset + self.size]

    @property
    def null_count(self):
        return int((~self._valid()).sum())

    @property
    def mask(self):
        if self.base_mask is None or self.offset == 0:
            return self.base_mask
        return self.base_mask[self.offset:self.offset + self.size].copy()

    @property
    def values(self):
        if self.null_count:
            raise ValueError("Column must have no nulls.")
        return self.base_data[self.offset:self.offset + self.size]

    def isnull(self):
        return Column(~self._valid())

    def slice(self, start, stop):
        return type(self)(self.base_data, self.base_mask, self.offset + start, stop - start, self.dtype)

    def take(self, indices):
        """A gather (cuDF's ``ColumnBase.take``, indices given as a column): values and nulls."""
        where = indices.values if isinstance(indices, Column) else np.asarray(indices)
        data = self.base_data[self.offset:self.offset + self.size][where]
        return Column(data, None if self.base_mask is None else self._valid()[where], dtype=self.dtype)


class ListColumn(Column):
    def __init__(self, children, mask=None, offset=0, size=None, dtype=None):
        self.base_children = tuple(children)
        self.base_mask = None if mask is None else np.asarray(mask, dtype=bool)
        self.offset = offset
        self.size = self.base_size - offset if size is None else size
        self.dtype = dtype or ListDtype(children[1].dtype)

    @property
    def base_size(self):
        return max(0, len(self.base_children[0]) - 1)

    @property
    def children(self):
        if self.offset == 0 and self.size == self.base_size:
            return self.base_children
        offsets, elements = self.base_children
        if self.size == 0:
            return (Column(np.zeros(0, dtype=np.int32)), elements.slice(0, 0))
        offs = offsets.values[self.offset:self.offset + self.size + 1]
        return (Column((offs - offs[0]).astype(np.int32)), _copy(elements.slice(int(offs[0]), int(offs[-1]))))

    @property
    def offsets(self):
        return self.children[0]

    @property
    def elements(self):
        return self.children[1]

    @property
    def values(self):
        raise TypeError("list columns have no .values")

    def slice(self, start, stop):
        return ListColumn(self.base_children, self.base_mask, self.offset + start, stop - start, self.dtype)

    def to_pylist(self):
        offs, elements = self.offsets.values, self.elements
        valid, items = self._valid(), elements.base_data[elements.offset:elements.offset + elements.size]
        item_valid = elements._valid()
        return [None if not valid[r] else
                [None if not item_valid[i] else items[i].item() for i in range(offs[r], offs[r + 1])]
                for r in range(self.size)]


def _copy(col):
    return Column(col.base_data[col.offset:col.offset + col.size].copy(),
                  None if col.base_mask is None else col._valid().copy(), dtype=col.dtype)


class _Iloc:
    def __init__(self, series):
        self.series = series

    def __getitem__(self, key):
        start, stop, step = key.indices(len(self.series))
        assert step == 1
        return Series(self.series._column.slice(start, stop), self.series.index[start:stop])


class Series:
    def __init__(self, column, index=None):
        if isinstance(column, np.ndarray):  # cudf.Series(cupy_array)
            column = Column(column)
        self._column = column
        self.index = pd.RangeIndex(len(column)) if index is None else index
        self.iloc = _Iloc(self)

    def __len__(self):
        return len(self._column)

    @property
    def dtype(self):
        return self._column.dtype

    @property
    def values(self):
        return self._column.values

    def isna(self):
        return types.SimpleNamespace(values=~self._column._valid())

    def to_pandas(self):
        col = self._column
        data = col.base_data[col.offset:col.offset + col.size]
        return pd.Series([x if v else None for x, v in zip(data.tolist(), col._valid())], index=self.index,
                         dtype=object if data.dtype.kind in "OU" else None)

    def to_pylist(self):
        return self._column.to_pylist()

    def take(self, rows):
        """Rows at positions ``rows`` (index labels taken along), as ``cudf.Series.take``."""
        col = self._column
        if isinstance(col, ListColumn):
            raise NotImplementedError("the adapter gathers list columns through their children")
        return Series(col.take(rows), self.index.take(rows))

    def reset_index(self, drop=False):
        assert drop
        return Series(self._column, None)


def list_series(rows, dtype=np.int64, index=None):
    """A list Series from Python rows (None: null row; None inside a row: null item)."""
    lengths = [0 if r is None else len(r) for r in rows]
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    items = [x for r in rows if r is not None for x in r]
    item_valid = np.array([x is not None for x in items], dtype=bool)
    data = np.array([0 if x is None else x for x in items], dtype=dtype)
    elements = Column(data, None if item_valid.all() else item_valid)
    row_valid = np.array([r is not None for r in rows], dtype=bool)
    col = ListColumn((Column(offsets), elements), None if row_valid.all() else row_valid)
    return Series(col, index)


def scalar_series(values, dtype=None, index=None):
    """A flat Series (integers or strings, None: null) with an optional cuDF-only dtype."""
    valid = np.array([v is not None for v in values], dtype=bool)
    kind_str = any(isinstance(v, str) for v in values)
    data = values if isinstance(values, np.ndarray) else np.array(
        [("" if kind_str else 0) if v is None else v for v in values], dtype=object if kind_str else None)
    return Series(Column(data, None if valid.all() else valid, dtype=dtype), index)


class DataFrame:
    """Just enough of ``cudf.DataFrame`` for the operators' ``transform``."""

    def __init__(self, columns, index=None):
        self._columns = dict(columns)
        self.index = index if index is not None else next(iter(self._columns.values())).index

    def __getitem__(self, key):
        if isinstance(key, list):
            return DataFrame({k: self._columns[k] for k in key}, self.index)
        return self._columns[key]

    def __setitem__(self, key, series):
        self._columns[key] = series

    def copy(self, deep=True):
        return DataFrame(self._columns, self.index)

    @property
    def columns(self):
        return list(self._columns)


def as_column(arr):
    return Column(np.asarray(arr))


def build_column(data, dtype, size, mask=None, children=(), offset=0):
    assert data is None and isinstance(dtype, ListDtype)
    return ListColumn(children, mask, offset, size, dtype)


def bools_to_mask(col):
    return col.values.copy()


def install(monkeypatch):
    """Make ``import cudf`` (and the submodules the adapter imports) give this double."""
    root = types.ModuleType("cudf")
    root.ListDtype, root.Series, root.DataFrame = ListDtype, Series, DataFrame
    core, column = types.ModuleType("cudf.core"), types.ModuleType("cudf.core.column")
    column.as_column, column.build_column = as_column, build_column
    lib, transform = types.ModuleType("cudf._lib"), types.ModuleType("cudf._lib.transform")
    transform.bools_to_mask = bools_to_mask
    root.core, core.column, root._lib, lib.transform = core, column, lib, transform
    for name, module in [("cudf", root), ("cudf.core", core), ("cudf.core.column", column),
                         ("cudf._lib", lib), ("cudf._lib.transform", transform)]:
        monkeypatch.setitem(sys.modules, name, module)
    return root
