"""merlin-models integration: train a BERT4Rec on the mask written by MaskRandom.

:class:`SequenceMaskPrecomputed` is a drop-in for ``mm.SequenceMaskRandom`` in
``model.fit(loader, pre=...)``: it reads the mask column instead of drawing one, sets the same
Keras masks on inputs and targets, and configures the transformer block for masked training
the way ``SequenceMaskRandom`` does.  Evaluation (``pre=mm.SequenceMaskLast(...)``) and
inference work unchanged.

Importing this module extends ``mm.Model`` in three respects:

- ``fit`` with a :class:`SequenceMaskPrecomputed` ``pre``: merlin-models narrows a Loader to the
  model's input features before training, which would drop the mask column; here the columns
  tagged ``mlm_mask`` are kept for the ``pre`` (which removes them before the model sees its
  inputs), a Loader that was already peeked is restarted first, and an unbuilt model is built
  on a batch without them.
- ``fit``/``evaluate``/``predict`` with any ``pre`` leave no checkpoint dependency on it, so a
  saved model does not carry the last ``pre`` (compat fix 1 in :mod:`merlin_mlm_ops.tf.compat`).
- A call whose ``pre`` equals the previous call's (:func:`~merlin_mlm_ops.tf.compat.trace_key`)
  reuses the step function traced then instead of tracing it again; every retrace costs memory
  that is never given back (compat fix 2).

The last two are the dependency fix ``merlin-models-pre`` of :mod:`merlin_mlm_ops.compat`: active
only on merlin-models 23.8.x / 23.12.x and never with ``MERLIN_MLM_OPS_NO_COMPAT=1``;
:func:`undo` puts merlin-models' own methods back.  The first is this class's hook, not a fix:
it acts only for a :class:`SequenceMaskPrecomputed` ``pre`` and stays under the opt-out.
Importing this module applies no merlin-core fix.
"""
from __future__ import annotations

import contextlib
import functools

import merlin.models.tf as mm
import tensorflow as tf
from merlin.dataloader.tensorflow import Loader
from merlin.models.tf.transforms.sequence import (
    ExtractMaskFromTargets,
    ReplaceMaskedEmbeddings,
    SequenceMaskLastInference,
    SequenceTargetAsInput,
)
from merlin.models.utils import schema_utils
from merlin.schema import Schema, Tags

from merlin_mlm_ops.adapters.names import SUFFIXES
from merlin_mlm_ops.compat.registry import disabled_by_env, version_matches
from merlin_mlm_ops.tags import INPUT_TAG, MASK_TAG
from merlin_mlm_ops.tf.compat import CompiledFunctions, del_untracked, forget_attribute, set_untracked
from merlin_mlm_ops.tf.layers import list_column

_TARGET_TAGS = [Tags.TARGET, Tags.BINARY_CLASSIFICATION, Tags.REGRESSION]


def _mask_keys(name):
    return {name, *(name + s for s in SUFFIXES)}


@tf.keras.utils.register_keras_serializable(package="merlin_mlm_ops")
class SequenceMaskPrecomputed(SequenceTargetAsInput):
    """Masked-item-modelling targets from a precomputed mask column (a drop-in for SequenceMaskRandom).

    The targets are the item ids; the positions to predict are those where the mask column
    (written by :class:`merlin_mlm_ops.MaskRandom`) is True.  The mask is attached as the Keras
    mask of the sequence inputs and of the target, exactly as ``mm.SequenceMaskRandom`` does, so
    merlin-models' [MASK] embedding (``ReplaceMaskedEmbeddings``) and masked loss apply.  The
    mask column is consumed here and never reaches the model as a feature.

    Parameters
    ----------
    schema : Schema
        Schema of the sequence inputs (as for ``SequenceMaskRandom``); it may include the mask
        column, which is then found by its ``mlm_mask`` tag.
    target : str, Tags or ColumnSchema
        The item-id sequence column that is both input and target.
    mask_column : str or None, default None
        The mask column; None finds the one column tagged ``mlm_mask`` in ``schema``, or else
        uses ``<target>_mask``.
    transformer : TransformerBlock or None, default None
        The transformer block to configure for masked training (as in ``SequenceMaskRandom``).
    input_column : str or None, default None
        The input-ids column of ``MaskRandom(replace=...)`` (BERT's 80/10/10); None finds the one
        column tagged ``mlm_input`` in ``schema``, if any.  With it, the model's item-id input is
        that column, the [MASK] embedding goes only where the input id is ``pad_id`` among the
        masked positions (:class:`ReplaceMaskTokenEmbeddings`), and the loss still covers every
        masked position.  Without it every masked position is [MASK], as with ``SequenceMaskRandom``.
    pad_id : int, default 0
        The id that marks [MASK] positions in the input column (``MaskRandom``'s ``pad_id``).

    Example
    -------
    ``model.fit(loader, pre=SequenceMaskPrecomputed(schema, "item_ids", transformer=bert))``, then
    ``model.evaluate(loader, pre=mm.SequenceMaskLast(seq_schema, "item_ids", transformer=bert))``.
    """

    _mlm_stateless_pre = True  # compat.STATELESS_PRE: equal instances trace the same step (compat.trace_key)

    def __init__(self, schema: Schema, target, mask_column=None, transformer=None, input_column=None, pad_id=0,
                 **kwargs):
        tagged = schema.select_by_tag(MASK_TAG).column_names
        tagged_input = schema.select_by_tag(INPUT_TAG).column_names
        seq_schema = schema.excluding_by_tag(MASK_TAG).excluding_by_tag(INPUT_TAG)
        super().__init__(seq_schema, target, transformer=transformer, **kwargs)
        if mask_column is None:
            if len(tagged) > 1:
                raise ValueError(f"several columns are tagged '{MASK_TAG}' ({tagged}); pass mask_column")
            mask_column = tagged[0] if tagged else f"{self.target_name}_mask"
        if input_column is None and tagged_input:
            if len(tagged_input) > 1:
                raise ValueError(f"several columns are tagged '{INPUT_TAG}' ({tagged_input}); pass input_column")
            input_column = tagged_input[0]
        self.mask_column = mask_column
        self.input_column = input_column
        self.pad_id = pad_id

    def _mask(self, inputs, ids):
        """The mask column as a 2-D bool RaggedTensor aligned with ``ids``."""
        name = self.mask_column
        mask = list_column(inputs, name, "mask", hint="is the Loader's schema narrowed to the model's features?")
        if not isinstance(mask, tf.RaggedTensor):
            raise TypeError(f"mask column '{name}' must be a ragged list column, got {type(mask).__name__}")
        if mask.dtype != tf.bool:
            if not mask.dtype.is_integer:
                raise TypeError(f"mask column '{name}' must be bool, got {mask.dtype.name}")
            mask = tf.cast(mask, tf.bool)  # the dataloader ships bool lists as int8
        id_lengths = ids.row_lengths()
        tf.debugging.assert_equal(mask.row_lengths(), tf.cast(id_lengths, mask.row_splits.dtype), message=(
            f"mask column '{name}' row lengths differ from target column '{self.target_name}'"))
        return tf.RaggedTensor.from_row_splits(mask.flat_values, tf.cast(mask.row_splits, ids.row_splits.dtype),
                                               validate=False)

    def _dropped(self):
        drop = _mask_keys(self.mask_column)
        return drop | _mask_keys(self.input_column) if self.input_column else drop

    def _features(self, inputs):
        drop = self._dropped()
        return {k: v for k, v in inputs.items() if k not in drop}

    def _input_ids(self, inputs, ids):
        """The 80/10/10 input column as a 2-D RaggedTensor aligned with ``ids`` (2-D), in its dtype."""
        name = self.input_column
        seen = list_column(inputs, name, "input id", hint="is the Loader's schema narrowed to the model's features?")
        if not isinstance(seen, tf.RaggedTensor):
            raise TypeError(f"input column '{name}' must be a ragged list column, got {type(seen).__name__}")
        tf.debugging.assert_equal(seen.row_lengths(), tf.cast(ids.row_lengths(), seen.row_splits.dtype), message=(
            f"input column '{name}' row lengths differ from target column '{self.target_name}'"))
        return tf.RaggedTensor.from_row_splits(tf.cast(seen.flat_values, ids.dtype),
                                               tf.cast(seen.row_splits, ids.row_splits.dtype), validate=False)

    def _token_mask(self, mask, seen):
        """The [MASK] positions of an input column: ``mask`` set and the input id ``seen`` is ``pad_id``."""
        return mask.with_flat_values(mask.flat_values & tf.equal(seen.flat_values, tf.cast(self.pad_id, seen.dtype)))

    def call(self, inputs, targets=None, training=False, testing=False, **kwargs):
        features = self._features(inputs)
        self._check_seq_inputs_targets(features)
        new_target = tf.identity(features[self.target_name])
        if self.input_column is not None:
            # The model embeds the corrupted ids; the target stays the true items.
            ids = features[self.target_name]
            flat_ids = ids.merge_dims(1, 2) if ids.shape.rank == 3 else ids
            seen = self._input_ids(inputs, flat_ids)
            features[self.target_name] = ids.with_flat_values(
                tf.reshape(seen.flat_values, tf.shape(ids.flat_values)))
            # merlin-models' input blocks lose the inputs' Keras mask on the way to the transformer,
            # where ExtractMaskFromTargets then takes the target's (every masked position) and the
            # model would see [MASK] at all of them: the [MASK] positions travel on the target.
            new_target._mlm_mask_tokens = self._token_mask(self._mask(inputs, flat_ids), seen)
        if targets is None:
            targets = {self.target_name: new_target}
        elif isinstance(targets, dict):
            targets[self.target_name] = new_target
        else:
            raise ValueError("Targets should be None or a dict of tensors")
        return features, targets

    def compute_mask(self, inputs, mask=None):
        ids = inputs[self.target_name]
        if ids.shape.rank == 3:
            ids = ids.merge_dims(1, 2)
        target_mask = self._mask(inputs, ids)
        # [MASK] only where the input id is pad_id; ReplaceMaskTokenEmbeddings then hands the
        # target mask (every masked position) on to the transformer's output and the loss.
        inputs_mask = (target_mask if self.input_column is None
                       else self._token_mask(target_mask, self._input_ids(inputs, ids)))
        # Keys must be exactly those `call` returns: Keras pairs masks with outputs by key.
        inputs_mask = {k: (inputs_mask if k in self.schema.column_names else None) for k in self._features(inputs)}
        return inputs_mask, {self.target_name: target_mask}

    def configure_for_train(self):
        """Set the transformer's masking blocks as SequenceMaskRandom does (once: a second
        ``fit`` must reuse the trained [MASK] embedding, not create a new variable)."""
        if self.transformer is None:
            return
        pre = getattr(self.transformer, "masking_pre", None)
        replace = ReplaceMaskTokenEmbeddings if self.input_column is not None else ReplaceMaskedEmbeddings
        if pre is not None and any(isinstance(layer, ReplaceMaskedEmbeddings) for layer in pre.layers):
            if not any(isinstance(layer, replace) for layer in pre.layers):
                raise ValueError("this transformer block was trained with every masked position as [MASK]; "
                                 "80/10/10 (input_column) needs a block configured by SequenceMaskPrecomputed "
                                 "with an input_column from its first fit")
            return
        from merlin.models.tf.transformers.transforms import (
            TransformerInferenceHiddenState,
            TransformerOutputToRagged,
        )

        self.transformer.masking_post = mm.SequentialBlock(
            [TransformerOutputToRagged(), TransformerInferenceHiddenState()])
        self.transformer.masking_pre = mm.SequentialBlock(
            [SequenceMaskLastInference(), ExtractMaskFromTargets(), replace()])

    def configure_for_test(self):
        if self.transformer is not None and getattr(self.transformer, "masking_pre", None) is None:
            raise ValueError("Train with SequenceMaskPrecomputed (or SequenceMaskRandom) before evaluating "
                             "with it: the transformer has no masking blocks yet")

    def attach(self, model, loader):
        """Give ``loader`` the model's features, its targets and the mask column, and build
        ``model`` without the mask (called by ``fit`` before training, in place of
        merlin-models' own narrowing of the Loader, which would drop the mask column)."""
        full = loader.input_schema
        if self.mask_column not in full.column_names:
            full = loader.dataset.schema
            if self.mask_column not in full.column_names:
                raise ValueError(f"mask column '{self.mask_column}' is not in the Loader's dataset "
                                 f"(columns: {full.column_names})")
        mask = self._dropped()
        targets = loader.input_schema.select_by_tag(_TARGET_TAGS)
        if model.input_schema is None:
            # as merlin-models binds an unbuilt model to the Loader's features, less the mask
            features = loader.output_schema.excluding_by_tag(_TARGET_TAGS)
            model.schema = features.excluding_by_name([c for c in features.column_names if c in mask])
        if not loader.transforms:
            wanted = model.input_schema + targets + full.select_by_name(
                [self.mask_column] + ([self.input_column] if self.input_column else []))
            if set(wanted.column_names) != set(loader.input_schema.column_names):
                # A peeked Loader refuses a new schema; Keras restarts it from the first batch anyway.
                loader.stop()
                loader.input_schema = wanted
        if not model.built:
            features, _ = loader.peek()
            model({k: v for k, v in features.items() if k not in mask})

    def get_config(self):
        config = {**super().get_config(), "mask_column": self.mask_column}
        if self.input_column is not None:  # a default pre's config is unchanged
            config.update(input_column=self.input_column, pad_id=self.pad_id)
        return config

    @classmethod
    def from_config(cls, config):
        from merlin.models.tf.utils import tf_utils

        config = tf_utils.maybe_deserialize_keras_objects(config, ["pre", "post", "aggregation"])
        schema = schema_utils.tensorflow_metadata_json_to_schema(config.pop("schema"))
        target = config.pop("target")
        return cls(schema, target, **config)


#: The merlin-models versions fixes 1 and 2 were written for (installed version prefixes).
WRITTEN_FOR = ("23.8.", "23.12.")
_METHODS = ("fit", "evaluate", "predict", "_maybe_set_schema")
_originals: dict = {}  # mm.Model's own methods while ours are installed
_fixes = {"on": False}


def apply() -> bool:
    """Install the hooks on ``mm.Model`` (idempotent) and turn fixes 1 and 2 on where allowed.

    Returns True when the fixes are active: merlin-models is 23.8.x or 23.12.x and
    ``MERLIN_MLM_OPS_NO_COMPAT`` is not set.  Done on importing this module.
    """
    _install()
    _fixes["on"] = not disabled_by_env() and version_matches("merlin-models", WRITTEN_FOR)
    return _fixes["on"]


def is_active() -> bool:
    """True while fixes 1 and 2 act in ``mm.Model.fit``/``evaluate``/``predict``."""
    return _fixes["on"] and bool(_originals)


def undo() -> None:
    """Put merlin-models' own ``fit``/``evaluate``/``predict``/``_maybe_set_schema`` back (tests compare
    against them); :class:`SequenceMaskPrecomputed` then needs :func:`apply` again to train."""
    for name, method in _originals.items():
        setattr(mm.Model, name, method)
    _originals.clear()
    _fixes["on"] = False


def _fixed(model, function_name, pre):
    """Fix 2 around one call while the fixes are on."""
    return CompiledFunctions.reuse(model, function_name, pre) if _fixes["on"] else contextlib.nullcontext()


@tf.keras.utils.register_keras_serializable(package="merlin_mlm_ops")
class ReplaceMaskTokenEmbeddings(ReplaceMaskedEmbeddings):
    """``ReplaceMaskedEmbeddings`` for 80/10/10: [MASK] at the [MASK] positions only, then the
    target's mask on the output.

    :class:`SequenceMaskPrecomputed` with an ``input_column`` hands the [MASK] positions over on the
    target (``_mlm_mask_tokens``: the inputs' own Keras mask does not reach the transformer in
    merlin-models, whose ``ExtractMaskFromTargets`` would then put [MASK] at every masked
    position) and sets the target's mask to every masked position; merlin-models' transformer output
    (``TransformerOutputToRagged``) keeps the positions of the mask it is handed, so handing on
    the target's mask makes predictions, and the loss, cover every masked position.  Without
    targets (inference) or with equal masks (evaluation) it acts as ``ReplaceMaskedEmbeddings``.
    """

    def call(self, inputs, targets=None):
        tokens = _target_attribute(targets, "_mlm_mask_tokens")
        if tokens is not None:
            inputs._keras_mask = tokens
        outputs = super().call(inputs)
        target_mask = _target_mask(targets)
        if target_mask is not None:
            outputs._keras_mask = target_mask
        return outputs


def _target_mask(targets):
    """The Keras mask of the single target (a dict of one, or a tensor), else None."""
    return _target_attribute(targets, "_keras_mask")


def _target_attribute(targets, name):
    """Attribute ``name`` of the single target (a dict of one, or a tensor), else None."""
    if isinstance(targets, dict):
        return getattr(next(iter(targets.values())), name, None) if len(targets) == 1 else None
    return getattr(targets, name, None)


def _install():
    """Extend mm.Model.fit / evaluate / predict / _maybe_set_schema (see the module docstring)."""
    model_cls = mm.Model
    if _originals:
        return
    _originals.update({name: getattr(model_cls, name) for name in _METHODS})
    original_fit = model_cls.fit
    original_set_schema = model_cls._maybe_set_schema

    def fit(self, *args, pre=None, **kwargs):
        # Kept untracked: Keras would save a tracked pre with the model.
        set_untracked(self, "_mlm_precomputed_pre", pre if isinstance(pre, SequenceMaskPrecomputed) else None)
        try:
            with _fixed(self, "train_function", pre):
                return original_fit(self, *args, pre=pre, **kwargs)
        finally:
            del_untracked(self, "_mlm_precomputed_pre")
            if _fixes["on"]:
                forget_attribute(self, "train_pre")

    def _maybe_set_schema(self, maybe_loader):
        pre = getattr(self, "_mlm_precomputed_pre", None)
        if pre is not None and isinstance(maybe_loader, Loader):
            pre.attach(self, maybe_loader)
        else:
            original_set_schema(self, maybe_loader)

    fit.__doc__ = original_fit.__doc__
    model_cls.fit = fit
    model_cls._maybe_set_schema = _maybe_set_schema
    for method, role in (("evaluate", "test"), ("predict", "predict")):
        setattr(model_cls, method, _with_fixes(getattr(model_cls, method), role))


def _with_fixes(method, role):
    """``method`` (evaluate or predict) reusing its compiled function for an equal ``pre`` and
    leaving no checkpoint dependency on its ``pre`` (compat fixes 2 and 1)."""
    @functools.wraps(method)
    def wrapped(self, *args, pre=None, **kwargs):
        try:
            with _fixed(self, f"{role}_function", pre):
                return method(self, *args, pre=pre, **kwargs)
        finally:
            if _fixes["on"]:
                forget_attribute(self, f"{role}_pre")

    return wrapped


apply()
