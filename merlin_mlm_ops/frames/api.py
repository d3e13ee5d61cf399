"""``mask_random`` and ``mask_last``: the NVTabular operators' masks on a dataframe of any kind."""
from __future__ import annotations

from merlin_mlm_ops.frames._core import MaskSpec
from merlin_mlm_ops.masking.bert_params import check_bert_options, check_input_column, item_draw
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


#: Frame kind -> (module of merlin_mlm_ops.frames, function) that masks it / cuts its windows.
_MASKERS = {"pandas": ("_pandas", "apply"), "pyarrow": ("_arrow_frames", "apply_table"),
            "polars": ("_arrow_frames", "apply_polars"), "cudf": ("_cudf", "apply"), "dask": ("_dask", "apply")}
_WINDOWERS = {"pandas": ("_windows", "cut_pandas"), "pyarrow": ("_windows", "cut_table"),
              "polars": ("_windows", "cut_polars"), "cudf": ("_cudf_windows", "cut"), "dask": ("_windows", "cut_dask")}


def _apply(frame, spec, functions=_MASKERS):
    """``function(frame, spec)`` for the frame's kind (its module imported only now)."""
    import importlib

    module, name = functions[_kind(frame)]
    return getattr(importlib.import_module(f"merlin_mlm_ops.frames.{module}"), name)(frame, spec)


def mask_random(frame, column, *, seed, prob=0.2, key=None, epoch=0, min_masked=1, max_masked=None,
                pad_id=0, mask_column=None, last_ratio=0.0, replace=None, vocab=None, item_counts=None,
                input_column=None):
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
        Share of rows, in [0, 1], that take :func:`mask_last`'s mask instead (BERT4Rec's last-item
        training copies; RecBole's ``ft_ratio``), chosen per row from ``(seed, epoch, row key)``.
    replace : (float, float, float) or None, default None
        BERT's 80/10/10: ``(mask, random, keep)`` shares, >= 0 and summing to 1, of the masked
        positions of a random-mask row shown to the model as [MASK], as a random item, or as their
        own item.  Adds the input-ids column: each row's item ids with ``pad_id`` at the [MASK]
        positions and the drawn item at the random ones.  ``None``: no input column.
    vocab : (int, int) or None, default None
        ``[low, high)``, the ids random items are drawn from, uniformly, never ``pad_id``.  A frame
        has no schema to take it from: when ``replace`` gives random items a share, pass
        ``vocab`` or ``item_counts``.
    item_counts : 1-D array of int or None, default None
        Draw random items by popularity: id ``i`` in proportion to ``item_counts[i]`` (``pad_id``'s
        count taken as 0).  Not with ``vocab``.
    input_column : str or None, default None
        Name of the input-ids column; ``None``: ``<column>_input``.  Only with ``replace``.

    The BERT4Rec options follow :class:`merlin_mlm_ops.MaskRandom`'s rules and errors (both check
    them with :mod:`merlin_mlm_ops.masking.bert_params`), and give its masks and input ids bit for bit.

    Example
    -------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"session": [1, 2], "item_ids": [[5, 6, 7, 8], [9, 3]]})
    >>> out = mask_random(df, "item_ids", prob=0.5, seed=7, key="session")
    >>> [m.tolist() for m in out["item_ids_mask"]]
    [[True, False, False, False], [True, False]]
    """
    return _apply(frame, _random_spec(column, seed=seed, prob=prob, key=key, epoch=epoch, min_masked=min_masked,
                                      max_masked=max_masked, pad_id=pad_id, mask_column=mask_column,
                                      last_ratio=last_ratio, replace=replace, vocab=vocab, item_counts=item_counts,
                                      input_column=input_column))


def mask_random_flat(frame, column, **options):
    """``(mask_random(frame, column, **options), flat)`` for a pandas frame, by the same code.

    ``flat`` is the mask column's values in row order as one bool array: null rows give no value
    and empty rows none, exactly ``np.concatenate(list(out[mask_column].dropna()))`` without its
    Python step per row (the job without NVTabular counts each epoch's masked items with it).

    Parameters
    ----------
    frame : pandas.DataFrame
        Object or ``ArrowDtype`` list columns; other kinds raise TypeError.
    column, **options
        :func:`mask_random`'s, with its defaults (read from its signature).
    """
    import inspect

    if _kind(frame) != "pandas":
        raise TypeError(f"mask_random_flat takes a pandas DataFrame, got "
                        f"{type(frame).__module__}.{type(frame).__name__}")
    bound = inspect.signature(mask_random).bind(frame, column, **options)
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    del arguments["frame"]
    from merlin_mlm_ops.frames import _pandas

    return _pandas.masked(frame, _random_spec(**arguments))


def _random_spec(column, *, seed, prob, key, epoch, min_masked, max_masked, pad_id, mask_column, last_ratio,
                 replace, vocab, item_counts, input_column):
    """The checked MaskSpec of a :func:`mask_random` call (its arguments, every one given)."""
    names = _columns(column)
    params = random_params(prob, seed=seed, key=key, epoch=epoch, min_masked=min_masked, max_masked=max_masked)
    pad_id = check_pad_id(pad_id)
    last_ratio, replace, vocab, item_counts = check_bert_options(
        last_ratio=last_ratio, replace=replace, vocab=vocab, item_counts=item_counts, pad_id=pad_id)
    input_column = check_input_column(input_column, replace)
    if last_ratio > 0 or replace is not None:
        draw = item_draw("mask_random", replace=replace, vocab=vocab, item_counts=item_counts, pad_id=pad_id)
        params = {**params, "last_ratio": last_ratio, "replace": replace, "draw": draw}
    input_name = None if replace is None else input_column or f"{names[0]}_input"
    return MaskSpec("mask_random", names, check_mask_column(mask_column) or f"{names[0]}_mask",
                    pad_id, params["key"], params, input_name)


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


def sliding_windows(frame, columns, max_len=200, step=None, *, key, window_key=None):
    """``frame`` with each row cut into BERT4Rec's sliding windows: the SlidingWindows operator's output.

    The windows are :class:`merlin_mlm_ops.SlidingWindows`' (docs/sliding-windows.md): a row of
    at most ``max_len`` items is one window, itself; a longer row gives windows of ``max_len``
    items, the last one aligned to the end of the history and the others stepping back from it
    by ``step``, the first starting at 0.  Empty rows stay one empty window, null rows one null
    window; windows follow their row, in start order.

    The listed ``columns`` are aligned sequences of one session (ids, categories, timestamps),
    cut alike (rows whose lengths differ raise a MaskInputError naming the column and row).
    **Every other column is kept, its row's value repeated in each of the row's windows** (the
    operator outputs only what it selects; here nothing is lost).  The ``key`` column is repeated
    too, and ``window_key`` (default ``<key>_window``, int64) is appended: window 0 carries the
    session's own row key, window ``w >= 1`` a mix of it and ``w``, so that
    ``mask_random(..., key="<key>_window")`` masks each window as the operator chain
    ``SlidingWindows >> MaskRandom(key="<key>_window")`` does.  pandas keeps each window's input
    index label (repeated, as ``DataFrame.explode``).

    Parameters
    ----------
    frame : pandas / Polars (eager or lazy) / cuDF / Dask DataFrame, or pyarrow.Table
        The same kind comes back.  A Polars LazyFrame gives a LazyFrame whose schema is known at
        once (the input's columns and types, then the window key, Int64) and whose windows are cut
        when it is collected, on the whole collected input; filters, slices and projections
        written after it stay after it.  cuDF frames are cut on the device (the pandas path's output:
        same windows, keys, index labels, null and empty rows).  Dask cuts each partition (dask-cudf
        partitions on the device).
    columns : str or list of str
        The list columns to cut.
    max_len : int, default 200
        Largest window, >= 1.
    step : int or None, default None
        Distance between window starts, in ``[1, max_len]``; ``None``: ``max_len // 2`` (at least 1).
    key : str
        Column with one integer or string session id per row; nulls are an error.
    window_key : str or None, default None
        Name of the window-key column; ``None``: ``<key>_window``.

    Example
    -------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"session": [1, 2], "user": ["a", "b"], "item_ids": [[1, 2, 3, 4, 5, 6, 7], [8, 9]]})
    >>> out = sliding_windows(df, "item_ids", max_len=4, step=2, key="session")
    >>> [w.tolist() for w in out["item_ids"]], out["user"].tolist()
    ([[1, 2, 3, 4], [2, 3, 4, 5], [4, 5, 6, 7], [8, 9]], ['a', 'a', 'a', 'b'])
    >>> out.columns.tolist()
    ['session', 'user', 'item_ids', 'session_window']
    """
    from merlin_mlm_ops.frames import _windows

    spec = _windows.window_spec(_columns(columns), key, window_key, max_len, step)
    return _apply(frame, spec, _WINDOWERS)
