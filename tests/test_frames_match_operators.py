"""mask_random / mask_last give the NVTabular operators' masks bit for bit, on the same rows.

Runs where NVTabular is installed (the main environment); skipped elsewhere.  Covers several
partitions, sliced input, empty and null rows, integer and string keys, every frame kind this
environment has (pandas object and ArrowDtype lists, PyArrow, Polars, Dask).
"""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

pytest.importorskip("nvtabular")

from helpers import as_mask_lists, run_workflow, session_rows  # noqa: E402

from merlin_mlm_ops import MaskLast, MaskRandom, mask_last, mask_random  # noqa: E402

ARGS = dict(prob=0.3, seed=11, epoch=2, min_masked=1, max_masked=3, pad_id=0)


@pytest.fixture(scope="module")
def frame():
    rows = session_rows(90, seed=5)
    return pd.DataFrame({"session": np.arange(1000, 1090), "name": [f"s{i}" for i in range(90)],
                         "item_ids": pd.Series(rows, dtype=object)})


def _operator(frame, op, npartitions):
    out, _ = run_workflow(["item_ids"] >> op, frame, npartitions=npartitions)
    return as_mask_lists(out["item_ids_mask"])


def _kinds(frame):
    """The same rows as every frame kind this environment has, each with its masks -> lists."""
    arrow_lists = pa.array(frame["item_ids"].tolist(), type=pa.list_(pa.int64()))
    table = pa.table({"session": frame["session"].to_numpy(), "name": frame["name"].tolist(),
                      "item_ids": arrow_lists})
    kinds = {
        "pandas object": (frame, lambda out: out["item_ids_mask"]),
        "pandas ArrowDtype": (frame.assign(item_ids=pd.Series(pd.arrays.ArrowExtensionArray(arrow_lists),
                                                              index=frame.index)),
                              lambda out: out["item_ids_mask"].tolist()),
        "pyarrow": (table, lambda out: out.column("item_ids_mask").to_pylist()),
    }
    try:
        import polars as pl

        kinds["polars"] = (pl.from_arrow(table), lambda out: out.get_column("item_ids_mask").to_list())
    except ImportError:
        pass
    return kinds


@pytest.mark.parametrize("key", ["session", "name"])
def test_keyed_masks_equal_the_operator_on_a_multi_partition_dataset(frame, key):
    want = _operator(frame, MaskRandom(key=key, **ARGS), npartitions=4)
    for kind, (data, masks) in _kinds(frame).items():
        got = as_mask_lists(masks(mask_random(data, "item_ids", key=key, **ARGS)))
        assert got == want, kind


def test_keyless_masks_equal_the_operator_on_one_partition(frame):
    want = _operator(frame, MaskRandom(**ARGS), npartitions=1)
    for kind, (data, masks) in _kinds(frame).items():
        assert as_mask_lists(masks(mask_random(data, "item_ids", **ARGS))) == want, kind


def test_mask_last_equals_the_operator(frame):
    want = _operator(frame, MaskLast(), npartitions=3)
    for kind, (data, masks) in _kinds(frame).items():
        assert as_mask_lists(masks(mask_last(data, "item_ids"))) == want, kind


def test_sliced_input_gives_the_operators_masks_of_the_same_rows(frame):
    part = frame.iloc[14:70]  # a slice (first row not null: merlin infers list columns from it): non-zero Arrow offset, index not starting at 0
    for op, call in [(MaskRandom(**ARGS), lambda d: mask_random(d, "item_ids", **ARGS)),
                     (MaskRandom(key="name", **ARGS), lambda d: mask_random(d, "item_ids", key="name", **ARGS)),
                     (MaskLast(), lambda d: mask_last(d, "item_ids"))]:
        want = _operator(part, op, npartitions=1)
        for kind, (data, masks) in _kinds(frame).items():
            sliced = data.slice(14, 56) if hasattr(data, "slice") else data.iloc[14:70]
            assert as_mask_lists(masks(call(sliced))) == want, kind


def test_dask_partitions_give_the_operators_keyless_masks(frame):
    # The very partitions the Workflow masks: its Dataset's Dask DataFrame.
    import nvtabular as nvt
    from merlin.io import Dataset

    dataset = Dataset(frame, cpu=True, npartitions=4)
    ddf = dataset.to_ddf()
    assert ddf.npartitions == 4
    for op, call in [(MaskRandom(**ARGS), lambda d: mask_random(d, "item_ids", **ARGS)),
                     (MaskLast(), lambda d: mask_last(d, "item_ids"))]:
        want = nvt.Workflow(["item_ids"] >> op).fit_transform(dataset).to_ddf().compute()
        got = call(ddf)
        assert list(got.columns) == [*frame.columns, "item_ids_mask"]
        assert as_mask_lists(got.compute()["item_ids_mask"]) == as_mask_lists(want["item_ids_mask"])


def test_errors_are_the_operators_with_the_functions_label():
    df = pd.DataFrame({"item_ids": [[1, 2], [3, None]]})
    with pytest.raises(ValueError) as op_error:
        run_workflow(["item_ids"] >> MaskRandom(seed=1), df)
    with pytest.raises(ValueError) as fn_error:
        mask_random(df, "item_ids", seed=1)
    assert str(fn_error.value) == str(op_error.value).replace("MaskRandom", "mask_random")
