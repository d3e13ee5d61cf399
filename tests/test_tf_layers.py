"""The plain Keras layer and loss: [MASK] placement, padding mask, inputs forms, errors, saving."""
import numpy as np
import pytest
import tensorflow as tf

from merlin_mlm_ops.tf import MaskedItemLoss, MaskedSequenceEmbedding, mlm_targets

IDS = tf.constant([[3, 4, 5, 0], [6, 7, 0, 0]], dtype=tf.int64)
MASK = tf.constant([[False, True, False, False], [True, False, False, False]])


def test_masked_positions_get_the_mask_vector_and_the_others_their_embedding():
    layer = MaskedSequenceEmbedding(10, 4)
    out = layer({"item_ids": IDS, "item_ids_mask": MASK}).numpy()
    table, mask_vec = layer.embeddings.numpy(), layer.mask_embedding.numpy()
    for b in range(2):
        for t in range(4):
            want = mask_vec if MASK[b, t] else table[IDS[b, t]]
            np.testing.assert_array_equal(out[b, t], want)


def test_padding_mask_is_propagated():
    out = MaskedSequenceEmbedding(10, 4)({"item_ids": IDS, "item_ids_mask": MASK})
    assert out._keras_mask.numpy().tolist() == [[True, True, True, False], [True, True, False, False]]


def test_ragged_and_dataloader_forms_equal_the_dense_form():
    layer = MaskedSequenceEmbedding(10, 4)
    dense = layer({"item_ids": IDS, "item_ids_mask": MASK}).numpy()
    ragged_ids = tf.ragged.constant([[3, 4, 5], [6, 7]], dtype=tf.int64)
    ragged_mask = tf.ragged.constant([[False, True, False], [True, False]])
    ragged = layer({"item_ids": ragged_ids, "item_ids_mask": ragged_mask}).numpy()
    loader_form = layer({
        "item_ids__values": tf.constant([[3], [4], [5], [6], [7]], dtype=tf.int64),
        "item_ids__offsets": tf.constant([0, 3, 5], dtype=tf.int32),
        "item_ids_mask__values": tf.constant([[0], [1], [0], [1], [0]], dtype=tf.int8),
        "item_ids_mask__offsets": tf.constant([0, 3, 5], dtype=tf.int32),
    }).numpy()
    np.testing.assert_array_equal(ragged, dense[:, :3])
    np.testing.assert_array_equal(loader_form, dense[:, :3])


def test_a_missing_mask_column_is_named():
    with pytest.raises(ValueError, match="mask column 'item_ids_mask' is missing"):
        MaskedSequenceEmbedding(10, 4)({"item_ids": IDS})
    with pytest.raises(ValueError, match="item id column 'items' is missing"):
        MaskedSequenceEmbedding(10, 4, ids_column="items")({"item_ids": IDS, "item_ids_mask": MASK})


def test_a_non_bool_mask_is_rejected_naming_the_column():
    with pytest.raises(TypeError, match="mask column 'item_ids_mask' must be bool, got float32"):
        MaskedSequenceEmbedding(10, 4)({"item_ids": IDS, "item_ids_mask": tf.cast(MASK, tf.float32)})


def test_mask_lengths_that_differ_from_the_ids_are_rejected_naming_both_columns():
    layer = MaskedSequenceEmbedding(10, 4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="'item_ids_mask' row lengths differ from 'item_ids'"):
        layer({"item_ids": tf.ragged.constant([[3, 4, 5], [6, 7]]), "item_ids_mask": tf.ragged.constant([[False, True], [True, False]])})
    with pytest.raises(tf.errors.InvalidArgumentError, match="'item_ids_mask' shape differs from 'item_ids'"):
        layer({"item_ids": IDS, "item_ids_mask": MASK[:, :3]})


def tiny_model(vocab=10, dim=8, attention=False):
    ids = tf.keras.Input(shape=(None,), dtype=tf.int64, name="item_ids")
    mask = tf.keras.Input(shape=(None,), dtype=tf.bool, name="item_ids_mask")
    hidden = MaskedSequenceEmbedding(vocab, dim)({"item_ids": ids, "item_ids_mask": mask})
    if attention:  # the padding mask travels into the attention as a Keras mask
        context = tf.keras.layers.MultiHeadAttention(2, dim)(hidden, hidden)
        hidden = tf.keras.layers.LayerNormalization()(hidden + context)
    logits = tf.keras.layers.Dense(vocab)(hidden)
    return tf.keras.Model({"item_ids": ids, "item_ids_mask": mask}, logits)


def test_config_round_trips_and_the_layer_saves_in_a_savedmodel(tmp_path):
    layer = MaskedSequenceEmbedding(10, 4, ids_column="a", mask_column="b", pad_id=1, name="emb")
    clone = MaskedSequenceEmbedding.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    model = tiny_model()
    x = {"item_ids": IDS, "item_ids_mask": MASK}
    before = model(x).numpy()
    model.save(str(tmp_path / "sm"))
    loaded = tf.keras.models.load_model(str(tmp_path / "sm"))
    np.testing.assert_allclose(loaded(x).numpy(), before, rtol=1e-6)


def test_loss_is_the_mean_over_masked_positions_only_not_over_non_padding():
    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(size=(2, 4, 10)), dtype=tf.float32)
    labels = mlm_targets(IDS, MASK)
    assert labels.numpy().tolist() == [[-1, 4, -1, -1], [6, -1, -1, -1]]
    ce = tf.keras.losses.sparse_categorical_crossentropy(tf.maximum(labels, 0), logits, from_logits=True).numpy()
    want = (ce[0, 1] + ce[1, 0]) / 2
    assert float(MaskedItemLoss()(labels, logits)) == pytest.approx(want, rel=1e-6)
    padding = tf.cast(IDS != 0, tf.float32)  # what Keras applies when the logits carry a padding mask
    assert float(MaskedItemLoss()(labels, logits, sample_weight=padding)) == pytest.approx(want, rel=1e-6)
    keras_default = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        tf.maximum(labels, 0), logits, sample_weight=tf.cast(MASK, tf.float32) * padding)
    assert float(keras_default) != pytest.approx(want, rel=1e-3)  # divides by all positions instead


def test_loss_in_a_compiled_model_with_a_padding_mask_is_the_masked_mean():
    model = tiny_model()
    model.compile(loss=MaskedItemLoss())
    x = {"item_ids": IDS, "item_ids_mask": MASK}
    labels = mlm_targets(IDS, MASK)
    ce = tf.keras.losses.sparse_categorical_crossentropy(tf.maximum(labels, 0), model(x), from_logits=True).numpy()
    assert model.evaluate(x, labels, batch_size=2, verbose=0) == pytest.approx((ce[0, 1] + ce[1, 0]) / 2, rel=1e-5)
    assert MaskedItemLoss.from_config(MaskedItemLoss(ignore=-2).get_config()).ignore == -2


def test_a_plain_keras_model_learns_from_precomputed_masks():
    from merlin_mlm_ops.masking import hashing, rules
    from merlin_mlm_ops.data.synthetic import make_sessions

    df = make_sessions(400, n_items=30, mean_length=8, max_length=12, transition=0.9, seed=2)
    vocab = {v: i + 1 for i, v in enumerate(sorted({int(x) for r in df["item_ids"] for x in r}))}
    rows = [[vocab[int(x)] for x in r] for r in df["item_ids"]]
    width = max(map(len, rows))
    ids = np.array([r + [0] * (width - len(r)) for r in rows], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    flat = hashing.as_uint64(np.concatenate([np.array(r) for r in rows]))
    flat_mask = rules.mask_random(flat, offsets, hashing.as_uint64(np.arange(len(rows))), seed=1, epoch=0, prob=0.3)
    mask = np.zeros_like(ids, dtype=bool)
    for r in range(len(rows)):
        mask[r, : len(rows[r])] = flat_mask[offsets[r]:offsets[r + 1]]
    tf.keras.utils.set_random_seed(0)
    model = tiny_model(vocab=len(vocab) + 1, dim=16, attention=True)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss=MaskedItemLoss())
    history = model.fit({"item_ids": ids, "item_ids_mask": mask}, mlm_targets(ids, mask), epochs=10, batch_size=64, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0]
