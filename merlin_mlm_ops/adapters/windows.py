"""BERT4Rec's sliding windows over a pandas or cuDF frame: the frame-level half of
``SlidingWindows``, shared by the NVTabular operator, the dataframe API and the job without
NVTabular (the array half is ``masking/windows.py``)."""
from __future__ import annotations

from merlin_mlm_ops.adapters import check_aligned, frame_adapter
from merlin_mlm_ops.errors import MaskInputError
from merlin_mlm_ops.masking import engine
from merlin_mlm_ops.masking.arrays import array_module
from merlin_mlm_ops.masking.windows import window_keys, window_plan


def cut_windows(df, names, key, window_key, max_len, step, label):
    """``df[names + [key]]`` with each list row of ``names`` cut into its windows, plus the
    windows' keys as ``window_key`` (int64); the list columns must be aligned row by row.

    ``label`` names the caller in errors (the operator's or the function's name).  Rows of at
    most ``max_len`` items are their own window 0 (keyed by the row's own key); a frame with no
    longer row passes unchanged, with the key column added.
    """
    if key not in df.columns:
        raise MaskInputError(label, key, "key column is missing from the input")
    adapter = frame_adapter(df)
    # A zero-row or all-null partition shows no lists (and needs no windows): it passes as is.
    lists = [name for name in names if adapter.is_list(df[name])]
    flats = {}
    for name in lists:
        flats[name] = adapter.flatten(df[name], name, label, with_values=False)
        if name != lists[0]:
            check_aligned(flats[lists[0]], flats[name], df.index, lists[0], name, label)
    kind, data, key_offsets = adapter.row_keys(df[key], key, label)
    offsets = flats[lists[0]].offsets if lists else None
    xp = array_module(offsets if lists else data)
    row_keys = engine.row_keys_from_column(kind, data, key_offsets, xp)
    if not lists or not bool(((offsets[1:] - offsets[:-1]) > max_len).any()):
        # Every row is its own window 0: the frame passes unchanged, keyed by its row keys.
        out = df[list(names) + [key]].copy(deep=False)
        out[window_key] = adapter.int_series(row_keys.view(xp.int64), df.index)
        return out
    plan = window_plan(offsets, max_len, step, xp)
    columns = {}
    for name in names:
        if name in flats:
            columns[name] = adapter.take_lists(df[name], flats[name], plan.source, plan.offsets,
                                               plan.rows, name, label)
        else:
            columns[name] = adapter.take(df[name], plan.rows)
    columns[key] = adapter.take(df[key], plan.rows)
    keys = window_keys(row_keys[plan.rows], plan.index, xp)
    columns[window_key] = adapter.int_series(keys.view(xp.int64), None)
    return adapter.frame(columns, adapter.take_index(df.index, plan.rows))
