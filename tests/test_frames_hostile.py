"""mask_random / mask_last given careless or hostile input: a clear error naming the column, or the right masks.

Each test pins one defect found by using the API as a careless user would (list views, duplicate
column names, out-of-range arguments, ragged nested rows, huge integer keys, all-empty list
columns, a Series for a frame, a Dask column that is not a list).  Tiny data throughout.
"""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from helpers import as_mask_lists, expected_masks

from merlin_mlm_ops import MaskInputError, mask_last, mask_random
from merlin_mlm_ops.masking import engine

ROWS = [[1, 2, 3], None, [4, 5], [], [6, 0, 7, 8]]
ARGS = dict(prob=0.5, seed=3)


def test_list_view_columns_give_the_masks_of_their_lists():
    # pyarrow's cast list_view -> large_list builds an invalid array (offsets not monotonic):
    # the masks came back garbled, or the process aborted.
    if not hasattr(pa, "list_view"):
        pytest.skip("list views came in pyarrow 16")
    views = pa.array(ROWS, type=pa.list_view(pa.int64()))
    out = mask_random(pa.table({"x": views}), "x", **ARGS).column("x_mask").to_pylist()
    assert as_mask_lists(out) == expected_masks(ROWS, **ARGS)
    # offsets out of order (list views allow it): rows [[13, 14], [10], [11, 12]]
    shuffled = pa.ListViewArray.from_arrays(pa.array([3, 0, 1], pa.int32()), pa.array([2, 1, 2], pa.int32()),
                                            pa.array([10, 11, 12, 13, 14]))
    want = expected_masks(shuffled.to_pylist(), kind="last", pad_id=None)
    assert as_mask_lists(mask_last(pa.table({"x": shuffled}), "x", pad_id=None).column("x_mask").to_pylist()) == want
    frame = pd.DataFrame({"x": pd.arrays.ArrowExtensionArray(pa.array(ROWS, type=pa.large_list_view(pa.int64())))})
    assert as_mask_lists(mask_last(frame, "x")["x_mask"].tolist()) == expected_masks(ROWS, kind="last")


@pytest.mark.parametrize("frame", [
    pd.DataFrame([[[1], [2], 5]], columns=["x", "x", "k"]),
    pa.table([pa.array([[1]]), pa.array([[2]]), pa.array([5])], names=["x", "x", "k"]),
], ids=["pandas", "pyarrow"])
def test_a_duplicated_column_name_is_refused_naming_it(frame):
    with pytest.raises(MaskInputError, match=r"column 'x': appears 2 times in the frame"):
        mask_last(frame, "x")


def test_a_duplicated_key_column_is_refused_naming_it():
    frame = pd.DataFrame([[[1], 5, 6]], columns=["x", "k", "k"])
    with pytest.raises(MaskInputError, match=r"column 'k': appears 2 times in the frame"):
        mask_random(frame, "x", key="k", seed=1)
    assert list(mask_last(frame, "x").columns) == ["x", "k", "k", "x_mask"]  # duplicates elsewhere are kept


@pytest.mark.parametrize("kwargs, message", [
    (dict(min_masked=1 << 63), r"min_masked must be < 2\*\*63"),
    (dict(max_masked=1 << 70), r"max_masked must be < 2\*\*63"),
    (dict(epoch=1 << 64), r"epoch must be < 2\*\*64"),  # else it aliased epoch mod 2**64 (epoch 2**64 == epoch 0)
    (dict(pad_id=1 << 64), r"pad_id must be < 2\*\*64"),  # else it aliased pad_id 0
])
def test_out_of_range_arguments_are_refused_before_any_kernel_runs(kwargs, message):
    fallen_back = dict(engine._FALLEN_BACK)
    with pytest.raises(ValueError, match=message):
        mask_random(pd.DataFrame({"x": [[1, 2, 3]]}), "x", seed=1, **kwargs)
    assert engine._FALLEN_BACK == fallen_back  # an OverflowError in the kernel switched the process to the slow path


def test_the_largest_accepted_arguments_work():
    frame = pd.DataFrame({"x": [[1, 2, 3], [4, 5]]})
    out = mask_random(frame, "x", seed=(1 << 64) - 1, epoch=(1 << 64) - 1, min_masked=(1 << 63) - 1,
                      max_masked=(1 << 63) - 1, prob=0.5)
    assert [m.tolist() for m in out["x_mask"]] == expected_masks(
        [[1, 2, 3], [4, 5]], seed=(1 << 64) - 1, epoch=(1 << 64) - 1, min_masked=(1 << 63) - 1,
        max_masked=(1 << 63) - 1, prob=0.5)


def test_ragged_nested_rows_name_the_column_and_row():
    frame = pd.DataFrame({"x": [[1, 2], [[1], [2, 3]]]}, index=[7, 9])
    with pytest.raises(MaskInputError, match=r"column 'x', row 9: nested lists are not supported"):
        mask_random(frame, "x", seed=1)


def test_object_integer_keys_up_to_2_64_hash_as_their_64_bit_pattern():
    big = [(1 << 64) - 1, 1 << 63, 5]
    rows = [[1, 2, 3, 4], [5, 6, 7], [8, 9]]
    want = mask_random(pd.DataFrame({"x": rows, "k": np.array(big, dtype=np.uint64)}), "x", key="k", **ARGS)
    got = mask_random(pd.DataFrame({"x": rows, "k": pd.Series(big, dtype=object)}), "x", key="k", **ARGS)
    assert as_mask_lists(got["x_mask"]) == as_mask_lists(want["x_mask"])
    with pytest.raises(MaskInputError, match=r"column 'k', row 1: key integers must fit in 64 bits"):
        mask_random(pd.DataFrame({"x": rows, "k": pd.Series([1, 1 << 64, 2], dtype=object)}), "x", key="k", seed=1)
    with pytest.raises(MaskInputError, match=r"column 'k', row 2: key integers must fit in 64 bits"):
        mask_random(pd.DataFrame({"x": rows, "k": pd.Series([1, 2, -(1 << 63) - 1], dtype=object)}), "x",
                    key="k", seed=1)


def test_all_empty_list_columns_of_null_type_get_empty_masks_on_every_kind():
    # pa.array([[], []]) and pl.DataFrame({"x": [[], []]}) infer list<null>; pandas takes [[], []].
    want = as_mask_lists(mask_last(pd.DataFrame({"x": [[], None, []]}), "x")["x_mask"])
    table = pa.table({"x": pa.array([[], None, []])})
    assert table.schema.field("x").type == pa.list_(pa.null())
    assert as_mask_lists(mask_random(table, "x", seed=1).column("x_mask").to_pylist()) == want
    with pytest.raises(MaskInputError, match=r"column 'x', row 1: null item id at position 0"):
        mask_last(pa.table({"x": pa.array([[], [None]])}), "x")
    pl = pytest.importorskip("polars")
    assert as_mask_lists(mask_last(pl.DataFrame({"x": [[], None, []]}), "x").get_column("x_mask").to_list()) == want


def test_a_series_is_refused_as_a_frame():
    with pytest.raises(TypeError, match=r"expected a pandas, Polars .* DataFrame .*got pandas.*Series"):
        mask_last(pd.Series([[1, 2]], name="x"), "x")


def test_dask_refuses_a_column_that_is_not_a_list_before_computing():
    dd = pytest.importorskip("dask.dataframe")
    ddf = dd.from_pandas(pd.DataFrame({"x": np.arange(4), "y": [1.5] * 4}), npartitions=2)
    with pytest.raises(MaskInputError, match=r"column 'x': is not a list column \(dtype int64\)"):
        mask_last(ddf, "x")
    with pytest.raises(MaskInputError, match=r"column 'y': is not a list column \(dtype float64\)"):
        mask_last(ddf.assign(z=ddf.y), ["y", "z"])


def test_a_polars_column_arrow_cannot_read_is_refused_naming_it():
    pl = pytest.importorskip("polars")
    if not hasattr(pl, "Int128"):
        pytest.skip("this Polars has no Int128")
    frame = pl.DataFrame({"x": [[1, 2]], "k": pl.Series([5], dtype=pl.Int128)})
    try:
        frame.get_column("k").to_arrow()
        pytest.skip("this pyarrow reads Polars' Int128")
    except (ValueError, TypeError, NotImplementedError):
        pass
    with pytest.raises(MaskInputError, match=r"column 'k': .*Int128"):
        mask_random(frame, "x", key="k", seed=1)


@pytest.mark.parametrize("rows", [[[1, 2], [1 << 63]], [np.array([1], np.int8), np.array([3], np.uint64)]])
def test_rows_of_signed_and_unsigned_64_bit_ids_name_the_row_and_the_fix(rows):
    # NumPy concatenates int64 with uint64 into float64: "could not be flattened (dtype float64)" named nothing.
    with pytest.raises(MaskInputError, match=r"column 'x', row 1: holds uint64 ids beside int(8|64) ids .*one dtype"):
        mask_last(pd.DataFrame({"x": rows}), "x")


def test_a_lazy_polars_mask_keeps_later_filters_and_slices_above_it(monkeypatch):
    # Polars 1.x's map_batches lets predicate/slice/projection pushdown pass the function by default:
    # a later .filter() or .tail() would then change the rows (and ordinals) the keyless mask sees.
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"x": [[i, i + 1, i + 2] for i in range(1, 41)], "n": list(range(40))})
    eager = mask_random(frame, "x", **ARGS)
    lazy = mask_random(frame.lazy(), "x", **ARGS)
    assert lazy.filter(pl.col("n") >= 20).collect().equals(eager.filter(pl.col("n") >= 20))
    assert lazy.tail(5).collect().equals(eager.tail(5))
    calls = []
    original = pl.LazyFrame.map_batches
    monkeypatch.setattr(pl.LazyFrame, "map_batches", lambda self, *a, **kw: calls.append(kw) or original(self, *a, **kw))
    mask_random(frame.lazy(), "x", **ARGS)
    assert [{k: calls[0].get(k) for k in ("predicate_pushdown", "projection_pushdown", "slice_pushdown")}] == [
        dict(predicate_pushdown=False, projection_pushdown=False, slice_pushdown=False)]


def test_numpy_integer_arguments_at_the_bounds_are_accepted():
    # NumPy 1 compares np.int64(2**63 - 1) >= 2**63 through float64: True, a false refusal.
    frame = pd.DataFrame({"x": [[1, 2, 3]]})
    out = mask_random(frame, "x", seed=np.uint64((1 << 64) - 1), epoch=np.uint64((1 << 64) - 1),
                      min_masked=np.int64((1 << 63) - 1), max_masked=np.int64((1 << 63) - 1),
                      pad_id=np.uint64((1 << 64) - 1))
    assert len(out["x_mask"][0]) == 3


def test_a_zero_dimensional_array_row_names_the_column_and_row():
    frame = pd.DataFrame({"x": pd.Series([[1], np.array(5)], index=["a", "b"], dtype=object)})
    with pytest.raises(MaskInputError, match=r"column 'x', row 'b': is not a list column: the row holds a 0-d array"):
        mask_last(frame, "x")


def test_arrow_columns_work_with_a_pyarrow_older_than_16(monkeypatch):
    # pyproject allows pyarrow >= 10; list views and string views (and their pa.types checks) came in 16.
    for name in ("is_list_view", "is_large_list_view", "is_string_view"):
        monkeypatch.delattr(pa.types, name, raising=False)
    table = pa.table({"x": pa.array(ROWS, type=pa.list_(pa.int64())), "k": ["a", "b", "c", "d", "e"],
                      "f": [1.5] * 5, "n": [1] * 5})
    assert as_mask_lists(mask_random(table, "x", **ARGS).column("x_mask").to_pylist()) == expected_masks(ROWS, **ARGS)
    assert mask_random(table, "x", key="k", **ARGS).num_rows == 5
    with pytest.raises(MaskInputError, match=r"column 'n': is not a list column"):
        mask_last(table, "n")
    with pytest.raises(MaskInputError, match=r"column 'f': key must hold integers or strings"):
        mask_random(table, "x", key="f", seed=1)
