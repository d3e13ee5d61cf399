"""pandas frames: object list columns through the operator's own adapter, ``ArrowDtype`` lists through Arrow."""
from __future__ import annotations

import pandas as pd

from merlin_mlm_ops.adapters import pandas_lists
from merlin_mlm_ops.frames import arrow_lists


def _is_arrow(series):
    return isinstance(series.dtype, getattr(pd, "ArrowDtype", ()))


def _arrow(series):
    return series.array.__arrow_array__()  # the ChunkedArray itself, no copy


def _flatten(series, column, spec, labels, with_values=True):
    if _is_arrow(series):
        return arrow_lists.flatten(_arrow(series), column, spec.label, labels, with_values)
    return pandas_lists.flatten(series, column, spec.label, with_values)


def row_keys(series, column, op, labels):
    """Key column -> hashing input; Arrow-backed columns (pandas 3 strings, ``Int64``) via Arrow."""
    if series.dtype != object and hasattr(series.array, "__arrow_array__"):
        import pyarrow as pa

        return arrow_lists.row_keys(pa.array(series.array), column, op, labels)
    return pandas_lists.row_keys(series, column, op)


def apply(frame, spec):
    """``frame`` with the mask column appended (object lists in, object lists out; Arrow in, Arrow out)."""
    return masked(frame, spec)[0]


def masked(frame, spec):
    """``(apply(frame, spec), flat mask)``: the flat mask is the mask column's values in row order, one
    bool array (null rows give none, empty rows none), as the mask column was built from it."""
    spec.check_columns(frame.columns)
    labels = frame.index
    source = frame[spec.columns[0]]
    first = _flatten(source, spec.columns[0], spec, labels)
    spec.aligned(first, [(c, _flatten(frame[c], c, spec, labels, False)) for c in spec.columns[1:]], labels)
    keys = row_keys(frame[spec.key], spec.key, spec.label, labels) if spec.random and spec.key else None
    mask, ids = spec.mask(first, keys)
    out = {spec.mask_name: _lists(mask, first, source, frame.index, arrow_lists.bool_lists,
                                  pandas_lists.build_bool_lists)}
    if ids is not None:
        out[spec.input_name] = _lists(ids, first, source, frame.index, arrow_lists.value_lists,
                                      pandas_lists.build_lists)
    return frame.assign(**out), mask.astype(bool, copy=False)


def _lists(values, first, source, index, arrow_build, object_build):
    """A list column of flat ``values`` with ``first``'s rows, of ``source``'s kind (Arrow or object)."""
    if _is_arrow(source):
        return pd.Series(pd.arrays.ArrowExtensionArray(arrow_build(values, first, _arrow(source).type)), index=index)
    return object_build(values, first.offsets, first.valid, index)
