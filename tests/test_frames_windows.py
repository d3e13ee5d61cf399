"""sliding_windows on pandas (object and ArrowDtype lists), PyArrow, Polars and Dask: SlidingWindows' windows.

Without NVTabular: BERT4Rec's windows (masking/windows.py), other columns repeated per window, the
same output on every kind, the window keys, errors.  With NVTabular: the operator's output, and
the mask of the windows that SlidingWindows >> MaskRandom gives.
"""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from helpers import as_mask_lists

from merlin_mlm_ops import MaskInputError, mask_random, sliding_windows
from merlin_mlm_ops.masking import hashing
from merlin_mlm_ops.masking.windows import window_keys

ROWS = [[1, 2, 3, 4, 5, 6, 7], [8, 9], [], None, list(range(10, 30)), [31, 32, 33, 34]]
KEYS = [100, 101, 102, 103, 104, 105]


def _frame():
    return pd.DataFrame({
        "session_id": KEYS,
        "user": [f"u{k}" for k in KEYS],
        "item_ids": [None if r is None else np.array(r, dtype=np.int64) for r in ROWS],
        "weights": [None if r is None else np.array(r, dtype=np.float64) / 2 for r in ROWS],
        "tags": [np.array([k % 3] * 2, dtype=np.int32) for k in KEYS],  # a list column not listed: repeated whole
    }, index=pd.RangeIndex(10, 16))


def _table():
    return pa.table({"session_id": pa.array(KEYS, pa.int64()), "user": pa.array([f"u{k}" for k in KEYS], pa.string()),
                     "item_ids": pa.array(ROWS, pa.list_(pa.int64())),
                     "weights": pa.array([None if r is None else [x / 2 for x in r] for r in ROWS], pa.list_(pa.float64())),
                     "tags": pa.array([[k % 3] * 2 for k in KEYS], pa.list_(pa.int32()))})


def _plain(values):
    return [None if v is None or (not hasattr(v, "__len__") and pd.isna(v)) else
            [x.item() if hasattr(x, "item") else x for x in v] if hasattr(v, "__len__") and not isinstance(v, str)
            else (v.item() if hasattr(v, "item") else v) for v in values]


def _columns(out):
    """Every column of any kind's output as Python lists, by name, in order."""
    if isinstance(out, pa.Table):
        return {name: out.column(name).to_pylist() for name in out.column_names}
    if type(out).__module__.startswith("polars"):
        return {name: out.get_column(name).to_list() for name in out.columns}
    return {name: _plain(out[name].tolist()) for name in out.columns}


def kinds():
    frame, table = _frame(), _table()
    arrow = frame.assign(**{c: pd.Series(pd.arrays.ArrowExtensionArray(table.column(c)), index=frame.index)
                            for c in ("item_ids", "weights")})
    out = {"pandas object": frame, "pandas ArrowDtype": arrow, "pyarrow": table}
    try:
        import polars as pl

        out["polars"] = pl.from_arrow(table)
    except ImportError:
        pass
    return out


def test_windows_are_bert4recs_and_other_columns_repeat():
    out = sliding_windows(_frame(), ["item_ids", "weights"], max_len=4, step=2, key="session_id")
    got = _columns(out)
    assert list(got) == ["session_id", "user", "item_ids", "weights", "tags", "session_id_window"]
    assert got["item_ids"][:3] == [[1, 2, 3, 4], [2, 3, 4, 5], [4, 5, 6, 7]]  # last window ends at the row's end
    assert got["item_ids"][3:6] == [[8, 9], [], None]  # short, empty and null rows: one window, unchanged
    long_windows = got["item_ids"][6:15]
    assert long_windows[0] == [10, 11, 12, 13] and long_windows[-1] == [26, 27, 28, 29] and len(long_windows) == 9
    assert got["item_ids"][15:] == [[31, 32, 33, 34]]
    assert got["weights"] == [None if w is None else [x / 2 for x in w] for w in got["item_ids"]]
    counts = [3, 1, 1, 1, 9, 1]
    assert got["session_id"] == np.repeat(KEYS, counts).tolist()
    assert got["user"] == [f"u{k}" for k in np.repeat(KEYS, counts)]
    assert got["tags"] == [[k % 3] * 2 for k in np.repeat(KEYS, counts)]
    assert out.index.tolist() == np.repeat(np.arange(10, 16), counts).tolist()  # input labels, as explode
    index = np.concatenate([np.arange(c) for c in counts])
    want_keys = window_keys(hashing.integer_row_keys(np.repeat(np.asarray(KEYS, dtype=np.int64), counts)), index)
    assert got["session_id_window"] == want_keys.view(np.int64).tolist()
    assert got["session_id_window"][3:6] == [101, 102, 103]  # window 0: the session's own key


def test_every_kind_gives_the_same_windows_and_keeps_its_types():
    outs = {kind: sliding_windows(data, ["item_ids", "weights"], max_len=5, step=3, key="session_id")
            for kind, data in kinds().items()}
    want = _columns(outs["pandas object"])
    for kind, out in outs.items():
        assert _columns(out) == want, kind
    table = outs["pyarrow"]
    assert table.schema.remove(table.schema.get_field_index("session_id_window")) == _table().schema
    assert outs["pandas ArrowDtype"]["item_ids"].dtype == pd.ArrowDtype(pa.list_(pa.int64()))
    if "polars" in outs:
        import polars as pl

        assert outs["polars"].schema["tags"] == pl.List(pl.Int32)


def test_string_keys_and_rows_no_longer_than_max_len_pass_unchanged():
    frame = _frame().assign(session_id=[f"s{k}" for k in KEYS])
    out = sliding_windows(frame, "item_ids", max_len=20, key="session_id", window_key="wk")
    assert len(out) == len(frame) and _plain(out["item_ids"].tolist()) == _plain(frame["item_ids"].tolist())
    names = [f"s{k}" for k in KEYS]
    data = np.frombuffer("".join(names).encode(), dtype=np.uint8)
    offsets = np.concatenate([[0], np.cumsum([len(n) for n in names])]).astype(np.int64)
    assert out["wk"].tolist() == hashing.string_row_keys(data, offsets).view(np.int64).tolist()


def test_arrow_string_keys_key_the_windows_as_object_strings_do():
    table = _table().set_column(0, "session_id", pa.array([f"s{k}" for k in KEYS]))
    frame = _frame().assign(session_id=[f"s{k}" for k in KEYS])
    want = sliding_windows(frame, "item_ids", max_len=4, step=2, key="session_id")
    got = sliding_windows(table, "item_ids", max_len=4, step=2, key="session_id")
    assert got.column("session_id_window").to_pylist() == want["session_id_window"].tolist()
    assert got.column("session_id").type == pa.string()  # the key column keeps its type
    assert got.column("session_id").to_pylist() == want["session_id"].tolist()
    pl = pytest.importorskip("polars")
    lazy = sliding_windows(pl.from_arrow(table).lazy(), "item_ids", max_len=4, step=2, key="session_id")
    assert lazy.collect().get_column("session_id_window").to_list() == want["session_id_window"].tolist()


def test_dask_cuts_each_partition_with_the_right_meta():
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")
    frame = _frame()
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(frame, npartitions=3)
    out = sliding_windows(ddf, ["item_ids", "weights"], max_len=4, step=2, key="session_id")
    want = sliding_windows(frame, ["item_ids", "weights"], max_len=4, step=2, key="session_id")
    assert list(out._meta.columns) == list(want.columns)
    assert out._meta["session_id_window"].dtype == np.int64
    assert _columns(out.compute()) == _columns(want)


def test_masks_of_the_windows_keyed_by_the_window_key_are_frame_independent():
    table = sliding_windows(_table(), "item_ids", max_len=4, step=2, key="session_id")
    masked = mask_random(table, "item_ids", prob=0.4, seed=3, key="session_id_window")
    again = mask_random(table.slice(3).to_pandas(), "item_ids", prob=0.4, seed=3, key="session_id_window")
    assert as_mask_lists(masked.column("item_ids_mask").to_pylist()[3:]) == as_mask_lists(again["item_ids_mask"])


@pytest.mark.parametrize("call,error,message", [
    (dict(max_len=0), ValueError, "max_len must be >= 1"),
    (dict(max_len=4, step=5), ValueError, "step must be <= max_len"),
    (dict(key=None), TypeError, "key must be a column name"),
    (dict(key="nope"), MaskInputError, "'nope'"),
    (dict(columns=["item_ids", "nope"]), MaskInputError, "'nope'"),
    (dict(columns=["item_ids", "session_id"]), MaskInputError, "is the key"),
    (dict(window_key="user"), ValueError, "window key column 'user' collides"),
    (dict(columns=["item_ids", "tags"]), MaskInputError, "row lengths differ"),
])
def test_bad_arguments_are_refused(call, error, message):
    args = {"columns": "item_ids", "max_len": 4, "key": "session_id", **call}
    with pytest.raises(error, match=message):
        sliding_windows(_frame(), args.pop("columns"), **args)


def test_a_lazy_polars_frame_gives_the_eager_windows_when_collected(monkeypatch):
    pl = pytest.importorskip("polars")
    from merlin_mlm_ops.frames import _windows

    frame = pl.from_arrow(_table())
    eager = sliding_windows(frame, ["item_ids", "weights"], max_len=4, step=2, key="session_id")
    cuts = []
    original = _windows.cut_table
    monkeypatch.setattr(_windows, "cut_table", lambda *a: cuts.append(1) or original(*a))
    lazy = sliding_windows(frame.lazy(), ["item_ids", "weights"], max_len=4, step=2, key="session_id")
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect_schema() == eager.schema and not cuts  # the schema is known before any cut
    out = lazy.collect()
    assert cuts == [1]  # cut when collected, once, on the whole input
    assert out.equals(eager) and out.schema == eager.schema and out.columns == eager.columns  # values, order, dtypes


def test_filters_slices_and_projections_after_the_lazy_windows_stay_after_them():
    pl = pytest.importorskip("polars")
    frame = pl.from_arrow(_table())
    eager = sliding_windows(frame, "item_ids", max_len=4, step=2, key="session_id")
    lazy = sliding_windows(frame.lazy(), "item_ids", max_len=4, step=2, key="session_id")
    four = pl.col("item_ids").list.len() == 4  # one input row has 4 items, 13 windows do
    assert lazy.filter(four).collect().equals(eager.filter(four)) and len(eager.filter(four)) == 13
    assert lazy.slice(1, 3).collect().equals(eager.slice(1, 3))  # not input rows 1-3's windows
    assert lazy.select("item_ids").collect().equals(eager.select("item_ids"))  # the key is still read


def test_a_lazy_polars_frame_is_checked_when_called():
    pl = pytest.importorskip("polars")
    lazy = pl.from_arrow(_table()).lazy()
    with pytest.raises(MaskInputError, match="'nope'"):
        sliding_windows(lazy, "item_ids", max_len=4, key="nope")
    with pytest.raises(ValueError, match="window key column 'user' collides"):
        sliding_windows(lazy, "item_ids", max_len=4, key="session_id", window_key="user")


def test_series_are_refused():
    with pytest.raises(TypeError, match="expected a pandas"):
        sliding_windows(_frame()["item_ids"], "item_ids", max_len=4, key="session_id")


def test_dask_cudf_partitions_are_cut_on_the_device(monkeypatch):
    import fake_pylibcudf

    from merlin_mlm_ops.frames import _cudf_windows, _windows

    cudf = fake_pylibcudf.install(monkeypatch)
    spec = _windows.window_spec(["item_ids"], "session_id", None, 4, 2)
    calls = []
    monkeypatch.setattr(_cudf_windows, "cut", lambda part, spec: calls.append(part) or "cut on cuDF")
    part = cudf.DataFrame.from_arrow(_table())
    assert _windows.cut_partition(part, spec) == "cut on cuDF" and calls == [part]
    assert _windows.cut_partition(_frame(), spec).equals(sliding_windows(_frame(), "item_ids", max_len=4, step=2,
                                                                         key="session_id"))


def test_the_operator_gives_the_same_windows_and_masks():
    pytest.importorskip("nvtabular")
    from merlin.dag import ColumnSelector

    from helpers import run_workflow
    from merlin_mlm_ops import MaskRandom, SlidingWindows, mask_windows

    frame = _frame()
    op = SlidingWindows(4, 2, key="session_id")
    want = op.transform(ColumnSelector(["item_ids", "weights", "user"]), frame)  # tags: it would cut them
    got = sliding_windows(frame, ["item_ids", "weights"], max_len=4, step=2, key="session_id")
    for name in want.columns:
        assert _plain(got[name].tolist()) == _plain(want[name].tolist()), name
    assert got.index.tolist() == want.index.tolist()
    # the chain in a workflow: SlidingWindows >> MaskRandom(key=<key>_window)
    windows = ["item_ids"] >> SlidingWindows(4, 2, key="session_id")
    masked = mask_windows(windows, MaskRandom(prob=0.4, seed=3, key="session_id_window"), ["item_ids"])
    wf_out, _ = run_workflow(masked + windows[["session_id", "session_id_window"]], frame.iloc[:3])
    mine = mask_random(sliding_windows(frame.iloc[:3], "item_ids", max_len=4, step=2, key="session_id"),
                       "item_ids", prob=0.4, seed=3, key="session_id_window")
    assert as_mask_lists(mine["item_ids_mask"]) == as_mask_lists(wf_out["item_ids_mask"])
