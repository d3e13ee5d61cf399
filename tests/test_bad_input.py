"""Every wrong argument and malformed column fails loudly, naming the column (and row)."""
import math

import numpy as np
import nvtabular as nvt
import pandas as pd
import pytest
from merlin.dag import ColumnSelector
from merlin.io import Dataset

from merlin_mlm_ops import MaskInputError, MaskLast, MaskRandom

from helpers import run_workflow


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(prob=0), ValueError, "prob must be in"),
    (dict(prob=-0.1), ValueError, "prob must be in"),
    (dict(prob=1.5), ValueError, "prob must be in"),
    (dict(prob=math.nan), ValueError, "prob must be in"),
    (dict(prob="0.2"), TypeError, "prob must be a float"),
    (dict(prob=True), TypeError, "prob must be a float"),
    (dict(seed=-1), ValueError, "seed must be >= 0"),
    (dict(seed=2**64), ValueError, "seed must be < 2\\*\\*64"),
    (dict(seed=1.5), TypeError, "seed must be an int"),
    (dict(seed="7"), TypeError, "seed must be an int"),
    (dict(epoch=-1), ValueError, "epoch must be >= 0"),
    (dict(epoch=1.0), TypeError, "epoch must be an int"),
    (dict(min_masked=-1), ValueError, "min_masked must be >= 0"),
    (dict(max_masked=0), ValueError, "max_masked must be >= 1"),
    (dict(max_masked=2.5), TypeError, "max_masked must be an int or None"),
    (dict(min_masked=3, max_masked=2), ValueError, "min_masked \\(3\\) must be <= max_masked \\(2\\)"),
    (dict(pad_id="0"), TypeError, "pad_id must be an int"),
    (dict(pad_id=True), TypeError, "pad_id must be an int"),
    (dict(mask_column=""), TypeError, "mask_column must be a non-empty str"),
    (dict(mask_column=5), TypeError, "mask_column must be a non-empty str"),
    (dict(mask_column="m__values"), ValueError, "must not end with '__values'"),
    (dict(key=5), TypeError, "key must be a column name"),
    (dict(key=""), TypeError, "key must be a column name"),
])
def test_invalid_arguments_raise_at_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        MaskRandom(**kwargs)


def test_mask_last_validates_its_arguments_too():
    with pytest.raises(TypeError, match="pad_id"):
        MaskLast(pad_id=0.5)
    with pytest.raises(ValueError, match="__offsets"):
        MaskLast(mask_column="x__offsets")


def fit(node, df):
    nvt.Workflow(node).fit(Dataset(df, cpu=True))


def test_a_non_list_column_raises_at_fit_naming_it():
    df = pd.DataFrame({"item_ids": [[1, 2], [3]], "price": [1.0, 2.0]})
    with pytest.raises(MaskInputError, match="column 'price': is not a list column"):
        fit(["item_ids", "price"] >> MaskRandom(seed=1), df)


def test_a_list_key_column_raises_at_fit_naming_it():
    df = pd.DataFrame({"item_ids": [[1, 2], [3]], "sess": [[1], [2]]})
    with pytest.raises(MaskInputError, match="column 'sess': is a list column"):
        fit(["item_ids"] >> MaskRandom(seed=1, key="sess"), df)


def test_a_missing_key_column_raises_at_fit_naming_it():
    df = pd.DataFrame({"item_ids": [[1, 2], [3]]})
    with pytest.raises(Exception, match="sess"):
        fit(["item_ids"] >> MaskRandom(seed=1, key="sess"), df)


def test_a_mask_name_that_collides_with_an_input_raises():
    df = pd.DataFrame({"item_ids": [[1, 2], [3]], "cat": [[1, 1], [2]]})
    with pytest.raises(ValueError, match="'cat' collides"):
        fit(["item_ids", "cat"] >> MaskRandom(seed=1, mask_column="cat"), df)


def transform(op, df, cols=("item_ids",)):
    return op.transform(ColumnSelector(list(cols)), df)


@pytest.mark.parametrize("rows,row,match", [
    ([[1, 2], 7, [3]], 11, "is not a list column: the row holds int 7"),
    ([[1, 2], "abc", [3]], 11, "is not a list column: the row holds str"),
    ([[1, 2], [[3, 4]], [3]], 11, "nested lists are not supported"),
    ([[1, 2], [3], ["a", "b"]], 12, "item ids must be integers"),
    ([[1, 2], [1.5, 2.0], [3]], 11, "holds float64 values"),
    ([[1, 2], [3, None], [3]], 11, "null item id at position 1 of the row"),
    # a null anywhere turns every row of a Parquet list column into float64: name the null's row
    ([np.array([1.0, 2.0]), np.array([3.0, np.nan]), np.array([3.0])], 11, "null item id at position 1 of the row"),
])
def test_malformed_rows_are_named_by_column_and_row(rows, row, match):
    df = pd.DataFrame({"item_ids": rows}, index=[10, 11, 12])
    for op in (MaskRandom(seed=1), MaskLast()):
        with pytest.raises(MaskInputError, match=match) as err:
            transform(op, df)
        assert err.value.column == "item_ids" and err.value.row == row
        assert f"row {row}" in str(err.value)


def test_misaligned_sequence_columns_name_both_columns_and_the_first_row():
    df = pd.DataFrame({"item_ids": [[1, 2], [3, 4], [5]], "cat": [[1, 1], [2], [3]]}, index=[4, 5, 6])
    with pytest.raises(MaskInputError, match="column 'cat', row 5: row lengths differ from column 'item_ids'"):
        transform(MaskRandom(seed=1), df, ("item_ids", "cat"))
    df_null = pd.DataFrame({"item_ids": [[1, 2], None], "cat": [[1, 1], []]})
    with pytest.raises(MaskInputError, match="row 1"):
        transform(MaskLast(), df_null, ("item_ids", "cat"))


def test_misaligned_columns_fail_inside_a_workflow_too():
    df = pd.DataFrame({"item_ids": [[1, 2], [3, 4]], "cat": [[1, 1], [2]]})
    with pytest.raises(MaskInputError, match="row lengths differ"):
        run_workflow(["item_ids", "cat"] >> MaskRandom(seed=1), df)


@pytest.mark.parametrize("keys,row,match", [
    ([1, None, 3], 1, "key is null"),
    (["a", None, "c"], 1, "key is null"),
    ([1.5, 2.5, 3.5], 0, "key must hold integers or strings, found floating"),
    (["a", 2, "c"], 1, "key must hold integers or strings"),
])
def test_bad_keys_are_named_by_column_and_row(keys, row, match):
    df = pd.DataFrame({"item_ids": [[1, 2], [3], [4, 5]], "sess": keys})
    with pytest.raises(MaskInputError, match=match) as err:
        transform(MaskRandom(seed=1, key="sess"), df)
    assert err.value.column == "sess" and err.value.row == row


def test_nothing_is_changed_when_input_is_good():
    df = pd.DataFrame({"item_ids": [np.array([3, 1, 2]), np.array([], dtype=np.int64), None]}, index=[2, 0, 1])
    before = df.copy(deep=True)
    out = transform(MaskRandom(seed=1), df)
    pd.testing.assert_index_equal(out.index, before.index)
    assert [None if r is None else list(r) for r in out["item_ids"]] == [[3, 1, 2], [], None]
    assert [None if r is None else list(r) for r in df["item_ids"]] == [[3, 1, 2], [], None]
