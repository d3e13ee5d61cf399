"""The Keras layer and the merlin-models pre consume MaskRandom(replace=...)'s input column (80/10/10):
[MASK] only where the input id is the padding id, drawn and kept items embedded as given, loss on
every masked position."""
import numpy as np
import nvtabular as nvt
import pytest
import tensorflow as tf
from merlin.io import Dataset
from merlin.schema import Tags

from merlin_mlm_ops import MaskRandom
from merlin_mlm_ops.data.synthetic import make_sessions
from merlin_mlm_ops.tf import MaskedSequenceEmbedding, mlm_targets

IDS = tf.constant([[3, 4, 5, 6], [6, 7, 8, 0]], dtype=tf.int64)
MASK = tf.constant([[False, True, True, True], [True, False, True, False]])
# position (0,1) [MASK], (0,2) random item 9, (0,3) kept, (1,0) [MASK], (1,2) random item 2
SEEN = tf.constant([[3, 0, 9, 6], [0, 7, 2, 0]], dtype=tf.int64)


def test_keras_layer_puts_mask_only_where_the_input_is_padding_and_embeds_the_rest_as_given():
    layer = MaskedSequenceEmbedding(10, 4, input_column="item_ids_input")
    out = layer({"item_ids": IDS, "item_ids_mask": MASK, "item_ids_input": SEEN}).numpy()
    table, mask_vec = layer.embeddings.numpy(), layer.mask_embedding.numpy()
    for b in range(2):
        for t in range(4):
            mask_token = bool(MASK[b, t]) and int(SEEN[b, t]) == 0
            np.testing.assert_array_equal(out[b, t], mask_vec if mask_token else table[int(SEEN[b, t])])
    # the padding mask still comes from the true ids, the loss labels from every masked position
    assert out is not None and layer.compute_mask({"item_ids": IDS, "item_ids_mask": MASK,
                                                   "item_ids_input": SEEN}).numpy()[1].tolist() == [True] * 3 + [False]
    assert mlm_targets(IDS, MASK).numpy().tolist() == [[-1, 4, 5, 6], [6, -1, 8, -1]]


def test_keras_layer_reads_the_input_column_in_every_form_and_names_it_when_missing_or_misaligned():
    layer = MaskedSequenceEmbedding(10, 4, input_column="seen")
    dense = layer({"item_ids": IDS, "item_ids_mask": MASK, "seen": SEEN}).numpy()
    loader_form = layer({
        "item_ids__values": tf.reshape(IDS, [-1, 1]), "item_ids__offsets": tf.constant([0, 4, 8], tf.int32),
        "item_ids_mask__values": tf.cast(tf.reshape(MASK, [-1, 1]), tf.int8),
        "item_ids_mask__offsets": tf.constant([0, 4, 8], tf.int32),
        "seen__values": tf.reshape(SEEN, [-1, 1]), "seen__offsets": tf.constant([0, 4, 8], tf.int32)}).numpy()
    np.testing.assert_array_equal(dense, loader_form)
    with pytest.raises(ValueError, match="input id column 'seen' is missing"):
        layer({"item_ids": IDS, "item_ids_mask": MASK})
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="input column 'seen'"):
        layer({"item_ids": IDS, "item_ids_mask": MASK, "seen": SEEN[:, :3]})


def test_keras_layer_config_round_trips_with_the_input_column():
    layer = MaskedSequenceEmbedding(10, 4, input_column="seen", name="emb")
    clone = MaskedSequenceEmbedding.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config() and clone.input_column == "seen"


# -- merlin-models ----------------------------------------------------------------------------

mm = pytest.importorskip("merlin.models.tf")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("mm80")
    df = make_sessions(400, n_items=40, mean_length=8, max_length=15, transition=0.9, seed=1)[["session_id", "item_ids"]]
    items = ["item_ids"] >> nvt.ops.Categorify(out_path=str(path)) >> nvt.ops.AddTags([Tags.ITEM_ID, Tags.SEQUENCE])
    op = MaskRandom(prob=0.3, seed=3, key="session_id", last_ratio=0.1, replace=(0.6, 0.2, 0.2))
    wf = nvt.Workflow((items >> op) + ["session_id"])
    out = wf.fit_transform(Dataset(df, cpu=True)).to_ddf().compute().reset_index(drop=True)
    cols = ["item_ids", "item_ids_mask", "item_ids_input"]
    return Dataset(out[cols], cpu=True, schema=wf.output_schema.select_by_name(cols)), out


def ragged(out, column, dtype, rows=4):
    return tf.ragged.constant([list(r) for r in out[column][:rows]], dtype=dtype)


def test_pre_feeds_the_input_ids_masks_only_mask_tokens_and_targets_every_masked_position(data):
    from merlin_mlm_ops.tf import SequenceMaskPrecomputed

    ds, out = data
    pre = SequenceMaskPrecomputed(ds.schema, "item_ids")
    assert (pre.mask_column, pre.input_column) == ("item_ids_mask", "item_ids_input")
    assert pre.schema.column_names == ["item_ids"]
    ids, mask = ragged(out, "item_ids", tf.int64), ragged(out, "item_ids_mask", tf.bool)
    seen = ragged(out, "item_ids_input", tf.int64)
    inputs = {"item_ids": ids, "item_ids_mask": mask, "item_ids_input": seen}
    features, targets = pre.call(dict(inputs))
    assert set(features) == {"item_ids"}
    assert features["item_ids"].to_list() == seen.to_list() and targets["item_ids"].to_list() == ids.to_list()
    inputs_mask, targets_mask = pre.compute_mask(inputs)
    assert targets_mask["item_ids"].to_list() == mask.to_list()
    want = [[bool(m) and s == 0 for m, s in zip(mr, sr)] for mr, sr in zip(mask.to_list(), seen.to_list())]
    assert inputs_mask["item_ids"].to_list() == want
    assert SequenceMaskPrecomputed.from_config(pre.get_config()).input_column == "item_ids_input"


def test_replace_block_hands_the_target_mask_on():
    from merlin_mlm_ops.tf.merlin_models import ReplaceMaskTokenEmbeddings

    emb = tf.ones([2, 3, 4])
    emb._keras_mask = tf.constant([[True, False, False], [False, False, False]])
    target = tf.constant([[1, 2, 3], [4, 5, 6]])
    target._keras_mask = tf.constant([[True, True, False], [False, False, True]])
    block = ReplaceMaskTokenEmbeddings()
    out = block(emb, targets={"item_ids": target})
    assert out._keras_mask.numpy().tolist() == target._keras_mask.numpy().tolist()
    replaced = np.all(out.numpy() == block.masked_embedding.numpy(), axis=-1)
    assert replaced.tolist() == [[True, False, False], [False, False, False]]


def test_a_bert4rec_block_trains_on_80_10_10_and_evaluates_unchanged(data):
    from merlin.dataloader.tensorflow import Loader

    from merlin_mlm_ops.tf import SequenceMaskPrecomputed
    from merlin_mlm_ops.tf.merlin_models import ReplaceMaskTokenEmbeddings
    from merlin_mlm_ops.tf.models import build_bert4rec

    ds, _ = data
    tf.keras.utils.set_random_seed(0)
    seq_schema = ds.schema.select_by_name(["item_ids"])
    model, bert = build_bert4rec(seq_schema, dim=32, layers=1)
    model.compile(optimizer=tf.keras.optimizers.Adam(5e-3))
    pre = SequenceMaskPrecomputed(ds.schema, "item_ids", transformer=bert)
    history = model.fit(Loader(ds, batch_size=64), epochs=4, pre=pre, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.9 * losses[0], losses
    assert any(isinstance(layer, ReplaceMaskTokenEmbeddings) for layer in bert.masking_pre.layers)
    metrics = model.evaluate(Loader(ds, batch_size=64),
                             pre=mm.SequenceMaskLast(schema=seq_schema, target="item_ids", transformer=bert),
                             return_dict=True, verbose=0)
    assert np.isfinite(metrics["loss"])


def test_the_transformer_sees_mask_only_at_mask_tokens_and_the_drawn_and_kept_items_elsewhere(data):
    """End to end through merlin-models' BERT block (its input blocks drop the inputs' Keras mask):
    an input column that is [MASK] at every masked position trains exactly as no input column;
    the 80/10/10 one does not (the random and kept items reach the transformer)."""
    from merlin.dataloader.tensorflow import Loader

    from merlin_mlm_ops.tf import SequenceMaskPrecomputed
    from merlin_mlm_ops.tf.models import build_bert4rec

    ds, out = data

    def first_loss(columns, frame):
        schema = ds.schema.select_by_name(columns)
        tf.keras.utils.set_random_seed(0)
        model, bert = build_bert4rec(schema.select_by_name(["item_ids"]), dim=32, layers=1)
        model.compile(optimizer=tf.keras.optimizers.Adam(5e-3))
        pre = SequenceMaskPrecomputed(schema, "item_ids", transformer=bert)
        loader = Loader(Dataset(frame[columns], cpu=True, schema=schema), batch_size=64, shuffle=False)
        return model.fit(loader, epochs=1, pre=pre, verbose=0).history["loss"][0]

    plain = first_loss(["item_ids", "item_ids_mask"], out)
    all_mask = out.copy()
    all_mask["item_ids_input"] = [np.where(m, 0, r) for r, m in zip(out["item_ids"], out["item_ids_mask"])]
    cols = ["item_ids", "item_ids_mask", "item_ids_input"]
    assert first_loss(cols, all_mask) == pytest.approx(plain, rel=1e-6)
    assert abs(first_loss(cols, out) - plain) > 1e-3


def test_epoch_masks_serve_each_epochs_last_item_rows_and_input_ids():
    """The options travel with MaskRandom.with_epoch, so per-epoch datasets need nothing more."""
    from merlin_mlm_ops.tf import EpochMasks

    from helpers import run_workflow

    df = make_sessions(64, n_items=30, mean_length=6, seed=2)[["session_id", "item_ids"]]
    op = MaskRandom(prob=0.3, seed=5, key="session_id", last_ratio=0.2, replace=(0.8, 0.1, 0.1), vocab=(1, 40))
    datasets = []
    for epoch in range(2):
        out, wf = run_workflow(["item_ids"] >> op.with_epoch(epoch), df)
        datasets.append(Dataset(out, cpu=True, schema=wf.output_schema))
    loader = EpochMasks(datasets, batch_size=64, shuffle=False)
    firsts = []
    for _ in range(2):
        batch = next(iter(loader))[0]
        firsts.append(batch["item_ids_input__values"].numpy().ravel().tolist())
        loader.on_epoch_end()
    assert firsts[0] != firsts[1]
    for epoch, ids in enumerate(firsts):
        assert ids == [x for r in datasets[epoch].to_ddf().compute()["item_ids_input"] for x in r][:len(ids)]
