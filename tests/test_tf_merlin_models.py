"""merlin-models integration: SequenceMaskPrecomputed finds the ETL mask, sets it as the target
mask, and a BERT4Rec block trains on it with model.fit(..., pre=...)."""
import numpy as np
import nvtabular as nvt
import pytest
import tensorflow as tf
from merlin.io import Dataset
from merlin.schema import ColumnSchema, Schema, Tags

import merlin.models.tf as mm
from merlin.dataloader.tensorflow import Loader

from merlin_mlm_ops import MaskRandom
from merlin_mlm_ops.data.synthetic import make_sessions
from merlin_mlm_ops.tf import SequenceMaskPrecomputed
from merlin_mlm_ops.tf.models import build_bert4rec


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A few hundred sessions through Categorify and MaskRandom, as a Dataset with the output schema."""
    path = tmp_path_factory.mktemp("mm")
    df = make_sessions(400, n_items=40, mean_length=8, max_length=15, transition=0.9, seed=1)[["session_id", "item_ids"]]
    items = ["item_ids"] >> nvt.ops.Categorify(out_path=str(path)) >> nvt.ops.AddTags([Tags.ITEM_ID, Tags.SEQUENCE])
    wf = nvt.Workflow((items >> MaskRandom(prob=0.3, seed=3, key="session_id")) + ["session_id"])
    out = wf.fit_transform(Dataset(df, cpu=True)).to_ddf().compute().reset_index(drop=True)
    schema = wf.output_schema.select_by_name(["item_ids", "item_ids_mask"])
    return Dataset(out[["item_ids", "item_ids_mask"]], cpu=True, schema=schema), out


def test_the_mask_column_is_found_by_its_tag_and_kept_out_of_the_sequence_schema(data):
    ds, _ = data
    pre = SequenceMaskPrecomputed(ds.schema, "item_ids")
    assert pre.mask_column == "item_ids_mask"
    assert pre.schema.column_names == ["item_ids"]
    assert SequenceMaskPrecomputed(ds.schema.select_by_name(["item_ids"]), "item_ids", mask_column="m").mask_column == "m"


def ragged_inputs(out, rows=3):
    ids = tf.ragged.constant([list(r) for r in out["item_ids"][:rows]], dtype=tf.int64)
    mask = tf.ragged.constant([list(m) for m in out["item_ids_mask"][:rows]], dtype=tf.bool)
    return ids, mask


def test_the_target_mask_is_the_etl_mask_and_the_mask_column_is_not_a_feature(data):
    ds, out = data
    pre = SequenceMaskPrecomputed(ds.schema, "item_ids")
    ids, mask = ragged_inputs(out)
    inputs = {"item_ids": ids, "item_ids_mask": mask}
    features, targets = pre.call(inputs)
    assert set(features) == {"item_ids"} and set(targets) == {"item_ids"}
    inputs_mask, targets_mask = pre.compute_mask(inputs)
    assert set(inputs_mask) == set(features)
    assert targets_mask["item_ids"].to_list() == mask.to_list()
    assert inputs_mask["item_ids"].to_list() == mask.to_list()


def test_the_dataloader_form_of_the_mask_is_accepted():
    items = Schema([ColumnSchema("item_ids", dtype="int64", is_list=True, is_ragged=True, tags=[Tags.ITEM_ID])])
    wf = nvt.Workflow(["item_ids"] >> MaskRandom(seed=1))
    wf.fit_schema(items)
    schema = wf.output_schema
    pre = SequenceMaskPrecomputed(schema, "item_ids")
    ids = tf.ragged.constant([[3, 4, 5], [6, 7]], dtype=tf.int64)
    inputs = {"item_ids": ids, "item_ids_mask__values": tf.constant([[0], [1], [0], [1], [0]], tf.int8),
              "item_ids_mask__offsets": tf.constant([0, 3, 5], tf.int32)}
    _, targets_mask = pre.compute_mask(inputs)
    assert targets_mask["item_ids"].to_list() == [[False, True, False], [True, False]]
    assert set(pre.call(inputs)[0]) == {"item_ids"}


def test_missing_or_misaligned_masks_give_errors_naming_the_columns(data):
    ds, out = data
    pre = SequenceMaskPrecomputed(ds.schema, "item_ids")
    ids, mask = ragged_inputs(out)
    with pytest.raises(ValueError, match="mask column 'item_ids_mask' is missing"):
        pre.compute_mask({"item_ids": ids})
    short = tf.ragged.constant([[True]] * 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="'item_ids_mask' row lengths differ from target column 'item_ids'"):
        pre.compute_mask({"item_ids": ids, "item_ids_mask": short})
    with pytest.raises(TypeError, match="must be bool"):
        pre.compute_mask({"item_ids": ids, "item_ids_mask": tf.cast(mask, tf.float32)})


def test_a_bert4rec_block_trains_on_precomputed_masks_and_evaluates_unchanged(data):
    ds, _ = data
    tf.keras.utils.set_random_seed(0)
    seq_schema = ds.schema.select_by_name(["item_ids"])
    model, bert = build_bert4rec(seq_schema, dim=32, layers=1)
    model.compile(optimizer=tf.keras.optimizers.Adam(5e-3), metrics=[mm.RecallAt(10)])
    pre = SequenceMaskPrecomputed(ds.schema, "item_ids", transformer=bert)
    history = model.fit(Loader(ds, batch_size=64), epochs=4, pre=pre, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.9 * losses[0], losses
    # a second fit reuses the trained [MASK] embedding (no new variable for the optimizer)
    model.fit(Loader(ds, batch_size=64), epochs=1, pre=pre, verbose=0)
    metrics = model.evaluate(Loader(ds, batch_size=64), pre=mm.SequenceMaskLast(schema=seq_schema, target="item_ids", transformer=bert),
                             return_dict=True, verbose=0)
    assert 0.0 <= metrics["recall_at_10"] <= 1.0 and np.isfinite(metrics["loss"])
