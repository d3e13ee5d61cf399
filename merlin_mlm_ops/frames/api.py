"""``mask_random`` and ``mask_last``: the NVTabular operators' masks on a dataframe of any kind."""
from __future__ import annotations

from merlin_mlm_ops.frames._core import MaskSpec
from merlin_mlm_ops.masking.bert_params import check_last_ratio
from merlin_mlm_ops.masking.params import check_mask_column, check_pad_id, random_params

#: Top-level module of a frame's class -> the frame kind.
_MODULES = {"pandas": "pandas", "polars": "polars", "pyarrow": "pyarrow", "cudf": "cudf",
            "dask": "dask", "dask_expr": "dask", "dask_cudf": "dask"}
KINDS = ("pandas", "polars", "pyarrow", "cudf", "dask")


def _kind(frame):
    """Which kind of frame this is, from its class's module (no library is imported to find out)."""
    kind = _MODULES.get(type(frame).__module__.split(".")[0])
    if kind == "pyarrow":
        import pyarrow as pa

        kind = kind if isinstance(frame, pa.Table) else None
    elif not {"DataFrame", "LazyFrame"} & {cls.__name__ for cls in type(frame).__mro__}:
        kind = None  # a Series (or Index...) of a known library: it has no columns to select from
    if kind is None:
        raise TypeError(f"expected a pandas, Polars (eager or lazy), cuDF or Dask DataFrame or a pyarrow.Table, "
                        f"got {type(frame).__module__}.{type(frame).__name__}")
    return kind


def _columns(column):
    names = (column,) if isinstance(column, str) else tuple(column) if isinstance(column, (list, tuple)) else None
    if not names or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"column must be a column name or a non-empty list of names, got {column!r}")
    return names


def _apply(frame, spec):
    kind = _kind(frame)
    if kind == "pandas":
        from merlin_mlm_ops.frames import _pandas

        return _pandas.apply(frame, spec)
    if kind == "pyarrow":
        from merlin_mlm_ops.frames import _arrow_frames

        return _arrow_frames.apply_table(frame, spec)
    if kind == "polars":
        from merlin_mlm_ops.frames import _arrow_frames

        return _arrow_frames.apply_polars(frame, spec)
    if kind == "cudf":
        from merlin_mlm_ops.frames import _cudf

        return _cudf.apply(frame, spec)
    from merlin_mlm_ops.frames import _dask

    return _dask.apply(frame, spec)


def mask_random(frame, column, *, seed, prob=0.2, key=None, epoch=0, min_masked=1, max_masked=None,
                pad_id=0, mask_column=None, last_ratio=0.0):
    """``frame`` with a random masked-item-modelling mask appended: MaskRandom's masks, bit for bit.

    The rules are :class:`merlin_mlm_ops.MaskRandom`'s (docs/frames.md): each eligible position
    (id != ``pad_id``) drawn with probability ``prob``; at least ``min(min_masked, n - 1)`` and
    at most ``max_masked`` per row, never all; empty rows give empty masks, null rows null
    masks.  The mask is a pure function of ``(seed, epoch, row key, position)``: with ``key``,
    of that column's value per row; without, of the row's items and its ordinal in the frame
    (in the partition, for Dask).  The frame comes back as the same kind, with its columns
    unchanged and one list-of-bool column added.

    Parameters
    ----------
    frame : pandas / Polars (eager or lazy) / cuDF / Dask DataFrame, or pyarrow.Table
        Holds the item-id list column(s).  Lists may be object columns of lists or arrays
        (pandas), ``ArrowDtype`` lists, Arrow/Polars/cuDF list columns.
    column : str or list of str
        The item-id list column; several names: aligned sequences of one session, masked by
        the first (rows whose lengths differ raise a MaskInputError naming the row).
    seed : int
        Seed of the draw, in [0, 2**64).  Required (the operator draws one when None and
        stores it; a function has nowhere to store it).
    prob : float, default 0.2
        Probability that an eligible position is drawn, in (0, 1].
    key : str or None, default None
        A column with one integer or string per row (a session id) that keys the draw:
        masks then do not depend on row order or partitioning.  Nulls are an error.
    epoch : int, default 0
        Selects an independent draw of the same data (the k-th masked copy), in [0, 2**64).
    min_masked : int, default 1
        Minimum masked positions per row (capped at ``n - 1``), below 2**63.
    max_masked : int or None, default None
        Maximum masked positions per row, below 2**63; ``None``: no cap.
    pad_id : int or None, default 0
        Id of padding positions, never masked, in [-2**63, 2**64) (compared as a 64-bit pattern);
        ``None``: all positions eligible.
    mask_column : str or None, default None
        Name of the mask column; ``None``: ``<column>_mask``.
    last_ratio : float, default 0.0
        Share of rows, in [0, 1], that take the last-item mask instead (RecBole's ``ft_ratio``;
        MaskRandom's ``last_ratio``, the job's ``--last-ratio``).

    Example
    -------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"session": [1, 2], "item_ids": [[5, 6, 7, 8], [9, 3]]})
    >>> out = mask_random(df, "item_ids", prob=0.5, seed=7, key="session")
    >>> [m.tolist() for m in out["item_ids_mask"]]
    [[True, False, False, False], [True, False]]
    """
    names = _columns(column)
    params = random_params(prob, seed=seed, key=key, epoch=epoch, min_masked=min_masked, max_masked=max_masked)
    params["last_ratio"] = check_last_ratio(last_ratio)
    spec = MaskSpec("mask_random", names, check_mask_column(mask_column) or f"{names[0]}_mask",
                    check_pad_id(pad_id), params["key"], params)
    return _apply(frame, spec)


def mask_last(frame, column, *, pad_id=0, mask_column=None):
    """``frame`` with the next-item evaluation mask appended: MaskLast's masks, bit for bit.

    Only the last eligible position (id != ``pad_id``) of each row is set; rows with none
    (empty, all padding) get all-False masks, null rows null masks.  Deterministic.

    Parameters
    ----------
    frame, column, pad_id, mask_column
        As for :func:`mask_random`.

    Example
    -------
    >>> import pyarrow as pa
    >>> table = pa.table({"item_ids": [[5, 6, 7, 0], [9], [], None]})
    >>> mask_last(table, "item_ids").column("item_ids_mask").to_pylist()
    [[False, False, True, False], [True], [], None]
    """
    names = _columns(column)
    spec = MaskSpec("mask_last", names, check_mask_column(mask_column) or f"{names[0]}_mask", check_pad_id(pad_id))
    return _apply(frame, spec)
