"""Dask DataFrames (dask-expr and legacy): one mask per partition, as the operator in a Workflow.

The partitions are pandas (or cuDF, with dask-cudf) frames masked by the same code as an eager
frame; ``meta`` is that code run on the collection's empty ``_meta``, so the mask column's dtype
is the one the partitions will have (object lists, ``ArrowDtype`` lists or cuDF lists).  Without
``key``, rows are keyed by their content and their ordinal within the partition, exactly as the
NVTabular operator keys them: the same partitions give the same masks.
"""
from __future__ import annotations


def is_cudf(part):
    """Whether a partition is a cuDF frame (dask-cudf's), else pandas."""
    # The class's module, as api._kind tells kinds apart (importing api here would make an import circle).
    return type(part).__module__.split(".")[0] == "cudf"


def apply_partition(part, spec):
    """One partition (pandas or cuDF) with the mask column appended."""
    if is_cudf(part):
        from merlin_mlm_ops.frames import _cudf

        return _cudf.apply(part, spec)
    from merlin_mlm_ops.frames import _pandas

    return _pandas.apply(part, spec)


def apply(ddf, spec):
    """A lazy Dask DataFrame with the mask column appended to every partition."""
    spec.check_columns(ddf.columns)
    _check_list_dtypes(ddf._meta, spec)
    meta = apply_partition(ddf._meta, spec)
    return ddf.map_partitions(apply_partition, spec, meta=meta)


def _check_list_dtypes(meta, spec):
    """Refuse, before any partition is computed, selected columns whose dtype cannot hold lists.

    The empty ``meta`` has no rows to find a non-list in: a NumPy dtype other than object
    (int64, float64...) says it; so do strings, which Dask makes of object columns (with advice).
    """
    import numpy as np

    for column in spec.columns:
        dtype = meta[column].dtype
        if isinstance(dtype, np.dtype) and dtype != object:
            from merlin_mlm_ops.errors import MaskInputError

            raise MaskInputError(spec.label, column, f"is not a list column (dtype {dtype})")
        if dtype != object and str(dtype) in ("str", "string"):
            from merlin_mlm_ops.errors import MaskInputError

            raise MaskInputError(spec.label, column, f"holds strings (dtype {dtype}), not lists: Dask converts "
                                 "object columns to strings (config 'dataframe.convert-string'); give it "
                                 "ArrowDtype list columns, or set dask.config.set({'dataframe.convert-string': "
                                 "False}) before from_pandas / read_parquet")
