"""merlin_mlm_ops.compat: the same results as merlin-core/NVTabular 23.08, and the NaN-row fix.

Every comparison runs the original functions and the replacements in this process, switching
with ``compat.undo()`` / ``compat.apply()``.
"""
import contextlib
import glob
import os
import warnings

import numpy as np
import pandas as pd
import pytest

import merlin.core.dispatch as dispatch
import merlin_mlm_ops.ops  # noqa: F401  (importing the operators applies the compat module)
from merlin_mlm_ops import compat
from merlin_mlm_ops.compat import merlin_core


@contextlib.contextmanager
def compat_off():
    compat.undo()
    try:
        yield
    finally:
        assert compat.apply()


def original(name):
    return merlin_core._originals[name]


def obj(rows):
    """An object Series holding exactly ``rows`` (no NumPy broadcasting of equal-length rows)."""
    out = np.empty(len(rows), dtype=object)
    for i, r in enumerate(rows):
        out[i] = r
    return pd.Series(out)


def outcome(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # the replacements must fail exactly where the originals do
            return type(exc)


def assert_same(a, b):
    if isinstance(a, type):
        assert a is b
    else:
        pd.testing.assert_series_equal(a, b)
        for x, y in zip(a, b):
            if isinstance(x, np.ndarray):
                assert x.dtype == y.dtype


ROWS = {
    **{dt: [np.array([3, 0, 7], dtype=dt), np.array([], dtype=dt), np.array([1], dtype=dt)]
       for dt in ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                  "float16", "float32", "float64", "bool"]},
    "uint64 above int64": [np.array([2**63 + 5, 1], dtype="uint64")],
    "float with NaN": [np.array([1.5, np.nan]), np.array([np.nan])],
    "strings": [np.array(["a", "bb"], dtype=object), np.array([], dtype=object), np.array(["c"], dtype=object)],
    "strings with None": [np.array(["a", None], dtype=object), np.array(["c"], dtype=object)],
    "unicode arrays": [np.array(["a", "bb"]), np.array(["c"])],
    "objects, ints and None": [np.array([1, None], dtype=object), np.array([2], dtype=object)],
    "mixed int32/int64 rows": [np.array([1], dtype="int32"), np.array([2**40], dtype="int64")],
    "python lists": [[1, 2], [], [3]],
    "python bools and ints": [[True, 1], [0]],
    "null row": [np.array([1, 2]), None, np.array([3])],
    "NaN row": [np.array([1.0]), np.nan],
    "all rows empty": [np.array([], dtype="int64"), np.array([], dtype="int64")],
    "no rows": [],
    "2-D rows": [np.array([[1, 2], [3, 4]]), np.array([[5, 6]])],
    "datetimes": [np.array(["2020-01-01", "2021-06-30"], dtype="datetime64[ns]")],
    "scalars": [1, 2],
}


@pytest.mark.parametrize("kind", list(ROWS))
def test_flatten_list_column_values_equals_merlin_core_on_every_row_kind(kind):
    s = obj(ROWS[kind])
    expected = outcome(original("flatten_list_column_values"), s)
    assert_same(outcome(dispatch.flatten_list_column_values, s), expected)


@pytest.mark.parametrize("kind", list(ROWS))
def test_dataloader_array_leaves_equals_merlin_dataloader_on_every_row_kind(kind):
    """merlin-dataloader builds fixed-length list columns with np.array(list(_array_leaves(rows)))."""
    import merlin.dataloader.loader_base as loader_base

    rows = obj(ROWS[kind]).to_numpy()
    expected = outcome(lambda: np.array(list(original("_array_leaves")(rows))))
    got = outcome(lambda: np.array(list(loader_base._array_leaves(rows))))
    if isinstance(expected, type):
        assert got is expected
    else:
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kind", [k for k in ROWS if k not in ("scalars", "no rows")])
@pytest.mark.parametrize("dtype", [None, "int32", "int64"])
def test_encode_list_column_equals_merlin_core_with_a_zero_based_index(kind, dtype):
    s = obj(ROWS[kind])
    n = int(sum(len(r) for r in ROWS[kind] if hasattr(r, "__len__")))
    for encoded in (np.arange(n, dtype="int64") + 3, pd.Series(np.arange(n, dtype="int64") + 3)):
        expected = outcome(original("encode_list_column"), s, encoded, dtype=dtype)
        assert_same(outcome(dispatch.encode_list_column, s, encoded, dtype=dtype), expected)


def test_encode_list_column_keeps_the_index_and_never_aliases_the_input():
    s = obj([np.array([5, 6]), np.array([7]), np.array([], dtype="int64")])
    s.index = [10, 11, 12]
    encoded = np.array([1, 2, 3])
    out = dispatch.encode_list_column(s, encoded)
    assert list(out.index) == [10, 11, 12]
    assert [r.tolist() for r in out] == [[1, 2], [3], []]
    out.iloc[0][0] = 99
    assert encoded[0] == 1 and out.iloc[1][0] == 3
    with compat_off():
        assert list(dispatch.encode_list_column(s, encoded).index) == [0, 1, 2]  # merlin-core's


@pytest.mark.parametrize("make", [np.ma.MaskedArray, lambda a: a.view(type("Sub", (np.ndarray,), {}))],
                         ids=["masked array", "ndarray subclass"])
def test_encode_list_column_rows_are_copies_also_of_an_ndarray_subclass(make):
    s = obj([np.array([5, 6]), np.array([7])])
    for encode in (dispatch.encode_list_column, original("encode_list_column")):
        encoded = make(np.array([1, 2, 3]))
        out = encode(s, encoded)
        encoded[0] = 99  # the caller reuses its array: merlin-core's rows do not change, nor ours
        assert [list(r) for r in out] == [[1, 2], [3]], encode.__module__


def test_encode_list_column_with_mismatched_lengths_behaves_as_merlin_core():
    s = obj([np.array([5, 6]), np.array([7])])
    for encoded in (np.arange(2), np.arange(5)):  # too short, too long: merlin-core truncates/ignores
        assert_same(outcome(dispatch.encode_list_column, s, encoded), outcome(original("encode_list_column"), s, encoded))


def test_pull_apart_list_used_by_the_dataloader_is_unchanged_and_fast_path():
    s = obj([np.array([3, 1], dtype="int32"), np.array([], dtype="int32"), np.array([2], dtype="int32")])
    s.index = [4, 5, 6]
    values, offsets = dispatch.pull_apart_list(s)
    with compat_off():
        values0, offsets0 = dispatch.pull_apart_list(s)
    pd.testing.assert_series_equal(values, values0)
    pd.testing.assert_series_equal(offsets, offsets0)
    assert values.tolist() == [3, 1, 2] and offsets.tolist() == [0, 2, 2, 3]


def _sessions(n=240, seed=5, dtype="int64", strings=False, with_nan=False):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 9, n)  # empty rows included
    rows = [rng.integers(1, 40, k).astype(dtype) for k in lengths]
    if strings:
        rows = [np.array([f"item{v}" for v in r], dtype=object) for r in rows]
    if with_nan:
        rows = [np.where(rng.random(len(r)) < 0.1, np.nan, r.astype("float64")) for r in rows]
    return pd.DataFrame({"session_id": np.arange(n), "item_ids": obj(rows), "cat": obj([r[:2] for r in rows])})


def _categorify(df, tmp_path, tag, *, npartitions=1, parquet_files=0):
    import nvtabular as nvt
    from merlin.io import Dataset

    from merlin_mlm_ops import MaskRandom
    from merlin_mlm_ops.data.parquet import write_partitioned

    out = os.path.join(tmp_path, tag)
    if parquet_files:
        write_partitioned(df, os.path.join(out, "raw"), parquet_files)
        ds = Dataset(os.path.join(out, "raw"), engine="parquet", cpu=True)
    else:
        ds = Dataset(df, cpu=True, npartitions=npartitions)
    node = ["item_ids", "cat"] >> nvt.ops.Categorify(out_path=os.path.join(out, "categories"))
    wf = nvt.Workflow(["session_id"] + node)
    wf.fit(ds)
    result = wf.transform(ds).to_ddf().compute()
    vocab = {os.path.basename(p): pd.read_parquet(p) for p in glob.glob(os.path.join(out, "categories", "**", "*.parquet"), recursive=True)}
    return result, vocab


CATEGORIFY_CASES = {
    "int64, empty rows": dict(),
    "int32": dict(dtype="int32"),
    "strings": dict(strings=True),
    "float ids with NaN items": dict(with_nan=True),
}


@pytest.mark.parametrize("case", list(CATEGORIFY_CASES))
def test_categorify_on_lists_gives_identical_outputs_and_vocabularies(case, tmp_path):
    df = _sessions(**CATEGORIFY_CASES[case])
    got, vocab = _categorify(df, tmp_path, "on", parquet_files=3)
    with compat_off():
        expected, vocab0 = _categorify(df, tmp_path, "off", parquet_files=3)
    pd.testing.assert_frame_equal(got, expected)
    assert vocab.keys() == vocab0.keys() and vocab
    for name in vocab:
        pd.testing.assert_frame_equal(vocab[name], vocab0[name])


def test_categorify_with_null_rows_fails_as_in_nvtabular_2308(tmp_path):
    df = _sessions(12)
    df.loc[3, "item_ids"] = None
    errors = []
    for switch in (contextlib.nullcontext, compat_off):
        with switch(), pytest.raises(TypeError, match="not iterable") as info:
            _categorify(df, tmp_path, f"null{len(errors)}")
        errors.append(str(info.value))
    assert errors[0] == errors[1]


def test_categorify_on_a_multi_partition_dataframe_keeps_every_row(tmp_path):
    """Dataset(df, npartitions=k): partitions 2..k have indexes not starting at 0."""
    df = _sessions(90)
    got, _ = _categorify(df, tmp_path, "parts", npartitions=3)
    single, _ = _categorify(df, tmp_path, "single", npartitions=1)
    assert got["item_ids"].notna().all() and got["cat"].notna().all()
    for col in ("item_ids", "cat"):
        assert [list(r) for r in got[col]] == [list(r) for r in single[col]]
        assert [len(r) for r in got[col]] == [len(r) for r in df[col]]
    with compat_off():  # proves the test bites: NVTabular 23.08 alone loses the rows of partitions 2 and 3
        broken, _ = _categorify(df, tmp_path, "broken", npartitions=3)
    assert broken["item_ids"].isna().sum() == 60


def test_apply_is_idempotent_and_undo_restores_the_originals():
    import nvtabular.ops.moments as moments

    assert compat.is_active() and compat.apply()
    assert dispatch.flatten_list_column_values is merlin_core.flatten_list_column_values
    assert moments.flatten_list_column_values is merlin_core.flatten_list_column_values
    n = len(merlin_core._patched)
    assert compat.apply() and len(merlin_core._patched) == n
    with compat_off():
        assert not compat.is_active()
        assert dispatch.flatten_list_column_values is original("flatten_list_column_values")
        assert moments.flatten_list_column_values is original("flatten_list_column_values")
        assert dispatch.encode_list_column is original("encode_list_column")
        import merlin.dataloader.loader_base as loader_base
        assert loader_base._array_leaves is original("_array_leaves")
    assert loader_base._array_leaves is merlin_core.array_leaves


def test_env_var_and_other_versions_leave_merlin_untouched():
    import nvtabular.ops.moments as moments

    with compat_off(), pytest.MonkeyPatch.context() as mp:
        mp.setenv(compat.ENV_VAR, "1")
        assert not compat.apply() and not compat.is_active()
        assert dispatch.flatten_list_column_values is original("flatten_list_column_values")
        mp.setenv(compat.ENV_VAR, "0")
        mp.setitem(merlin_core.WRITTEN_FOR, "merlin-core", "23.12.")
        assert not compat.apply() and not compat.is_active()
        assert dispatch.encode_list_column is original("encode_list_column")
        mp.setitem(merlin_core.WRITTEN_FOR, "merlin-core", "23.8.")
        mp.setitem(merlin_core.WRITTEN_FOR, "nvtabular", "23.12.")
        assert compat.apply()  # merlin-core patched, NVTabular's own names left alone
        assert dispatch.flatten_list_column_values is merlin_core.flatten_list_column_values
        assert moments.flatten_list_column_values is original("flatten_list_column_values")
        compat.undo()


def test_dask_plugin_applies_the_compat_module_on_workers():
    from distributed import Client, LocalCluster

    from merlin_mlm_ops.compat.dask import PLUGIN_NAME, register

    with compat_off():
        with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, Client(cluster) as client:
            assert register(register(client)) is client  # idempotent
            assert compat.is_active()  # the in-process worker ran the plugin
            assert client.run(lambda: dispatch.flatten_list_column_values.__module__) == {
                w: "merlin_mlm_ops.compat.merlin_core" for w in client.scheduler_info()["workers"]}
            assert PLUGIN_NAME in next(iter(client.run(lambda dask_worker: list(dask_worker.plugins)).values()))
        compat.undo()


def test_importing_the_operators_applies_it_unless_the_env_var_says_no():
    import subprocess
    import sys

    assert compat.is_active()  # this module imported merlin_mlm_ops.ops, as users do
    probe = ("import merlin_mlm_ops.ops, merlin.core.dispatch as d; from merlin_mlm_ops import compat; "
             "print(compat.is_active(), d.flatten_list_column_values.__module__)")
    env = {**os.environ, compat.ENV_VAR: "1", "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "merlin.core.dispatch"]
