"""The cuDF adapter on cuDF-shaped columns: slices, empty partitions, nulls, keys, dtypes.

cuDF cannot be installed here; ``fake_cudf`` is a NumPy double of its list-column API that
rebases a slice's children as cuDF does (see its docstring).  The pandas adapter on the same
rows is the oracle: a cuDF partition must mask exactly like a pandas one.
"""
import numpy as np
import pandas as pd
import pytest
from merlin.dag import ColumnSelector

import fake_cudf
from merlin_mlm_ops import MaskInputError, MaskLast, MaskRandom
from merlin_mlm_ops.adapters import cudf_lists, pandas_lists

ROWS = [[3, 1, 4], None, [], [1, 5, 9, 2, 6], [5], None, [3, 5], [8, 9, 7, 9, 3, 2], [], [3, 8, 4, 6]]


@pytest.fixture(autouse=True)
def cudf(monkeypatch):
    return fake_cudf.install(monkeypatch)


def pandas_rows(rows, index):
    return pd.Series([None if r is None else np.array(r, dtype=np.int64) for r in rows], index=index, dtype=object)


def assert_flat_equal(got, want):
    assert got.offsets.tolist() == want.offsets.tolist()
    assert got.values.tolist() == want.values.tolist()
    assert (got.valid is None) == (want.valid is None)
    if got.valid is not None:
        assert got.valid.tolist() == want.valid.tolist()


SLICES = [(0, 10), (0, 4), (1, 10), (3, 7), (5, 6), (9, 10), (2, 2), (10, 10)]


@pytest.mark.parametrize("start,stop", SLICES)
def test_sliced_partitions_take_apart_like_pandas(start, stop):
    # The slice offset must not be applied twice: the offsets child is already this slice's.
    index = pd.RangeIndex(100, 110)
    part = fake_cudf.list_series(ROWS, index=index).iloc[start:stop]
    got = cudf_lists.flatten(part, "item_ids", "MaskRandom")
    want = pandas_lists.flatten(pandas_rows(ROWS[start:stop], index[start:stop]), "item_ids", "MaskRandom")
    assert_flat_equal(got, want)


def test_offsets_child_that_does_not_start_at_zero():
    # libcudf allows it (e.g. a column built from a sliced Arrow array): values run from
    # offsets[0] to offsets[-1], never from 0.
    elements = fake_cudf.Column(np.arange(20, dtype=np.int64))
    col = fake_cudf.ListColumn((fake_cudf.Column(np.array([4, 6, 6, 9], dtype=np.int32)), elements))
    flat = cudf_lists.flatten(fake_cudf.Series(col), "item_ids", "MaskRandom")
    assert flat.values.tolist() == [4, 5, 6, 7, 8] and flat.offsets.tolist() == [0, 2, 2, 5]


@pytest.mark.parametrize("rows", [ROWS[:0], ROWS[1:2]], ids=["no rows", "one null row"])
def test_zero_row_and_all_null_partitions(rows):
    series = fake_cudf.list_series(rows)
    flat = cudf_lists.flatten(series, "item_ids", "MaskRandom")
    assert flat.values.shape == (0,) and flat.offsets.tolist() == [0] * 1 + [0] * len(rows)


def test_zero_row_partition_with_an_empty_offsets_child_masks_to_zero_rows():
    # libcudf's empty_like (or a filter leaving nothing) gives an offsets child of length 0.
    empty = fake_cudf.list_series(ROWS).iloc[4:4]
    assert len(empty._column.offsets) == 0
    df = fake_cudf.DataFrame({"item_ids": empty, "session_id": fake_cudf.scalar_series(np.zeros(0, dtype=np.int64))})
    for op in (MaskRandom(prob=0.5, seed=1), MaskRandom(prob=0.5, seed=1, key="session_id"), MaskLast()):
        out = op.transform(ColumnSelector(["item_ids"]), df)
        assert out.columns == ["item_ids", "item_ids_mask"]
        mask = out["item_ids_mask"]
        assert len(mask) == 0 and mask.dtype == fake_cudf.ListDtype("bool") and mask.to_pylist() == []


def mask_lists(series):
    return [None if m is None else [bool(x) for x in m] for m in series]


@pytest.mark.parametrize("start,stop", SLICES)
@pytest.mark.parametrize("ids", [np.int32, np.int64])
@pytest.mark.parametrize("key", [None, "int", "str"])
def test_operators_mask_cudf_slices_like_pandas(start, stop, ids, key):
    index = pd.RangeIndex(50, 60)
    keys = list(range(1000, 1010)) if key == "int" else [f"s{i}" for i in range(10)]
    gdf = fake_cudf.DataFrame({"item_ids": fake_cudf.list_series(ROWS, dtype=ids, index=index).iloc[start:stop],
                               "session_id": fake_cudf.scalar_series(keys, index=index).iloc[start:stop]})
    pdf = pd.DataFrame({"item_ids": pandas_rows(ROWS, index), "session_id": keys}, index=index).iloc[start:stop]
    for op in (MaskRandom(prob=0.4, seed=3, key=key and "session_id"), MaskLast()):
        gpu = op.transform(ColumnSelector(["item_ids"]), gdf)["item_ids_mask"]
        cpu = op.transform(ColumnSelector(["item_ids"]), pdf)["item_ids_mask"]
        assert gpu.to_pylist() == mask_lists(cpu)


def test_null_item_error_names_the_row_in_a_slice():
    rows = [[1, 2], [3], [4, None, 6], [7]]
    series = fake_cudf.list_series(rows, index=pd.Index(["a", "b", "c", "d"]))
    for part, row in ((series, "c"), (series.iloc[1:4], "c"), (series.iloc[2:3], "c")):
        with pytest.raises(MaskInputError, match="column 'item_ids', row 'c': null item id at position 1 of the row; "
                                                 "every item needs an id"):
            cudf_lists.flatten(part, "item_ids", "MaskRandom")
    # A null item outside the slice is not this partition's problem.
    assert cudf_lists.flatten(series.iloc[0:2], "item_ids", "MaskRandom").values.tolist() == [1, 2, 3]
    assert cudf_lists.flatten(series.iloc[3:4], "item_ids", "MaskRandom").values.tolist() == [7]


@pytest.mark.parametrize("element_type", [fake_cudf.StructDtype, fake_cudf.Decimal64Dtype,
                                          fake_cudf.CategoricalDtype, np.float64, np.dtype("O")])
def test_list_of_non_integer_items_raises_mask_input_error(element_type):
    series = fake_cudf.list_series([[1, 2]])
    series._column.dtype = fake_cudf.ListDtype(element_type)
    with pytest.raises(MaskInputError, match="item ids must be integers"):
        cudf_lists.flatten(series, "item_ids", "MaskRandom")


@pytest.mark.parametrize("dtype", [fake_cudf.StructDtype, fake_cudf.Decimal64Dtype, fake_cudf.CategoricalDtype])
def test_non_list_extension_columns_raise_mask_input_error(dtype):
    with pytest.raises(MaskInputError, match="is not a list column"):
        cudf_lists.flatten(fake_cudf.scalar_series([1, 2], dtype=dtype), "item_ids", "MaskRandom")
    with pytest.raises(MaskInputError, match="key must hold integers or strings"):
        cudf_lists.row_keys(fake_cudf.scalar_series([1, 2], dtype=dtype), "session_id", "MaskRandom")


def test_nested_lists_raise_mask_input_error():
    series = fake_cudf.list_series([[1, 2]])
    series._column.dtype = fake_cudf.ListDtype(fake_cudf.ListDtype(np.int64))
    with pytest.raises(MaskInputError, match="nested lists are not supported"):
        cudf_lists.flatten(series, "item_ids", "MaskRandom")


def test_null_key_error_names_the_row():
    keys = fake_cudf.scalar_series([5, None, 7], index=pd.Index([10, 11, 12]))
    with pytest.raises(MaskInputError, match="row 11: key is null"):
        cudf_lists.row_keys(keys, "session_id", "MaskRandom")


def test_mask_column_shares_offsets_and_null_mask_only_where_valid():
    source = fake_cudf.list_series(ROWS)
    flat = cudf_lists.flatten(source, "item_ids", "MaskLast")
    mask = np.zeros(flat.values.shape[0], dtype=bool)
    whole = cudf_lists.build_bool_lists(mask, flat.offsets, flat.valid, source.index, source=source)
    assert whole._column.offsets is source._column.offsets and whole._column.mask is source._column.mask
    # A slice's children are a rebased copy: still shareable; its null mask is rebased too.
    part = source.iloc[3:8]
    flat = cudf_lists.flatten(part, "item_ids", "MaskLast")
    out = cudf_lists.build_bool_lists(np.ones(flat.values.shape[0], dtype=bool), flat.offsets, flat.valid,
                                      part.index, source=part)
    assert out.to_pylist() == [None if r is None else [True] * len(r) for r in ROWS[3:8]]
    # An offsets child that does not start at 0 cannot index the new elements: rebuilt.
    col = fake_cudf.ListColumn((fake_cudf.Column(np.array([4, 6, 9], dtype=np.int32)),
                                fake_cudf.Column(np.arange(9, dtype=np.int64))))
    odd = fake_cudf.Series(col)
    flat = cudf_lists.flatten(odd, "item_ids", "MaskLast")
    out = cudf_lists.build_bool_lists(np.ones(5, dtype=bool), flat.offsets, flat.valid, odd.index, source=odd)
    assert out._column.offsets is not col.offsets and out.to_pylist() == [[True] * 2, [True] * 3]
