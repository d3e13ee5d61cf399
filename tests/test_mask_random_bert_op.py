"""MaskRandom's BERT4Rec options in a Workflow: last_ratio and replace (80/10/10), with their input column."""
import numpy as np
import nvtabular as nvt
import pandas as pd
import pytest
from merlin.io import Dataset

from merlin_mlm_ops import MaskInputError, MaskRandom
from merlin_mlm_ops.masking import engine, rules
from merlin_mlm_ops.ops.bert import INPUT_TAG

from helpers import mask_lists, run_workflow

BERT = dict(prob=0.3, seed=9, key="session_id", last_ratio=0.2, replace=(0.6, 0.2, 0.2), vocab=(1, 200))


def id_lists(series):
    return [None if r is None else [int(x) for x in r] for r in series]


def test_outputs_are_the_items_the_mask_and_the_input_ids_as_the_engine_draws_them(sessions_df):
    out, wf = run_workflow(["item_ids"] >> MaskRandom(**BERT), sessions_df)
    assert out.columns.tolist() == ["item_ids", "item_ids_mask", "item_ids_input"]
    assert id_lists(out["item_ids"]) == id_lists(sessions_df["item_ids"])
    flat = np.concatenate([np.asarray(r, dtype=np.int64) for r in sessions_df["item_ids"]])
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in sessions_df["item_ids"]])])
    keys = engine.row_keys_from_column("int", sessions_df["session_id"].to_numpy(np.int64), None)
    mask, ids = engine.random_mask_extended(flat, offsets, keys, seed=9, epoch=0, prob=0.3, min_masked=1,
                                            max_masked=None, pad_id=0, last_ratio=0.2, replace=(0.6, 0.2, 0.2),
                                            draw=rules.ItemDraw(1, 200, pad_id=0), backend="reference")
    assert np.array_equal(np.concatenate(out["item_ids_mask"].to_list()), mask)
    assert np.array_equal(np.concatenate(out["item_ids_input"].to_list()), ids)


def test_input_column_schema_has_the_items_dtype_and_its_own_tag(sessions_df):
    _, wf = run_workflow(["item_ids"] >> MaskRandom(**BERT, input_column="seen"), sessions_df)
    col = wf.output_schema["seen"]
    assert col.dtype == wf.output_schema["item_ids"].dtype and col.is_list and col.is_ragged
    assert set(col.tags) == {INPUT_TAG}


def test_with_a_key_the_new_rules_do_not_depend_on_partitioning_or_row_order(sessions_df):
    one, _ = run_workflow(["item_ids"] >> MaskRandom(**BERT), sessions_df, npartitions=1)
    shuffled = sessions_df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    many, _ = run_workflow(["item_ids"] >> MaskRandom(**BERT), shuffled, npartitions=5)
    for column, as_lists in (("item_ids_mask", mask_lists), ("item_ids_input", id_lists)):
        by_key = dict(zip(sessions_df["session_id"], as_lists(one[column])))
        assert as_lists(many[column]) == [by_key[k] for k in shuffled["session_id"]]


def test_last_ratio_alone_adds_no_column_and_mixes_in_last_item_masks(sessions_df):
    out, _ = run_workflow(["item_ids"] >> MaskRandom(prob=0.3, seed=2, key="session_id", last_ratio=0.5),
                          sessions_df)
    assert out.columns.tolist() == ["item_ids", "item_ids_mask"]
    only_last = [m == [False] * (len(m) - 1) + [True] for m in mask_lists(out["item_ids_mask"]) if len(m) > 2]
    assert 0.35 < np.mean(only_last) < 0.7  # half the rows, plus random masks that happen to be last-only


def test_epochs_redraw_the_last_item_rows_and_the_corruption(sessions_df):
    a, _ = run_workflow(["item_ids"] >> MaskRandom(**BERT), sessions_df)
    b, _ = run_workflow(["item_ids"] >> MaskRandom(**BERT).with_epoch(1), sessions_df)
    assert id_lists(a["item_ids_input"]) != id_lists(b["item_ids_input"])
    assert MaskRandom(**BERT).with_epoch(1).replace == (0.6, 0.2, 0.2)


def test_default_vocab_after_categorify_skips_padding_null_and_oov_ids():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"item": [[f"i{x}" for x in rng.integers(0, 30, 12)] for _ in range(200)]})
    op = MaskRandom(prob=0.5, seed=1, replace=(0.0, 1.0, 0.0))
    out, wf = run_workflow(["item"] >> nvt.ops.Categorify() >> op, df)
    domain = wf.output_schema["item"].int_domain
    assert op._schema_vocab == (3, domain.max + 1)  # 0 padding, 1 null, 2 OOV (NVTabular 23.08)
    mask = np.concatenate(out["item_mask"].to_list())
    drawn = np.concatenate(out["item_input"].to_list())[mask]
    assert drawn.min() >= 3 and drawn.max() <= domain.max


def test_item_counts_draw_only_items_with_a_count(sessions_df):
    counts = np.zeros(200, dtype=np.int64)
    counts[[5, 7]] = [1, 3]
    out, _ = run_workflow(["item_ids"] >> MaskRandom(prob=0.4, seed=3, replace=(0.0, 1.0, 0.0),
                                                     item_counts=counts), sessions_df)
    mask = np.concatenate(out["item_ids_mask"].to_list())
    assert set(np.concatenate(out["item_ids_input"].to_list())[mask].tolist()) == {5, 7}


def test_null_and_empty_rows_stay_null_and_empty():
    df = pd.DataFrame({"item_ids": [[3, 4, 5], None, [], [0, 6]]})
    out, _ = run_workflow(["item_ids"] >> MaskRandom(prob=0.5, seed=1, replace=(0.8, 0.1, 0.1), vocab=(1, 9)), df)
    assert id_lists(out["item_ids_input"])[1:3] == [None, []]


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(last_ratio=-0.1), ValueError, "last_ratio must be in \\[0, 1\\]"),
    (dict(last_ratio=1.5), ValueError, "last_ratio must be in \\[0, 1\\]"),
    (dict(last_ratio="0.1"), TypeError, "last_ratio must be a float"),
    (dict(last_ratio=float("nan")), ValueError, "last_ratio must not be NaN"),
    (dict(replace=0.8), TypeError, "replace must be None or three shares"),
    (dict(replace=(0.8, 0.2)), TypeError, "replace must be None or three shares"),
    (dict(replace="abc"), TypeError, "replace must be None or three shares"),
    (dict(replace=(0.8, 0.1, 0.2)), ValueError, "must sum to 1"),
    (dict(replace=(1.2, -0.1, -0.1)), ValueError, "shares must be >= 0"),
    (dict(replace=(0.8, "0.1", 0.1)), TypeError, "replace\\[1\\] must be a float"),
    (dict(replace=(0.8, 0.1, 0.1), vocab=(5, 5)), ValueError, "0 <= low < high"),
    (dict(replace=(0.8, 0.1, 0.1), vocab=(-1, 5)), ValueError, "0 <= low < high"),
    (dict(replace=(0.8, 0.1, 0.1), vocab=(1.0, 5)), TypeError, "vocab low must be an int"),
    (dict(replace=(0.8, 0.1, 0.1), vocab=10), TypeError, "vocab must be None or \\(low, high\\)"),
    (dict(replace=(0.8, 0.1, 0.1), item_counts=[1.5, 2.0]), TypeError, "item_counts must hold integers"),
    (dict(replace=(0.8, 0.1, 0.1), item_counts=[1, -2]), ValueError, "-2 for item id 1"),
    (dict(replace=(0.8, 0.1, 0.1), item_counts=[[1, 2]]), ValueError, "1-D array"),
    (dict(replace=(0.8, 0.1, 0.1), item_counts=[0, 0]), ValueError, "positive total"),
    (dict(replace=(0.8, 0.1, 0.1), vocab=(1, 5), item_counts=[1, 2]), ValueError, "not both"),
    (dict(vocab=(1, 5)), ValueError, "pass replace too"),
    (dict(item_counts=[1, 2]), ValueError, "pass replace too"),
    (dict(input_column="x"), ValueError, "input_column names the column written under replace"),
    (dict(replace=(0.8, 0.1, 0.1), input_column=""), TypeError, "input_column must be a non-empty str"),
    (dict(replace=(0.8, 0.1, 0.1), input_column="x__offsets"), ValueError, "must not end with"),
    (dict(replace=(0.8, 0.1, 0.1), pad_id=None), ValueError, "replace needs a pad_id"),
])
def test_invalid_bert_options_raise_at_construction_naming_the_option(kwargs, error, match):
    with pytest.raises(error, match=match):
        MaskRandom(**kwargs)


def test_a_column_without_a_domain_needs_a_vocab_and_is_named():
    df = pd.DataFrame({"item_ids": [[1, 2, 3]]})
    with pytest.raises(MaskInputError, match="column 'item_ids': replace=... draws random items"):
        nvt.Workflow(["item_ids"] >> MaskRandom(seed=1, replace=(0.8, 0.1, 0.1))).fit(Dataset(df, cpu=True))
    # no random share: no vocabulary needed
    out, _ = run_workflow(["item_ids"] >> MaskRandom(seed=1, replace=(0.9, 0.0, 0.1)), df)
    assert "item_ids_input" in out.columns


def test_an_input_column_name_that_collides_is_refused():
    df = pd.DataFrame({"item_ids": [[1, 2, 3]]})
    with pytest.raises(ValueError, match="input column name 'item_ids_mask' collides"):
        run_workflow(["item_ids"] >> MaskRandom(seed=1, replace=(0.9, 0.0, 0.1), input_column="item_ids_mask"), df)


def test_a_vocab_beyond_the_item_dtype_is_refused():
    df = pd.DataFrame({"item_ids": [np.array([1, 2, 3], dtype=np.int8)]})
    with pytest.raises(Exception, match="does not fit the item ids' dtype int8"):
        run_workflow(["item_ids"] >> MaskRandom(seed=1, replace=(0.0, 1.0, 0.0), vocab=(1, 1000)), df)


def test_repr_shows_the_new_options_only_when_set():
    assert "last_ratio" not in repr(MaskRandom(seed=1))
    text = repr(MaskRandom(seed=1, last_ratio=0.1, replace=(0.8, 0.1, 0.1), vocab=(1, 9)))
    assert "last_ratio=0.1" in text and "replace=(0.8, 0.1, 0.1)" in text and "vocab=(1, 9)" in text
