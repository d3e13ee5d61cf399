"""Dataframe adapters: list columns of pandas and cuDF partitions <-> flat values + offsets.

Each adapter module provides ``flatten``, ``build_bool_lists`` and ``row_keys``; the masking
code between them only sees arrays (NumPy for pandas, CuPy for cuDF).
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

from merlin_mlm_ops.errors import MaskInputError


class FlatList(NamedTuple):
    """A list column taken apart: rows are ``values[offsets[r]:offsets[r + 1]]`` (NumPy or CuPy).

    ``valid`` is None when no row is null; else ``valid[r]`` is False for a null row (whose
    offsets span no values).  ``values`` is None when only the row structure was asked for.
    """

    values: Optional[Any]
    offsets: Any
    valid: Optional[Any]


def frame_adapter(df):
    """The adapter module for a partition: pandas, or cuDF."""
    # imported here, not at the top: pandas_lists (used by merlin_mlm_ops.frames) needs no Merlin
    try:
        from merlin.core.dispatch import is_cpu_object
    except ImportError:  # no Merlin (the job without NVTabular): a cuDF frame is told by its module
        def is_cpu_object(frame):
            return type(frame).__module__.split(".")[0] != "cudf"

    if is_cpu_object(df):
        from merlin_mlm_ops.adapters import pandas_lists

        return pandas_lists
    from merlin_mlm_ops.adapters import cudf_lists

    return cudf_lists


def check_aligned(first, other, index, first_name, other_name, op):
    """Raise unless two taken-apart list columns have the same row lengths and null rows."""
    xp = _xp(first.offsets)
    bad = (first.offsets[1:] - first.offsets[:-1]) != (other.offsets[1:] - other.offsets[:-1])
    if first.valid is not None or other.valid is not None:
        n = first.offsets.shape[0] - 1
        valid_a = first.valid if first.valid is not None else xp.ones(n, dtype=bool)
        valid_b = other.valid if other.valid is not None else xp.ones(n, dtype=bool)
        bad = bad | (valid_a != valid_b)
    if bool(bad.any()):
        row = first_row(index, bad)
        raise MaskInputError(op, other_name, f"row lengths differ from column '{first_name}' "
                             f"(the selected columns must be aligned sequences of one session; "
                             f"first mismatch shown)", row)


def first_row(index, bad):
    """The index label of the first True in ``bad`` (NumPy or CuPy), for error messages."""
    return index[int(_xp(bad).flatnonzero(bad)[0])]


def _xp(arr):
    from merlin_mlm_ops.masking.arrays import array_module

    return array_module(arr)
