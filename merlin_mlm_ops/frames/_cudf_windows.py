"""``sliding_windows`` on cuDF frames: the windows cut on the device, from the list columns' offsets.

The list columns are read as :mod:`merlin_mlm_ops.frames._cudf` reads them (pylibcudf, CuPy views
of the offsets); the windows are planned and keyed by ``masking/windows.py`` (``window_plan``,
``window_keys``) on CuPy arrays; then one libcudf gather per cut column takes the windows' items
from its elements child (any element type, its nulls kept), and one gather takes the other
columns' rows, each window repeating its row's values.  No Python loop per row, no copy to the
host.  The output is the pandas path's (``frames/_windows.py``), column for column: the same
windows, offsets, window keys, index labels, null and empty rows.

Besides the calls ``_cudf.py`` lists, this module uses ``pylibcudf.copying.gather(Table, Column,
OutOfBoundsPolicy)`` and ``Table(columns).columns()`` (read in a 2024 rapidsai/cudf
``python/pylibcudf/pylibcudf/copying.pyx``), ``Series.from_pylibcudf`` with a name only (a RangeIndex),
``cudf.DataFrame(dict of Series)`` and setting its ``index``.  **Not run on a GPU yet**: tested
against tests/fake_pylibcudf.py.
"""
from __future__ import annotations

import numpy as np

from merlin_mlm_ops.adapters import check_aligned
from merlin_mlm_ops.errors import MaskInputError
from merlin_mlm_ops.frames import _cudf
from merlin_mlm_ops.masking import engine
from merlin_mlm_ops.masking.windows import window_keys, window_plan

#: Most items a cut column may hold: its offsets are written as INT32, as cuDF's list columns have them.
MAX_ITEMS = int(np.iinfo(np.int32).max)


def cut(frame, spec):
    """A cuDF DataFrame of the windows: the listed columns cut, the others repeated, the window key last."""
    import cudf

    cp, plc = _cudf._modules()
    spec.check_columns(frame.columns)
    flats = {c: _cudf.flatten(frame[c], c, spec.label, with_values=False)[0] for c in spec.columns}
    first = flats[spec.columns[0]]
    for name in spec.columns[1:]:
        check_aligned(first, flats[name], frame.index, spec.columns[0], name, spec.label)
    row_keys = engine.row_keys_from_column(*_cudf.row_keys(frame[spec.key], spec.key, spec.label), xp=cp)
    if not bool((cp.diff(first.offsets) > spec.max_len).any()):
        # Every row is its own window 0, keyed by its row key: the frame passes unchanged.
        return frame.assign(**{spec.window_key: _int_series(cp, plc, row_keys, spec.window_key, frame.index)})
    plan = window_plan(first.offsets, spec.max_len, spec.step, cp)
    others = [name for name in frame.columns if name not in flats]
    rows_map = plc.Column.from_array(plan.rows.astype(cp.int32))
    taken = _gather(plc, [frame[name].to_pylibcudf()[0] for name in others], rows_map)
    columns = dict(zip(others, taken))
    for name in spec.columns:
        columns[name] = _cut_column(cp, plc, frame[name], flats[name], plan, name, spec.label)
    series = {name: cudf.Series.from_pylibcudf(columns[name], metadata={"name": name}) for name in frame.columns}
    keys = window_keys(row_keys[plan.rows], plan.index, cp)
    series[spec.window_key] = _int_series(cp, plc, keys, spec.window_key, None)
    # Built on RangeIndex Series, then labelled: a repeated label never meets cuDF's index alignment.
    out = cudf.DataFrame(series)
    out.index = frame.index.take(plan.rows)  # each window keeps its row's label, as DataFrame.explode
    return out


def _cut_column(cp, plc, series, flat, plan, name, label):
    """The LIST column of one listed column's windows: its elements gathered at the windows' items."""
    if int(plan.offsets[-1]) > MAX_ITEMS:
        raise MaskInputError(label, name, f"the windows hold {int(plan.offsets[-1]):,} items, more than a cuDF "
                             "list column's int32 offsets allow; cut smaller frames")
    col = series.to_pylibcudf()[0]
    # plan.source indexes the items with null rows taken as empty (flat.offsets); the elements child
    # is indexed by the column's own offsets, which may start past 0 (a slice) and let a null row
    # span items: shift each item by its row's difference between the two.
    raw = _cudf.row_offsets(cp, plc, col)
    rows = cp.searchsorted(flat.offsets[1:], plan.source, side="right")
    positions = plan.source + (raw[:-1] - flat.offsets[:-1])[rows]
    [elements] = _gather(plc, [col.child(1)], plc.Column.from_array(positions.astype(cp.int32)))
    valid = None if flat.valid is None else flat.valid[plan.rows]
    return _cudf.list_column(cp, plc, plan.offsets, valid, elements)


def _gather(plc, columns, gather_map):
    """The rows ``gather_map`` (an INT32 column, in bounds) of each column, by one libcudf gather."""
    if not columns:
        return []
    table = plc.copying.gather(plc.Table(columns), gather_map, plc.copying.OutOfBoundsPolicy.DONT_CHECK)
    return table.columns()


def _int_series(cp, plc, keys, name, index):
    """A cuDF int64 Series of uint64 ``keys`` (their bit pattern), named ``name``."""
    import cudf

    metadata = {"name": name} if index is None else {"name": name, "index": index}
    return cudf.Series.from_pylibcudf(plc.Column.from_array(cp.ascontiguousarray(keys.view(cp.int64))), metadata)
