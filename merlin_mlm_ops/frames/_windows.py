"""``sliding_windows`` on frames: the SlidingWindows operator's own cut (``adapters/windows.py``) on pandas.

pandas object list columns go to :func:`~merlin_mlm_ops.adapters.windows.cut_windows` as they
are; ``ArrowDtype`` list columns, PyArrow tables and Polars frames pass through pandas object
columns (one copy each way) and come back with their own Arrow types; Dask cuts each partition
(pandas here; cuDF partitions in ``_cudf_windows``, as cuDF frames are).
The columns not listed ride along: a hidden row-number column goes through the cut, and they are
taken at those rows (each window repeats its row's values).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from merlin_mlm_ops.adapters.windows import cut_windows
from merlin_mlm_ops.errors import MaskInputError

#: The hidden column that carries each window's input row through the cut.
_ROW = "__merlin_mlm_window_row__"


@dataclass(frozen=True)
class WindowSpec:
    """One call of ``sliding_windows``, its arguments checked (``columns`` as MaskSpec's, for the Dask checks)."""

    columns: tuple
    key: str
    window_key: str
    max_len: int
    step: int
    label: str = "sliding_windows"

    def check_columns(self, names):
        names = list(names)
        for column in (*self.columns, self.key):
            if column not in names:
                raise MaskInputError(self.label, column, f"is not in the frame (columns: {names})")
        if self.key in self.columns:
            raise MaskInputError(self.label, self.key, "is the key; list the sequence columns only")
        if self.window_key in names:
            raise ValueError(f"{self.label}: window key column {self.window_key!r} collides with a column of "
                             "the frame; pass another window_key")


def _object_lists(series):
    """An ``ArrowDtype`` list column as an object column of NumPy arrays (None for null rows)."""
    arrow = series.array.__arrow_array__()
    return pd.Series(arrow.to_pandas().to_numpy(dtype=object), index=series.index, dtype=object)


def _is_arrow(series):
    return isinstance(series.dtype, getattr(pd, "ArrowDtype", ()))


def cut_pandas(frame, spec):
    """A pandas frame of the windows: the listed columns cut, the others repeated, the window key last."""
    import pyarrow as pa

    spec.check_columns(frame.columns)
    names = list(spec.columns)
    arrow_types = {c: frame[c].dtype.pyarrow_dtype for c in names if _is_arrow(frame[c])}
    # An Arrow-backed key (ArrowDtype, from a table or Polars) goes to the cut as Python objects: the
    # operator's adapter reads object and NumPy keys; the output takes the key column itself at the rows.
    keys = frame[spec.key].astype(object) if _is_arrow(frame[spec.key]) else frame[spec.key]
    work = frame[names + [spec.key]].assign(**{c: _object_lists(frame[c]) for c in arrow_types},
                                            **{spec.key: keys, _ROW: np.arange(len(frame), dtype=np.int64)})
    out = cut_windows(work, names + [_ROW], spec.key, spec.window_key, spec.max_len, spec.step, spec.label)
    rows = out[_ROW].to_numpy()
    columns = {}
    for name in frame.columns:
        if name in arrow_types:
            arrow = pa.array(out[name].to_numpy(dtype=object), type=arrow_types[name], from_pandas=True)
            columns[name] = pd.Series(pd.arrays.ArrowExtensionArray(arrow), index=out.index)
        elif name in names:
            columns[name] = out[name]
        else:
            columns[name] = frame[name].take(rows).set_axis(out.index)
    columns[spec.window_key] = out[spec.window_key]
    result = pd.DataFrame(columns, copy=False)
    result.index = out.index
    return result


def cut_table(table, spec):
    """A ``pyarrow.Table`` of the windows, every column keeping its Arrow type."""
    import pyarrow as pa

    spec.check_columns(table.column_names)
    out = cut_pandas(table.to_pandas(types_mapper=pd.ArrowDtype), spec)
    return pa.Table.from_pandas(out, preserve_index=False).replace_schema_metadata(table.schema.metadata)


def cut_polars(frame, spec):
    """A Polars DataFrame of the windows (through Arrow); a LazyFrame gives a LazyFrame.

    A LazyFrame's windows are cut when it is collected, on the whole collected input (the cut
    changes the row count, so Polars cannot stream it or push later filters, slices or
    projections below it: ``_arrow_frames.map_whole``).  Its schema is known without collecting:
    the input's columns and types, then the window key (Int64).
    """
    import polars as pl

    if isinstance(frame, pl.LazyFrame):
        from merlin_mlm_ops.frames._arrow_frames import map_whole

        schema = frame.collect_schema()
        spec.check_columns(schema.names())
        return map_whole(frame, lambda batch: cut_polars(batch, spec), {**schema, spec.window_key: pl.Int64})
    return pl.from_arrow(cut_table(frame.to_arrow(), spec))


def cut_dask(ddf, spec):
    """A lazy Dask DataFrame whose partitions are cut one by one; ``meta`` is the cut of the empty ``_meta``."""
    from merlin_mlm_ops.frames._dask import _check_list_dtypes

    spec.check_columns(ddf.columns)
    _check_list_dtypes(ddf._meta, spec)
    return ddf.map_partitions(cut_partition, spec, meta=cut_partition(ddf._meta, spec))


def cut_partition(part, spec):
    """One Dask partition's windows: pandas here, cuDF (dask-cudf) on the device (``_cudf_windows``)."""
    from merlin_mlm_ops.frames._dask import is_cudf

    if is_cudf(part):
        from merlin_mlm_ops.frames import _cudf_windows

        return _cudf_windows.cut(part, spec)
    return cut_pandas(part, spec)


def window_spec(columns, key, window_key: Optional[str], max_len, step):
    """The checked :class:`WindowSpec` (SlidingWindows' checks, masking/windows.py)."""
    from merlin_mlm_ops.masking.windows import check_window_params

    max_len, step = check_window_params(max_len, step, key, window_key)
    return WindowSpec(tuple(columns), key, window_key or f"{key}_window", max_len, step)
