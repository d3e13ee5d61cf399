"""The operators' masks on any dataframe, without NVTabular: :func:`mask_random` and :func:`mask_last`.

    >>> import polars as pl                                                    # doctest: +SKIP
    >>> from merlin_mlm_ops import mask_random
    >>> out = mask_random(pl.DataFrame({"item_ids": [[5, 6, 7]]}), "item_ids", seed=7)  # doctest: +SKIP

Frames: pandas (object lists, ``ArrowDtype`` lists), Polars (eager; lazy through
``map_batches``), ``pyarrow.Table``, cuDF and Dask DataFrames (dask-expr or legacy; dask-cudf
partitions too).  The same kind comes back, with the mask column appended; the masks are the
NVTabular operators' bit for bit (tests/test_frames_match_operators.py).

Why hand-written branches and not narwhals: the work is one column taken apart into Arrow's
values + offsets, one kernel call, and one list column put back.  narwhals would give one
expression API over the libraries, but the kernels need the raw buffers, which every branch
gets through Arrow (``to_arrow``/``__arrow_array__``/pylibcudf) anyway; pandas object list columns
(NVTabular's CPU partitions) are outside what narwhals models; cuDF's zero-copy device buffers
go through pylibcudf, not a dataframe API; Dask needs ``map_partitions`` with a ``meta``.  What
is left per library is a few lines (read a column, append a column), which a dependency would
not shorten.  Each library is imported only when a frame of its kind arrives.
"""
from merlin_mlm_ops.frames.api import KINDS, mask_last, mask_random, sliding_windows

__all__ = ["KINDS", "mask_last", "mask_random", "sliding_windows"]
