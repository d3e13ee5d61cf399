"""mask_random / mask_last on every frame kind, without Merlin: the masking core's masks, the caller's kind back.

The expected masks come from the masking core's NumPy reference on the same rows
(``helpers.expected_masks``); tests/test_frames_match_operators.py ties them to the operators.
"""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from helpers import as_mask_lists, expected_masks, session_rows

from merlin_mlm_ops import MaskInputError, mask_last, mask_random

ROWS = session_rows(70, seed=2)
KEYS = [f"user-{i}é" for i in range(70)]  # non-ASCII: keys hash their UTF-8 bytes
ARGS = dict(prob=0.4, seed=5, epoch=1, min_masked=2, max_masked=4, pad_id=0)
LIST = pa.list_(pa.int64())


def _table(rows=ROWS, keys=KEYS):
    return pa.table({"sid": np.arange(len(rows)), "name": keys, "item_ids": pa.array(rows, type=LIST)})


def _frames():
    """name -> (frame, masks of a result as lists): each kind available here, holding ROWS."""
    table = _table()
    arrow_col = pd.arrays.ArrowExtensionArray(table.column("item_ids"))
    kinds = {
        "pandas object": (pd.DataFrame({"sid": np.arange(70), "name": KEYS, "item_ids": pd.Series(ROWS, dtype=object)}),
                          lambda out: out["item_ids_mask"]),
        "pandas ArrowDtype": (pd.DataFrame({"sid": np.arange(70), "name": pd.Series(KEYS, dtype=pd.ArrowDtype(pa.string())),
                                            "item_ids": arrow_col}), lambda out: out["item_ids_mask"].tolist()),
        "pyarrow": (table, lambda out: out.column("item_ids_mask").to_pylist()),
    }
    try:
        import polars as pl
    except ImportError:
        return kinds
    kinds["polars"] = (pl.from_arrow(table), lambda out: out.get_column("item_ids_mask").to_list())
    kinds["polars lazy"] = (pl.from_arrow(table).lazy(), lambda out: out.collect().get_column("item_ids_mask").to_list())
    return kinds


@pytest.mark.parametrize("kind", list(_frames()))
def test_every_kind_gives_the_masking_cores_masks(kind):
    frame, masks = _frames()[kind]
    assert as_mask_lists(masks(mask_random(frame, "item_ids", key="sid", **ARGS))) == expected_masks(ROWS, keys=list(range(70)), **ARGS)
    assert as_mask_lists(masks(mask_random(frame, "item_ids", key="name", **ARGS))) == expected_masks(ROWS, keys=KEYS, **ARGS)
    assert as_mask_lists(masks(mask_random(frame, "item_ids", **ARGS))) == expected_masks(ROWS, **ARGS)
    assert as_mask_lists(masks(mask_last(frame, "item_ids", pad_id=None))) == expected_masks(ROWS, kind="last", pad_id=None)


@pytest.mark.parametrize("kind", list(_frames()))
def test_the_callers_kind_comes_back_with_its_columns_and_one_bool_list_column(kind):
    frame, _ = _frames()[kind]
    out = mask_last(frame, "item_ids", mask_column="target")
    assert type(out) is type(frame)
    columns = out.collect_schema().names() if kind == "polars lazy" else list(out.columns if kind != "pyarrow" else out.column_names)
    assert columns == ["sid", "name", "item_ids", "target"]


def test_output_types_follow_the_input():
    frame, _ = _frames()["pandas ArrowDtype"]
    assert mask_last(frame, "item_ids")["item_ids_mask"].dtype == pd.ArrowDtype(pa.list_(pa.bool_()))
    frame, _ = _frames()["pandas object"]
    out = mask_last(frame, "item_ids")["item_ids_mask"]
    assert out.dtype == object and out.iloc[0].dtype == np.bool_
    large = pa.table({"item_ids": pa.array(ROWS, type=pa.large_list(pa.int32()))})
    assert mask_last(large, "item_ids").column("item_ids_mask").type == pa.large_list(pa.bool_())


def test_sliced_and_multi_chunk_arrow_columns_give_the_masks_of_their_own_rows():
    table = _table()
    sliced = table.slice(17, 40)
    want = expected_masks(ROWS[17:57], **ARGS)
    assert as_mask_lists(mask_random(sliced, "item_ids", **ARGS).column("item_ids_mask").to_pylist()) == want
    chunked = pa.concat_tables([table.slice(0, 30), table.slice(30)])
    assert chunked.column("item_ids").num_chunks == 2
    got = mask_random(chunked, "item_ids", **ARGS).column("item_ids_mask").to_pylist()
    assert as_mask_lists(got) == expected_masks(ROWS, **ARGS)  # ordinals run over the whole table
    frame = pd.DataFrame({"item_ids": pd.arrays.ArrowExtensionArray(table.column("item_ids").slice(17, 40))})
    assert as_mask_lists(mask_random(frame, "item_ids", **ARGS)["item_ids_mask"].tolist()) == want


def test_a_null_row_that_spans_values_is_masked_as_empty():
    # Arrow allows a null list slot to span values; the operator sees a null row as empty.
    offsets = pa.array([0, 2, 5, 6], type=pa.int32())
    arr = pa.ListArray.from_arrays(offsets, pa.array([1, 2, 3, None, 4, 5]), mask=pa.array([False, True, False]))
    got = mask_random(pa.table({"item_ids": arr}), "item_ids", **ARGS).column("item_ids_mask").to_pylist()
    assert as_mask_lists(got) == expected_masks([[1, 2], None, [5]], **ARGS)


def test_index_labels_are_kept_and_name_the_row_in_errors():
    frame = pd.DataFrame({"item_ids": [[3, 1], [2, 2, 2], [9, None]]}, index=[10, 5, 7])
    assert mask_last(frame.iloc[:2], "item_ids").index.tolist() == [10, 5]
    with pytest.raises(MaskInputError, match=r"mask_random: column 'item_ids', row 7: null item id at position 1"):
        mask_random(frame, "item_ids", seed=1)
    table = pa.table({"item_ids": pa.array([[3], [4, None]], type=LIST)})
    with pytest.raises(MaskInputError, match=r"column 'item_ids', row 1: null item id at position 1"):
        mask_last(table, "item_ids")


@pytest.mark.parametrize("frame, call, message", [
    (pa.table({"x": [1, 2]}), lambda f: mask_last(f, "x"), r"column 'x': is not a list column \(Arrow type int64\)"),
    (pa.table({"x": [[1.5]]}), lambda f: mask_last(f, "x"), r"holds double values; item ids must be integers"),
    (pa.table({"x": [[[1]]]}), lambda f: mask_last(f, "x"), r"nested lists are not supported"),
    (pa.table({"x": [[1]]}), lambda f: mask_last(f, "y"), r"column 'y': is not in the frame"),
    (pa.table({"x": [[1]], "k": [None]}), lambda f: mask_random(f, "x", key="k", seed=1), r"column 'k', row 0: key is null"),
    (pa.table({"x": [[1]], "k": [[2]]}), lambda f: mask_random(f, "x", key="k", seed=1), r"'k': is a list column"),
    (pa.table({"x": [[1]], "k": [1.5]}), lambda f: mask_random(f, "x", key="k", seed=1), r"key must hold integers or strings"),
    (pd.DataFrame({"x": [[1]], "k": [None]}), lambda f: mask_random(f, "x", key="k", seed=1), r"column 'k', row 0: key is null"),
    (pd.DataFrame({"x": [[1], [2, 3]], "y": [[1], [2]]}), lambda f: mask_last(f, ["x", "y"]), r"column 'y', row 1: row lengths differ"),
])
def test_bad_input_names_the_column_and_row(frame, call, message):
    with pytest.raises(MaskInputError, match=message):
        call(frame)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(prob=0.0), ValueError, r"prob must be in \(0, 1\]"),
    (dict(seed=-1), ValueError, r"seed must be >= 0"),
    (dict(seed=1 << 64), ValueError, r"seed must be < 2\*\*64"),
    (dict(min_masked=3, max_masked=2), ValueError, r"min_masked \(3\) must be <= max_masked \(2\)"),
    (dict(epoch=True), TypeError, r"epoch must be an int"),
    (dict(key=3), TypeError, r"key must be a column name"),
    (dict(mask_column="m__values"), ValueError, r"must not end with '__values'"),
    (dict(mask_column="item_ids"), ValueError, r"collides with a column of the frame"),
])
def test_bad_arguments_raise_the_operators_errors(kwargs, error, message):
    frame = pd.DataFrame({"item_ids": [[1, 2]]})
    with pytest.raises(error, match=message):
        mask_random(frame, "item_ids", **{"seed": 1, **kwargs})


def test_seed_is_required_and_unknown_frames_are_refused():
    with pytest.raises(TypeError, match="seed"):
        mask_random(pd.DataFrame({"x": [[1]]}), "x")
    with pytest.raises(TypeError, match="expected a pandas, Polars"):
        mask_last({"x": [[1]]}, "x")


def test_several_aligned_columns_share_the_first_columns_mask():
    frame = pa.table({"item_ids": pa.array(ROWS, type=LIST),
                      "cats": pa.array([None if r is None else [v % 3 for v in r] for r in ROWS], type=LIST)})
    out = mask_random(frame, ["item_ids", "cats"], **ARGS)
    assert as_mask_lists(out.column("item_ids_mask").to_pylist()) == expected_masks(ROWS, **ARGS)


def test_dask_masks_each_partition_like_an_eager_frame_and_meta_matches():
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")
    frame, _ = _frames()["pandas object"]
    with dask.config.set({"dataframe.convert-string": False}):  # else Dask >= 2023.7 with pandas 2+ makes lists strings
        ddf = dd.from_pandas(frame, npartitions=3)
    out = mask_random(ddf, "item_ids", key="name", **ARGS)
    assert as_mask_lists(out.compute()["item_ids_mask"]) == expected_masks(ROWS, keys=KEYS, **ARGS)
    want = [m for part in ddf.partitions for m in mask_random(part.compute(), "item_ids", **ARGS)["item_ids_mask"]]
    assert as_mask_lists(mask_random(ddf, "item_ids", **ARGS).compute()["item_ids_mask"]) == as_mask_lists(want)
    arrow_frame, _ = _frames()["pandas ArrowDtype"]
    out = mask_last(dd.from_pandas(arrow_frame, npartitions=2), "item_ids")
    assert out.dtypes["item_ids_mask"] == out.compute().dtypes["item_ids_mask"] == pd.ArrowDtype(pa.list_(pa.bool_()))


def test_dask_list_columns_turned_into_strings_are_refused_with_the_fix():
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")
    if int(pd.__version__.split(".")[0]) < 2:
        pytest.skip("Dask converts strings only with pandas >= 2")
    with dask.config.set({"dataframe.convert-string": True}):
        ddf = dd.from_pandas(pd.DataFrame({"item_ids": [[1, 2], [3]]}), npartitions=1)
    if ddf.dtypes["item_ids"] == object:
        pytest.skip("this Dask/pandas keeps object columns")
    with pytest.raises(MaskInputError, match="dataframe.convert-string"):
        mask_last(ddf, "item_ids")


def test_zero_row_frames_get_an_empty_mask_column_of_the_right_type():
    empty = pa.table({"k": pa.array([], pa.string()), "item_ids": pa.array([], type=LIST)})
    assert mask_random(empty, "item_ids", seed=1, key="k").schema.field("item_ids_mask").type == pa.list_(pa.bool_())
    assert mask_last(empty.slice(0, 0), "item_ids").num_rows == 0
    frame = pd.DataFrame({"item_ids": pd.arrays.ArrowExtensionArray(empty.column("item_ids"))})
    assert mask_last(frame, "item_ids")["item_ids_mask"].dtype == pd.ArrowDtype(pa.list_(pa.bool_()))
    assert len(mask_random(pd.DataFrame({"item_ids": pd.Series([], dtype=object)}), "item_ids", seed=1)) == 0
    pl = pytest.importorskip("polars")
    out = mask_random(pl.from_arrow(empty), "item_ids", seed=1, key="k")
    assert out.height == 0 and out.schema["item_ids_mask"] == pl.List(pl.Boolean)
