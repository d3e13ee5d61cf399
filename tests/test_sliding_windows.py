"""SlidingWindows cuts rows into exactly the windows of BERT4Rec's gen_data_fin.py, keyed per window.

The reference is a plain-Python copy of the original's rule (``create_training_instances``,
``prop_sliding_window``): ``beg_idx = range(len - max_len, 0, -step) + [0]``, reversed.
"""
import glob
import json
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from merlin.dag import ColumnSelector

import fake_cudf
from helpers import ROOT, mask_lists, run_workflow
from merlin_mlm_ops import MaskInputError, MaskRandom, SlidingWindows, mask_windows
from merlin_mlm_ops.masking import engine
from merlin_mlm_ops.masking.windows import window_keys, window_plan


def reference_windows(seq, max_len, step):
    """gen_data_fin.py's windows of one history (its empty histories are dropped; ours stay)."""
    if len(seq) <= max_len:
        return [seq]
    beg_idx = list(range(len(seq) - max_len, 0, -step))
    beg_idx.append(0)
    return [seq[i:i + max_len] for i in beg_idx[::-1]]


def frame(rows, keys=None):
    keys = list(range(100, 100 + len(rows))) if keys is None else keys
    return pd.DataFrame({
        "session_id": keys,
        "item_ids": [None if r is None else np.array(r, dtype=np.int64) for r in rows],
        "weights": [None if r is None else np.array(r, dtype=np.float32) / 2 for r in rows],
        "user": [f"u{k}" for k in keys],
    }, index=pd.RangeIndex(10, 10 + len(rows)))


def windows_of(op, df, columns=("item_ids", "weights", "user")):
    return op.transform(ColumnSelector(list(columns)), df)


def as_lists(series):
    return [None if r is None else list(r) for r in series]


rows_strategy = st.lists(st.one_of(st.none(), st.lists(st.integers(1, 50), max_size=30)), max_size=8)


@settings(max_examples=150, deadline=None)
@given(rows=rows_strategy, max_len=st.integers(1, 12), data=st.data())
def test_windows_are_gen_data_fins_windows_in_order(rows, max_len, data):
    step = data.draw(st.integers(1, max_len))
    df = frame(rows)
    out = windows_of(SlidingWindows(max_len, step, key="session_id"), df)
    want, want_rows = [], []
    for r, row in enumerate(rows):
        cut = [None] if row is None else reference_windows(row, max_len, step)
        want += cut
        want_rows += [r] * len(cut)
    assert as_lists(out["item_ids"]) == want
    assert as_lists(out["weights"]) == [None if w is None else [x / 2 for x in w] for w in want]
    assert out["session_id"].tolist() == [100 + r for r in want_rows]
    assert out["user"].tolist() == [f"u{100 + r}" for r in want_rows]
    assert out.index.tolist() == [10 + r for r in want_rows]  # labels repeated, as DataFrame.explode
    assert out.columns.tolist() == ["item_ids", "weights", "user", "session_id", "session_id_window"]
    index = np.arange(len(want_rows)) - np.searchsorted(want_rows, want_rows)  # 0, 1, ... within a row
    keys = window_keys(np.array(want_rows, dtype=np.uint64) + np.uint64(100), index)
    assert out["session_id_window"].tolist() == keys.view(np.int64).tolist()


def test_bert4rec_ml1m_windows_keep_the_most_recent_items():
    # max_len 200, prop_sliding_window 0.5: a history of 450 gives windows at 0, 50, 150, 250.
    plan = window_plan(np.array([0, 450, 650, 651]), max_len=200, step=100)
    assert plan.starts.tolist() == [0, 50, 150, 250, 0, 0]
    assert plan.offsets[1:].tolist()[:4] == [200, 400, 600, 800]
    assert plan.source[799] == 449  # the last window ends with the last item


class NotNumpy:
    """NumPy under another name: runs the plan's CuPy branch (no per-row ``repeat``) on the CPU."""

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize("max_len,step", [(1, 1), (4, 2), (5, 5), (7, 3)])
def test_the_device_branch_of_the_plan_cuts_the_same_windows(max_len, step):
    offsets = np.concatenate([[0], np.cumsum(np.random.default_rng(max_len).integers(0, 20, 50))])
    host, device = window_plan(offsets, max_len, step), window_plan(offsets, max_len, step, xp=NotNumpy())
    for got, want in zip(device, host):
        assert got.tolist() == want.tolist()


def test_lists_of_strings_and_python_lists_are_carried():
    df = pd.DataFrame({"s": [1, 2], "ids": [[1, 2, 3, 4, 5], [6]], "tags": [list("abcde"), ["f"]]})
    out = windows_of(SlidingWindows(3, 2, key="s"), df, ("ids", "tags"))
    assert as_lists(out["tags"]) == [["a", "b", "c"], ["c", "d", "e"], ["f"]]
    assert as_lists(out["ids"]) == [[1, 2, 3], [3, 4, 5], [6]]


def test_default_step_is_half_the_window():
    assert SlidingWindows(200, key="s").step == 100 and SlidingWindows(1, key="s").step == 1


@pytest.mark.parametrize("rows", [[], [None], [[]], [[1, 2], [3]]], ids=["no rows", "null", "empty", "short"])
def test_rows_that_fit_pass_unchanged_with_their_own_key(rows):
    df = frame(rows)
    out = windows_of(SlidingWindows(4, 2, key="session_id"), df)
    assert as_lists(out["item_ids"]) == as_lists(df["item_ids"]) and out.index.equals(df.index)
    assert out["session_id_window"].tolist() == df["session_id"].tolist()


def test_window_zero_of_a_string_key_is_the_keys_hash_as_mask_random_takes_it():
    df = frame([[1, 2, 3], [4, 5, 6, 7, 8, 9]], keys=["a", "b"])
    out = windows_of(SlidingWindows(4, 2, key="session_id"), df)
    from merlin_mlm_ops.adapters import pandas_lists

    hashed = engine.row_keys_from_column(*pandas_lists.row_keys(df["session_id"], "session_id", "t"))
    assert out["session_id_window"].tolist()[:2] == hashed.view(np.int64).tolist()
    assert len(set(out["session_id_window"])) == len(out)


def test_rows_that_fit_get_the_masks_mask_random_gives_them_unwindowed():
    rng = np.random.default_rng(3)
    rows = [rng.integers(1, 99, n).tolist() for n in rng.integers(0, 30, 60)]
    df = frame(rows)
    windows = ["item_ids"] >> SlidingWindows(20, 5, key="session_id")
    node = mask_windows(windows, MaskRandom(prob=0.3, seed=4, key="session_id_window"), ["item_ids"])
    out, _ = run_workflow(node + windows[["session_id", "session_id_window"]], df)
    plain = MaskRandom(prob=0.3, seed=4, key="session_id").transform(ColumnSelector(["item_ids"]), df)
    short = [i for i, r in enumerate(rows) if len(r) <= 20]
    first = out.drop_duplicates("session_id").set_index("session_id")["item_ids_mask"]
    assert [mask_lists(first.loc[[100 + i]])[0] for i in short] == [mask_lists(plain["item_ids_mask"])[i] for i in short]


def test_window_masks_do_not_depend_on_partitioning():
    rng = np.random.default_rng(1)
    rows = [rng.integers(1, 99, n).tolist() for n in rng.integers(0, 60, 90)]
    df = frame(rows).reset_index(drop=True)
    got = []
    for npartitions in (1, 3):
        windows = ["item_ids", "weights"] >> SlidingWindows(16, 6, key="session_id")
        node = mask_windows(windows, MaskRandom(prob=0.25, seed=11, key="session_id_window"), ["item_ids", "weights"])
        out, _ = run_workflow(windows[["session_id", "session_id_window"]] + node, df, npartitions=npartitions)
        got.append(out.reset_index(drop=True))
    one, three = got
    assert len(one) > len(df)  # long rows were cut
    assert one["session_id_window"].tolist() == three["session_id_window"].tolist()
    assert as_lists(one["item_ids"]) == as_lists(three["item_ids"])
    assert mask_lists(one["item_ids_mask"]) == mask_lists(three["item_ids_mask"])


# ---- cuDF (tests/fake_cudf.py) -------------------------------------------------------------


def cudf_frame(df):
    return fake_cudf.DataFrame({
        "session_id": fake_cudf.scalar_series(df["session_id"].to_numpy(), index=df.index),
        "item_ids": fake_cudf.list_series(as_lists(df["item_ids"]), index=df.index),
        "weights": fake_cudf.list_series(as_lists(df["weights"]), dtype=np.float32, index=df.index),
        "user": fake_cudf.scalar_series(df["user"].tolist(), index=df.index),
    }, df.index)


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy, max_len=st.integers(1, 9), data=st.data())
def test_cudf_partitions_get_the_same_windows_as_pandas(rows, max_len, data):
    with pytest.MonkeyPatch.context() as mp:
        fake_cudf.install(mp)
        check_cudf_like_pandas(rows, max_len, data)


def check_cudf_like_pandas(rows, max_len, data):
    step = data.draw(st.integers(1, max_len))
    start = data.draw(st.integers(0, len(rows)))
    df = frame(rows)
    op = SlidingWindows(max_len, step, key="session_id")
    want = windows_of(op, df.iloc[start:])
    gdf = cudf_frame(df)
    sliced = fake_cudf.DataFrame({k: v.iloc[start:] for k, v in gdf._columns.items()}, df.index[start:])
    got = windows_of(op, sliced)
    assert got.columns == want.columns.tolist()
    for name in ("item_ids", "weights"):
        assert got[name].to_pylist() == as_lists(want[name])
        assert got[name].dtype == gdf[name].dtype
    for name in ("session_id", "session_id_window", "user"):
        assert got[name].to_pandas().tolist() == want[name].tolist()
    assert list(got.index) == want.index.tolist()


# ---- schema, save / load, repr -------------------------------------------------------------


def test_output_schema_keeps_tags_and_dtypes_caps_value_count_and_adds_the_key(tmp_path):
    import nvtabular as nvt
    from merlin.io import Dataset
    from merlin.schema import Tags

    df = frame([[1, 2, 3, 4, 5, 6, 7, 8, 9], [1]])
    windows = ["item_ids", "weights"] >> SlidingWindows(4, 3, key="session_id")
    masked = mask_windows(windows, MaskRandom(prob=0.5, key="session_id_window"), ["item_ids"])
    wf = nvt.Workflow(windows + masked[["item_ids_mask"]])
    ds = Dataset(df, cpu=True)
    ds.schema["item_ids"] = ds.schema["item_ids"].with_tags([Tags.ITEM_ID, Tags.CATEGORICAL])
    wf.fit(ds)
    schema = wf.output_schema
    assert schema.column_names == ["item_ids", "weights", "session_id", "session_id_window", "item_ids_mask"]
    assert {Tags.ITEM, Tags.ID, Tags.CATEGORICAL} <= set(schema["item_ids"].tags) and schema["item_ids"].dtype.name == "int64"
    assert schema["weights"].dtype.name == "float32" and schema["weights"].value_count.max == 4
    assert schema["item_ids"].value_count.max == 4 and schema["item_ids"].is_list
    assert schema["session_id_window"].dtype.name == "int64" and not schema["session_id_window"].tags
    before = wf.transform(ds).to_ddf().compute()
    wf.save(str(tmp_path / "wf"))
    again = nvt.Workflow.load(str(tmp_path / "wf")).transform(ds).to_ddf().compute()
    assert as_lists(again["item_ids"]) == as_lists(before["item_ids"])
    assert again["session_id_window"].tolist() == before["session_id_window"].tolist()
    assert mask_lists(again["item_ids_mask"]) == mask_lists(before["item_ids_mask"])


def test_repr_names_every_parameter():
    assert repr(SlidingWindows(200, key="s")) == "SlidingWindows(max_len=200, step=100, key='s', window_key=None)"


# ---- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(max_len=0), ValueError, "max_len must be >= 1"),
    (dict(max_len=4, step=0), ValueError, "step must be >= 1"),
    (dict(max_len=4, step=5), ValueError, "step must be <= max_len"),
    (dict(max_len=4, key=None), TypeError, "key must be a column name"),
])
def test_bad_parameters_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        SlidingWindows(**{"key": "session_id", **kwargs})


def test_misaligned_list_columns_name_the_column_and_row():
    df = frame([[1, 2, 3], [4, 5, 6, 7, 8]])
    df["weights"] = [df["weights"][10], np.array([1.0], dtype=np.float32)]
    with pytest.raises(MaskInputError, match=r"column 'weights', row 11: row lengths differ from column 'item_ids'"):
        windows_of(SlidingWindows(4, 2, key="session_id"), df)


def test_missing_null_and_list_keys_are_named():
    df = frame([[1, 2, 3], [4, 5, 6, 7, 8]])
    with pytest.raises(MaskInputError, match="column 'sess': key column is missing"):
        windows_of(SlidingWindows(4, 2, key="sess"), df)
    with pytest.raises(ValueError, match=r"Missing columns \['sess'\]"):  # merlin's dependency check
        run_workflow(["item_ids"] >> SlidingWindows(4, 2, key="sess"), df)
    df["session_id"] = pd.array([1, None], dtype="Int64")
    with pytest.raises(MaskInputError, match="column 'session_id', row 11: key is null"):
        windows_of(SlidingWindows(4, 2, key="session_id"), df)
    df["session_id"] = df["item_ids"]
    with pytest.raises(MaskInputError, match="column 'session_id': is a list column"):
        run_workflow(["item_ids"] >> SlidingWindows(4, 2, key="session_id"), df)


def test_mask_last_on_windows_marks_each_windows_last_item():
    from merlin_mlm_ops import MaskLast

    windows = ["item_ids"] >> SlidingWindows(4, 2, key="session_id")
    out, _ = run_workflow(mask_windows(windows, MaskLast(), ["item_ids"]), frame([[1, 2, 3, 4, 5, 6], [7]]))
    assert mask_lists(out["item_ids_mask"]) == [[False, False, False, True]] * 2 + [[True]]


def test_a_mask_keyed_by_the_input_rows_is_refused():
    windows = ["item_ids"] >> SlidingWindows(4, 2, key="session_id")
    with pytest.raises(ValueError, match="key it by 'session_id_window'"):
        mask_windows(windows, MaskRandom(key="session_id"), ["item_ids"])


# ---- the merlin-mlm mask job ---------------------------------------------------------------


def test_job_window_option_masks_the_windows_keyed_by_session_and_window(cluster, tmp_path, capsys):
    from merlin_mlm_ops.data.parquet import write_partitioned
    from merlin_mlm_ops.job.cli import main

    rng = np.random.default_rng(7)
    rows = [rng.integers(1, 99, n).tolist() for n in rng.integers(1, 40, 120)]
    df = frame(rows).drop(columns=["user"]).reset_index(drop=True)
    write_partitioned(df, str(tmp_path / "raw"), 3)
    out = str(tmp_path / "masked")
    rc = main(["mask", str(tmp_path / "raw"), "--output", out, "--column", "item_ids", "--column", "weights",
               "--key", "session_id", "--window", "16:5", "--prob", "0.3", "--seed", "2",
               "--scheduler", cluster[0].scheduler_address, "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    got = pd.concat([pd.read_parquet(f) for f in sorted(glob.glob(os.path.join(out, "epoch_0000", "*.parquet")))],
                    ignore_index=True)
    assert got.columns.tolist() == ["session_id", "session_id_window", "item_ids", "weights", "item_ids_mask"]
    want = windows_of(SlidingWindows(16, 5, key="session_id"), df, ("item_ids", "weights"))
    want = want.assign(item_ids_mask=MaskRandom(prob=0.3, seed=2, key="session_id_window").transform(
        ColumnSelector(["item_ids"]), want)["item_ids_mask"])
    got = got.sort_values(["session_id"], kind="stable").reset_index(drop=True)
    assert got["session_id_window"].tolist() == want["session_id_window"].tolist()
    assert as_lists(got["item_ids"]) == as_lists(want["item_ids"])
    assert mask_lists(got["item_ids_mask"]) == mask_lists(want["item_ids_mask"])
    with open(os.path.join(out, "mlm-job.json")) as f:
        assert json.load(f)["job"]["window"] == [16, 5]
    assert f"{len(want):,} rows" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--window", "8"], "--window needs --key"),
    (["--key", "session_id", "--window", "8:9"], "--window: step must be <= max_len"),
    (["--key", "session_id", "--window", "0"], "--window: max_len must be >= 1"),
])
def test_job_window_errors_are_one_line(tmp_path, capsys, args, message):
    from merlin_mlm_ops.data.parquet import write_partitioned
    from merlin_mlm_ops.job.cli import EXIT_USAGE, main

    write_partitioned(frame([[1, 2, 3]]).drop(columns=["user", "weights"]), str(tmp_path / "raw"), 1)
    rc = main(["mask", str(tmp_path / "raw"), "--output", str(tmp_path / "o"), "--column", "item_ids", *args])
    assert rc == EXIT_USAGE and message in capsys.readouterr().err


def test_resume_refuses_a_run_with_another_window():
    from merlin_mlm_ops.job.run import _differences

    assert _differences({"window": [16, 5]}, {"window": [16, 4]}) == "window [16, 5] != [16, 4]"
    assert _differences({"key": "s"}, {"key": "s", "window": None}) == ""  # runs from before --window


def test_the_docs_example_runs():
    import re

    text = (ROOT / "docs" / "sliding-windows.md").read_text()
    [block] = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    exec(compile(block, "docs/sliding-windows.md", "exec"), {})


def test_job_window_option_parses_max_len_and_step():
    from merlin_mlm_ops.job.cli import build_parser

    parse = lambda w: build_parser().parse_args(["mask", "x", "-o", "y", "-c", "i", "--window", w]).window  # noqa: E731
    assert parse("200") == (200, 100) and parse("200:50") == (200, 50) and parse("1") == (1, 1)
    with pytest.raises(SystemExit):
        parse("200:x")
