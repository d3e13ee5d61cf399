"""MaskRandom inside nvtabular Workflows on pandas partitions: outputs, schema, reproducibility."""
import numpy as np
import nvtabular as nvt
import pandas as pd
import pytest
from merlin.io import Dataset
from merlin.schema import Tags

from merlin_mlm_ops import MASK_TAG, MaskLast, MaskRandom
from merlin_mlm_ops.masking.stats import expected_masked

from helpers import mask_lists, run_workflow
from oracle import content_key, mask_row


def test_outputs_are_the_selected_columns_unchanged_plus_an_aligned_bool_mask(sessions_df):
    out, _ = run_workflow(["item_ids", "category"] >> MaskRandom(seed=1), sessions_df)
    assert out.columns.tolist() == ["item_ids", "category", "item_ids_mask"]
    for col in ("item_ids", "category"):
        assert [list(a) for a in out[col]] == [list(b) for b in sessions_df[col]]
    assert [len(m) for m in out["item_ids_mask"]] == [len(r) for r in sessions_df["item_ids"]]
    assert all(m.dtype == np.bool_ for m in out["item_ids_mask"])


def test_masks_equal_the_rule_text_row_by_row(sessions_df):
    out, _ = run_workflow(["item_ids"] >> MaskRandom(prob=0.3, seed=9, key="session_id", max_masked=4), sessions_df)
    want = [mask_row(list(r), int(k), 9, 0, 0.3, 1, 4, 0)
            for r, k in zip(sessions_df["item_ids"], sessions_df["session_id"])]
    assert mask_lists(out["item_ids_mask"]) == want


def test_keyless_masks_use_content_and_ordinal_within_the_partition():
    df = pd.DataFrame({"item_ids": [[1, 2, 3, 4], [1, 2, 3, 4], [5, 6]]})
    out, _ = run_workflow(["item_ids"] >> MaskRandom(prob=0.5, seed=3), df)
    want = [mask_row(r, content_key(r, i), 3, 0, 0.5) for i, r in enumerate(df["item_ids"])]
    assert mask_lists(out["item_ids_mask"]) == want


def test_rows_may_be_python_lists_or_numpy_arrays(sessions_df):
    as_arrays = sessions_df.assign(item_ids=[np.asarray(r, dtype=np.int32) for r in sessions_df["item_ids"]])
    as_lists = sessions_df.assign(item_ids=[list(map(int, r)) for r in sessions_df["item_ids"]])
    op = dict(prob=0.25, seed=4, key="session_id")
    a, _ = run_workflow(["item_ids"] >> MaskRandom(**op), as_arrays)
    b, _ = run_workflow(["item_ids"] >> MaskRandom(**op), as_lists)
    assert mask_lists(a["item_ids_mask"]) == mask_lists(b["item_ids_mask"])


def test_with_a_key_masks_do_not_depend_on_partitioning_or_row_order(sessions_df):
    op = dict(prob=0.2, seed=5, key="session_id")
    one, _ = run_workflow(["item_ids"] >> MaskRandom(**op), sessions_df, npartitions=1)
    shuffled = sessions_df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    many, _ = run_workflow(["item_ids"] >> MaskRandom(**op), shuffled, npartitions=7)
    by_key = dict(zip(sessions_df["session_id"], mask_lists(one["item_ids_mask"])))
    assert mask_lists(many["item_ids_mask"]) == [by_key[k] for k in shuffled["session_id"]]


def test_string_keys_work_and_are_partition_invariant(sessions_df):
    df = sessions_df.assign(session_id=[f"s-{k}" for k in sessions_df["session_id"]])
    op = dict(prob=0.2, seed=5, key="session_id")
    one, _ = run_workflow(["session_id"] + (["item_ids"] >> MaskRandom(**op)), df)
    many, _ = run_workflow(["session_id"] + (["item_ids"] >> MaskRandom(**op)), df, npartitions=5)
    assert mask_lists(one["item_ids_mask"]) == mask_lists(many["item_ids_mask"])


def test_without_a_key_masks_are_reproducible_for_the_same_partitioning(sessions_df):
    a, _ = run_workflow(["item_ids"] >> MaskRandom(seed=6), sessions_df, npartitions=3)
    b, _ = run_workflow(["item_ids"] >> MaskRandom(seed=6), sessions_df, npartitions=3)
    assert mask_lists(a["item_ids_mask"]) == mask_lists(b["item_ids_mask"])


def test_epochs_give_independent_draws_of_the_same_data(sessions_df):
    op = MaskRandom(prob=0.3, seed=6, key="session_id")
    a, _ = run_workflow(["item_ids"] >> op, sessions_df)
    b, _ = run_workflow(["item_ids"] >> op.with_epoch(1), sessions_df)
    assert mask_lists(a["item_ids_mask"]) != mask_lists(b["item_ids_mask"])
    assert op.with_epoch(1).seed == op.seed and op.with_epoch(1).epoch == 1


def test_seed_none_is_drawn_once_and_kept():
    op = MaskRandom()
    assert isinstance(op.seed, int) and 0 <= op.seed < 2**63
    assert MaskRandom().seed != op.seed


def test_null_rows_give_null_masks_and_empty_rows_empty_masks():
    df = pd.DataFrame({"item_ids": [[1, 2, 3], None, [], [4, 5]]})
    out, _ = run_workflow(["item_ids"] >> MaskRandom(seed=1), df)
    masks = mask_lists(out["item_ids_mask"])
    assert masks[1] is None and masks[2] == [] and len(masks[0]) == 3 and sum(masks[3]) == 1
    assert out["item_ids"].iloc[1] is None


def test_index_and_row_order_are_preserved():
    df = pd.DataFrame({"item_ids": [[3, 1], [2, 2, 2], [9]]}, index=[10, 5, 7])
    from merlin.dag import ColumnSelector

    out = MaskRandom(seed=2).transform(ColumnSelector(["item_ids"]), df)
    assert out.index.tolist() == [10, 5, 7]
    assert [len(m) for m in out["item_ids_mask"]] == [2, 3, 1]


def test_mask_schema_is_bool_list_with_its_own_tag_and_source_shape(sessions_df):
    wf = nvt.Workflow(["item_ids"] >> nvt.ops.Categorify(out_path="/tmp/mlm-test-cats") >> MaskRandom(seed=1))
    wf.fit(Dataset(sessions_df, cpu=True))
    schema = wf.output_schema
    mask, items = schema["item_ids_mask"], schema["item_ids"]
    assert mask.dtype.element_type.value == "bool" and mask.is_list and mask.is_ragged == items.is_ragged
    assert set(mask.tags) == {MASK_TAG}
    assert mask.shape == items.shape
    assert Tags.CATEGORICAL in items.tags  # selected columns keep their schemas
    assert schema.select_by_tag(MASK_TAG).column_names == ["item_ids_mask"]


def test_custom_mask_column_name(sessions_df):
    out, wf = run_workflow(["item_ids"] >> MaskRandom(seed=1, mask_column="targets"), sessions_df)
    assert "targets" in out.columns and "targets" in wf.output_schema.column_names


def test_chains_after_categorify_and_list_slice_on_a_multi_partition_dataset(sessions_df, tmp_path):
    cats = ["item_ids"] >> nvt.ops.Categorify(out_path=str(tmp_path))
    node = cats >> nvt.ops.ListSlice(-10) >> MaskRandom(prob=0.2, seed=8)
    raw = tmp_path / "raw"
    raw.mkdir()
    for i, part in enumerate(np.array_split(sessions_df, 3)):
        part.reset_index(drop=True).to_parquet(raw / f"p{i}.parquet")
    wf = nvt.Workflow(node)
    ds = Dataset(str(raw), engine="parquet", cpu=True)
    out = wf.fit_transform(ds).to_ddf().compute()
    assert len(out) == len(sessions_df)
    assert all(len(m) == len(r) <= 10 for m, r in zip(out["item_ids_mask"], out["item_ids"]))
    assert all(0 not in r for r in out["item_ids"])  # Categorify ids start at 3 for seen items
    lengths = np.array([len(r) for r in out["item_ids"]])
    observed = sum(int(m.sum()) for m in out["item_ids_mask"])
    assert observed > 0.5 * expected_masked(lengths, 0.2).sum()


def test_mask_survives_parquet_round_trip_with_the_output_schema(sessions_df, tmp_path):
    wf = nvt.Workflow(["session_id"] + (["item_ids"] >> MaskRandom(seed=1, key="session_id")))
    ds = Dataset(sessions_df, cpu=True)
    wf.fit(ds)
    wf.transform(ds).to_parquet(str(tmp_path / "out"))
    back = Dataset(str(tmp_path / "out"), engine="parquet", schema=wf.output_schema, cpu=True)
    assert back.schema["item_ids_mask"].dtype.element_type.value == "bool"
    got = back.to_ddf().compute().sort_values("session_id")
    want, _ = run_workflow(["item_ids"] >> MaskRandom(seed=1, key="session_id"), sessions_df)
    assert mask_lists(got["item_ids_mask"]) == mask_lists(want["item_ids_mask"])
    assert all(m.dtype == np.bool_ for m in got["item_ids_mask"])


def test_mask_last_marks_each_last_item_in_a_workflow():
    df = pd.DataFrame({"item_ids": [[5, 6, 7, 0], [9], [], [0, 0], None]})
    out, wf = run_workflow(["item_ids"] >> MaskLast(), df)
    assert mask_lists(out["item_ids_mask"]) == [[False, False, True, False], [True], [], [False, False], None]
    assert set(wf.output_schema["item_ids_mask"].tags) == {MASK_TAG}


@pytest.mark.parametrize("op", [MaskRandom(seed=3), MaskLast()])
def test_repr_shows_the_parameters(op):
    assert repr(op).startswith(type(op).__name__ + "(") and "pad_id=0" in repr(op)
