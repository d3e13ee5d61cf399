"""SlidingWindows: cut long histories into the windows of BERT4Rec's own data generator."""
from __future__ import annotations

import merlin.dtypes as md
from merlin.dag import ColumnSelector
from merlin.schema import ColumnSchema
from nvtabular.ops import Operator

from merlin_mlm_ops.adapters.windows import cut_windows
from merlin_mlm_ops.errors import MaskInputError
from merlin_mlm_ops.masking.windows import (WINDOW_SALT, WindowPlan, check_window, window_keys,  # noqa: F401
                                            window_plan)


class SlidingWindows(Operator):
    """Cuts each list row into the sliding windows of BERT4Rec's data generator.

    The windows are those of ``gen_data_fin.py`` in FeiSun/BERT4Rec (``prop_sliding_window``;
    ``step = int(prop * max_len)``, 100 for its ML-1M run with ``max_len=200``):

    - a row of ``n <= max_len`` items is one window, itself (window index 0), unchanged;
    - a longer row gives ``1 + ceil((n - max_len) / step)`` windows of exactly ``max_len``
      items, starting at ``0, ..., n - max_len - 2 * step, n - max_len - step, n - max_len``:
      the last window is aligned to the end of the history (the most recent items are never
      dropped), the others step back from it by ``step``, and the first starts at 0 (it may
      overlap the second by more than ``max_len - step``);
    - the windows of a row are consecutive, in increasing start order (window index 0, 1, ...),
      and rows keep their input order; each window keeps its row's index label (as
      ``DataFrame.explode``), so later operators' errors name the input row.

    Empty rows stay one empty window and null rows one null window (the original drops empty
    histories; the mask operators keep them, and so does this one): nothing is dropped.

    All selected list columns are aligned sequences of one session (ids, categories,
    timestamps): they get the same windows, and rows whose lengths or null rows differ between
    them raise a :class:`~merlin_mlm_ops.MaskInputError` naming the column and the first such
    row.  Selected columns that are not lists are repeated for every window of their row.
    Columns of the frame that this operator does not select cannot be joined back to its output
    (it has more rows): select every column needed downstream.

    Outputs: the selected columns (windowed or repeated), the ``key`` column (repeated) and
    ``window_key`` (default ``<key>_window``), an int64 column that keys each window: window 0
    of a session carries the session's own row key (an integer key's value, a string key's
    hash as :class:`~merlin_mlm_ops.MaskRandom` computes it), window ``w >= 1`` a splitmix64
    mix of that key and ``w`` (:func:`window_keys`).  ``MaskRandom(key=<key>_window)`` thus
    masks each window independently of partitioning, and a row short enough to be one window
    gets exactly the mask ``MaskRandom(key=<key>)`` gives it unwindowed.  In a workflow, build
    that mask node with :func:`mask_windows` (a mask's key is otherwise read from the input rows).  The list columns'
    schemas keep dtype and tags; their ``value_count`` max becomes ``max_len``.

    Parameters
    ----------
    max_len : int, default 200
        Largest window, >= 1 (BERT4Rec's ``max_seq_length``).
    step : int or None, default None
        Distance between consecutive window starts, counted back from the last window, in
        ``[1, max_len]``; ``None`` takes ``max_len // 2`` (at least 1), BERT4Rec's
        ``prop_sliding_window=0.5``.
    key : str
        Column with one integer or string session id per row (required: it keys the windows).
        Nulls are an error.
    window_key : str or None, default None
        Name of the window-key column; ``None`` names it ``<key>_window``.

    Example
    -------
    >>> import pandas as pd, nvtabular as nvt
    >>> from merlin.io import Dataset
    >>> from merlin_mlm_ops import SlidingWindows
    >>> df = pd.DataFrame({"session": [1, 2], "item_ids": [[1, 2, 3, 4, 5, 6, 7], [8, 9]]})
    >>> wf = nvt.Workflow(["item_ids"] >> SlidingWindows(max_len=4, step=2, key="session"))
    >>> out = wf.fit_transform(Dataset(df, cpu=True)).to_ddf().compute()
    >>> [w.tolist() for w in out["item_ids"]]
    [[1, 2, 3, 4], [2, 3, 4, 5], [4, 5, 6, 7], [8, 9]]
    >>> out["session"].tolist(), out["session_window"].tolist()[0]
    ([1, 1, 1, 2], 1)
    """

    def __init__(self, max_len=200, step=None, *, key, window_key=None):
        super().__init__()
        self.max_len, self.step = check_window(max_len, step)
        if not isinstance(key, str) or not key:
            raise TypeError(f"key must be a column name (str), got {key!r}")
        if window_key is not None and (not isinstance(window_key, str) or not window_key):
            raise TypeError(f"window_key must be a non-empty str or None, got {window_key!r}")
        self.key = key
        self.window_key = window_key

    @property
    def window_key_name(self):
        """The name of the window-key column."""
        return self.window_key or f"{self.key}_window"

    # -- names and schema ---------------------------------------------------------------

    def _names(self, col_selector):
        return [name for name in (col_selector.names if col_selector else []) if name != self.key]

    def compute_selector(self, input_schema, selector, parents_selector=None, dependencies_selector=None):
        selector = super().compute_selector(input_schema, selector, parents_selector, dependencies_selector)
        # The key arrives as a dependency (or with the parents' columns): it is output anyway.
        return ColumnSelector(self._names(selector))

    def column_mapping(self, col_selector):
        mapping = {name: [name] for name in self._names(col_selector)}
        mapping[self.key] = [self.key]
        mapping[self.window_key_name] = [self.key]
        return mapping

    def compute_output_schema(self, input_schema, col_selector, prev_output_schema=None):
        names = self._names(col_selector)
        if not any(input_schema[name].is_list for name in names if name in input_schema.column_names):
            raise ValueError(f"{self.label}: select at least one list column")
        if self.key not in input_schema.column_names:
            raise MaskInputError(self.label, self.key, "key column is missing from the input")
        if input_schema[self.key].is_list:
            raise MaskInputError(self.label, self.key, "is a list column; the key must hold one integer "
                                 "or string per row")
        if self.window_key_name in names:
            raise ValueError(f"{self.label}: window key column {self.window_key_name!r} collides with an "
                             "input column; pass another window_key")
        return super().compute_output_schema(input_schema, col_selector, prev_output_schema)

    def compute_column_schema(self, col_name, input_schema):
        if col_name == self.window_key_name:
            # A fresh schema: the session column's tags (SESSION_ID, ...) would give models two ids.
            return ColumnSchema(col_name, dtype=md.int64).with_shape((None,))
        schema = input_schema[col_name]
        if not schema.is_list:
            return schema
        inner = schema.shape.dims[1] if schema.shape.dims is not None and len(schema.shape.dims) > 1 else None
        low = 0 if inner is None or inner.min is None else min(inner.min, self.max_len)
        high = self.max_len if inner is None or inner.max is None else min(inner.max, self.max_len)
        return schema.with_shape((None, (low, high)))

    @property
    def dependencies(self):
        return [self.key]

    # -- transform ------------------------------------------------------------------------

    def transform(self, col_selector: ColumnSelector, df):
        return cut_windows(df, self._names(col_selector), self.key, self.window_key_name,
                           self.max_len, self.step, self.label)

    transform.__doc__ = Operator.transform.__doc__

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"

    def _params(self):
        return {"max_len": self.max_len, "step": self.step, "key": self.key, "window_key": self.window_key}


def mask_windows(windows, mask_op, columns):
    """``windows[columns + [key]] >> mask_op``, with the mask's key read from the windows.

    A mask operator's ``key`` is an NVTabular *dependency*, which a workflow reads from its
    input dataset, whose rows are not the windows.  This node takes it from ``windows`` (the
    output of a :class:`SlidingWindows` node) instead, so one workflow windows and masks.

    Parameters
    ----------
    windows : merlin.dag.Node
        A node whose operator is :class:`SlidingWindows`.
    mask_op : MaskRandom or MaskLast
        Its ``key`` must be the windows' key column (``<key>_window``) or None.
    columns : list of str
        The windowed list columns to mask (the first holds the item ids).

    Example
    -------
    >>> import pandas as pd, nvtabular as nvt
    >>> from merlin.io import Dataset
    >>> from merlin_mlm_ops import MaskRandom, SlidingWindows, mask_windows
    >>> df = pd.DataFrame({"session": [1, 2], "item_ids": [[1, 2, 3, 4, 5, 6, 7], [8, 9]]})
    >>> windows = ["item_ids"] >> SlidingWindows(max_len=4, step=2, key="session")
    >>> masked = mask_windows(windows, MaskRandom(prob=0.5, seed=7, key="session_window"), ["item_ids"])
    >>> wf = nvt.Workflow(masked + windows[["session", "session_window"]])
    >>> out = wf.fit_transform(Dataset(df, cpu=True)).to_ddf().compute()
    >>> out.columns.tolist()
    ['item_ids', 'item_ids_mask', 'session', 'session_window']
    """
    op = getattr(windows, "op", None)
    if not isinstance(op, SlidingWindows):
        raise TypeError(f"windows must be the node of a SlidingWindows operator, got {windows!r}")
    if isinstance(columns, str) or not columns:
        raise TypeError(f"columns must be a non-empty list of column names, got {columns!r}")
    key = op.window_key_name
    mask_key = getattr(mask_op, "key_column", None)
    if mask_key not in (None, key):
        raise ValueError(f"{mask_op!r} is keyed by {mask_key!r}, a column of the input rows, not of the "
                         f"windows: key it by {key!r}")
    node = windows[list(columns) + ([key] if mask_key else [])] >> mask_op
    # The key (a dependency) arrives with the selected columns: drop the read of the dataset's column.
    for dependency in node.dependencies:
        dependency.children.remove(node)
    node.dependencies = []
    return node
