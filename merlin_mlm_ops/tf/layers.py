"""Plain Keras layers and loss for training on precomputed masks (no merlin-models needed)."""
from __future__ import annotations

import tensorflow as tf

from merlin_mlm_ops.adapters.names import offsets_name, values_name

__all__ = ["MaskedSequenceEmbedding", "MaskedItemLoss", "mlm_targets", "IGNORE_LABEL"]

#: Label of the positions the loss must ignore (see :func:`mlm_targets`).
IGNORE_LABEL = -1


def list_column(inputs, name, what, hint=None):
    """A list column from a feature dict, as given (dense or ragged) or built from the dataloader's
    ``<name>__values`` + ``<name>__offsets``; a trailing dimension of 1 is dropped."""
    if name in inputs:
        value = inputs[name]
    elif values_name(name) in inputs and offsets_name(name) in inputs:
        values = tf.reshape(inputs[values_name(name)], [-1])
        offsets = tf.reshape(inputs[offsets_name(name)], [-1])
        value = tf.RaggedTensor.from_row_splits(values, tf.cast(offsets, tf.int64), validate=False)
    else:
        raise ValueError(f"{what} column '{name}' is missing from the inputs (got {sorted(inputs)}); "
                         + (hint or f"pass it as '{name}' or as '{values_name(name)}' + '{offsets_name(name)}'"))
    if value.shape.rank == 3:
        value = value.merge_dims(1, 2) if isinstance(value, tf.RaggedTensor) else tf.squeeze(value, -1)
    return value


def _dense_column(inputs, name, pad_value, what):
    """``(batch, length)`` dense tensor of a list column, and its row lengths when it was ragged."""
    value = list_column(inputs, name, what)
    if isinstance(value, tf.RaggedTensor):
        return value.to_tensor(default_value=tf.cast(pad_value, value.dtype)), value.row_lengths()
    return value, None


@tf.keras.utils.register_keras_serializable(package="merlin_mlm_ops")
class MaskedSequenceEmbedding(tf.keras.layers.Layer):
    """Item embeddings with a trainable [MASK] vector at the positions of a precomputed mask.

    Takes a dict with padded item ids ``(batch, length)`` and the boolean mask written by
    :class:`merlin_mlm_ops.MaskRandom` (same shape), each also accepted as a ``tf.RaggedTensor``
    or in the merlin-dataloader form ``<name>__values`` + ``<name>__offsets``.  Returns
    ``(batch, length, output_dim)`` embeddings where masked positions hold the [MASK] vector
    and the others their item's embedding, and propagates the padding mask (``ids != pad_id``)
    as a Keras mask.  The model never sees the masked items' ids, so nothing leaks.

    With ``input_column`` (the input ids written by ``MaskRandom(replace=(0.8, 0.1, 0.1))``) the
    layer embeds those ids instead, and puts the [MASK] vector only where the mask is set *and*
    the input id is ``pad_id`` (the [MASK] positions); masked positions that got a random item
    or kept their own show that item's embedding (BERT's 80/10/10).  The mask still marks every
    masked position, so :func:`mlm_targets` and the loss cover all of them.

    Parameters
    ----------
    input_dim : int
        Vocabulary size (largest item id + 1).
    output_dim : int
        Embedding size.
    ids_column : str, default "item_ids"
        Key of the item ids in the input dict.
    mask_column : str, default "item_ids_mask"
        Key of the precomputed mask in the input dict.
    pad_id : int, default 0
        Padding id (Categorify's 0): padded positions are masked out for downstream layers.
    input_column : str or None, default None
        Key of the input ids (80/10/10) in the input dict; None: every masked position is [MASK].
    embeddings_initializer : initializer, default "uniform"
        Initializer of the item embeddings.
    mask_initializer : initializer, default RandomNormal(0, 0.001)
        Initializer of the [MASK] vector (merlin-models' and Transformers4Rec's choice).

    Example
    -------
    >>> import tensorflow as tf
    >>> layer = MaskedSequenceEmbedding(10, 4)
    >>> out = layer({"item_ids": tf.constant([[3, 4, 0]]), "item_ids_mask": tf.constant([[False, True, False]])})
    >>> out.shape.as_list(), out._keras_mask.numpy().tolist()
    ([1, 3, 4], [[True, True, False]])
    >>> bool(tf.reduce_all(out[0, 1] == layer.mask_embedding))
    True
    """

    def __init__(self, input_dim, output_dim, ids_column="item_ids", mask_column="item_ids_mask", pad_id=0,
                 embeddings_initializer="uniform", mask_initializer=None, input_column=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(input_dim, int) or input_dim < 1 or not isinstance(output_dim, int) or output_dim < 1:
            raise ValueError(f"input_dim and output_dim must be positive ints, got {input_dim!r}, {output_dim!r}")
        self.input_dim, self.output_dim = input_dim, output_dim
        self.ids_column, self.mask_column, self.pad_id = ids_column, mask_column, pad_id
        self.input_column = input_column
        self.embeddings_initializer = tf.keras.initializers.get(embeddings_initializer)
        self.mask_initializer = tf.keras.initializers.get(
            mask_initializer or tf.keras.initializers.RandomNormal(0.0, 0.001))
        self.supports_masking = True

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", shape=[self.input_dim, self.output_dim],
                                          initializer=self.embeddings_initializer)
        self.mask_embedding = self.add_weight("mask_embedding", shape=[self.output_dim],
                                              initializer=self.mask_initializer)
        super().build(input_shape)

    def _ids_and_mask(self, inputs):
        if not isinstance(inputs, dict):
            raise TypeError(f"{type(self).__name__} takes a dict with '{self.ids_column}' and "
                            f"'{self.mask_column}', got {type(inputs).__name__}")
        ids, id_lengths = _dense_column(inputs, self.ids_column, self.pad_id, "item id")
        mask, mask_lengths = _dense_column(inputs, self.mask_column, False, "mask")
        if mask.dtype != tf.bool:
            if mask.dtype in (tf.int8, tf.uint8) and values_name(self.mask_column) in inputs:
                mask = tf.cast(mask, tf.bool)  # the dataloader ships bool lists as int8
            else:
                raise TypeError(f"mask column '{self.mask_column}' must be bool, got {mask.dtype.name}")
        if id_lengths is not None and mask_lengths is not None:
            tf.debugging.assert_equal(id_lengths, mask_lengths, message=(
                f"mask column '{self.mask_column}' row lengths differ from '{self.ids_column}'"))
        else:
            tf.debugging.assert_equal(tf.shape(ids), tf.shape(mask), message=(
                f"mask column '{self.mask_column}' shape differs from '{self.ids_column}'"))
        return ids, mask

    def _input_ids(self, inputs, ids):
        """The 80/10/10 input ids, dense and checked against the item ids."""
        seen, lengths = _dense_column(inputs, self.input_column, self.pad_id, "input id")
        if lengths is not None:
            _, id_lengths = _dense_column(inputs, self.ids_column, self.pad_id, "item id")
            if id_lengths is not None:
                tf.debugging.assert_equal(lengths, id_lengths, message=(
                    f"input column '{self.input_column}' row lengths differ from '{self.ids_column}'"))
        tf.debugging.assert_equal(tf.shape(seen), tf.shape(ids), message=(
            f"input column '{self.input_column}' shape differs from '{self.ids_column}'"))
        return tf.cast(seen, ids.dtype)

    def call(self, inputs):
        ids, mask = self._ids_and_mask(inputs)
        if self.input_column is None:
            embedded = tf.nn.embedding_lookup(self.embeddings, tf.cast(ids, tf.int64))
            return tf.where(mask[..., None], tf.cast(self.mask_embedding, embedded.dtype), embedded)
        seen = self._input_ids(inputs, ids)
        embedded = tf.nn.embedding_lookup(self.embeddings, tf.cast(seen, tf.int64))
        mask_token = mask & tf.equal(seen, tf.cast(self.pad_id, seen.dtype))
        return tf.where(mask_token[..., None], tf.cast(self.mask_embedding, embedded.dtype), embedded)

    def compute_mask(self, inputs, mask=None):
        ids, _ = self._ids_and_mask(inputs)
        return ids != tf.cast(self.pad_id, ids.dtype)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "ids_column": self.ids_column, "mask_column": self.mask_column, "pad_id": self.pad_id,
                "input_column": self.input_column,
                "embeddings_initializer": tf.keras.initializers.serialize(self.embeddings_initializer),
                "mask_initializer": tf.keras.initializers.serialize(self.mask_initializer)}


def mlm_targets(ids, mask, ignore=IGNORE_LABEL):
    """Labels for :class:`MaskedItemLoss`: the item id where ``mask`` is True, ``ignore`` elsewhere."""
    ids = tf.convert_to_tensor(ids)
    return tf.where(tf.cast(mask, tf.bool), ids, tf.cast(ignore, ids.dtype))


@tf.keras.utils.register_keras_serializable(package="merlin_mlm_ops")
class MaskedItemLoss(tf.keras.losses.Loss):
    """Sparse categorical cross-entropy averaged over the masked positions only.

    ``y_true`` holds item ids at masked positions and ``ignore`` elsewhere (see
    :func:`mlm_targets`); ``y_pred`` holds logits ``(batch, length, n_items)``.  The result is
    the mean over masked positions, whatever Keras does with a padding mask: each position's
    loss is pre-divided by the batch's number of masked positions and the reduction is a sum,
    so a padding mask (which keeps every masked position) changes nothing.  Keras' default
    reduction would divide by the number of non-padding positions instead.

    Parameters
    ----------
    from_logits : bool, default True
        Whether ``y_pred`` are logits (else probabilities).
    ignore : int, default -1
        Label of positions that are not predicted.

    Example
    -------
    >>> import tensorflow as tf
    >>> y_true = mlm_targets([[3, 1, 2]], [[True, False, False]])
    >>> logits = tf.math.log([[[0.1, 0.1, 0.1, 0.7], [0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1]]])
    >>> round(float(MaskedItemLoss()(y_true, logits)), 4)  # -log(0.7): only position 0 counts
    0.3567
    """

    def __init__(self, from_logits=True, ignore=IGNORE_LABEL, name="masked_item_loss", **kwargs):
        kwargs["reduction"] = tf.keras.losses.Reduction.SUM
        super().__init__(name=name, **kwargs)
        self.from_logits, self.ignore = from_logits, ignore

    def call(self, y_true, y_pred):
        y_true = tf.cast(y_true, tf.int64)
        target = tf.not_equal(y_true, self.ignore)
        labels = tf.where(target, y_true, tf.zeros_like(y_true))
        per_position = tf.keras.losses.sparse_categorical_crossentropy(labels, y_pred, from_logits=self.from_logits)
        weight = tf.cast(target, per_position.dtype)
        return per_position * weight / tf.maximum(tf.reduce_sum(weight), 1.0)

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        return {**config, "from_logits": self.from_logits, "ignore": self.ignore}
