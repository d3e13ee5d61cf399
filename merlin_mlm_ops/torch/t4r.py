"""Transformers4Rec's masked-LM trained on the ETL mask instead of its own random draw.

Transformers4Rec (T4R) draws the masked-LM mask inside the model
(``transformers4rec.torch.masking.MaskedLanguageModeling._compute_masked_targets``: a
``torch.bernoulli`` draw, then ``torch.multinomial`` steps). Two small subclasses replace that draw
by the mask column that :class:`merlin_mlm_ops.MaskRandom` wrote, in training only:

- :class:`PrecomputedMaskedLanguageModeling` (registered with T4R's masking registry as
  ``"mlm_precomputed"``): in training, its labels are the item ids where the ETL mask is set;
  evaluation (last item) and inference (a [MASK] appended) are ``MaskedLanguageModeling``'s own.
- :class:`PrecomputedMaskFeatures`, a ``TabularSequenceFeatures`` whose ``forward`` hands the
  batch's mask column to that masking (T4R passes only the embeddings and item ids to masking).

:func:`t4r_schema` prepares the ETL's output schema for T4R; :func:`bert4rec` builds T4R's BERT4Rec on
either masking. Written against T4R 23.08 (the
merlin-pytorch:23.08 container's) and checked on 23.12.
"""
from __future__ import annotations

import torch
from merlin.schema import Tags
from transformers4rec.torch.features.sequence import TabularSequenceFeatures
from transformers4rec.torch.masking import MaskedLanguageModeling, MaskingInfo, masking_registry

from merlin_mlm_ops.tags import MASK_TAG
from merlin_mlm_ops.torch.layers import as_bool_mask, check_mask_on_items, dense_list_column

__all__ = ["PrecomputedMaskedLanguageModeling", "PrecomputedMaskFeatures", "bert4rec", "t4r_schema", "MASK_TAG"]


def _mask_column_of(schema, required=True):
    names = [col.name for col in schema if MASK_TAG in col.tags]
    if len(names) > 1 or (required and not names):
        raise ValueError(f"cannot tell the mask column: {len(names)} columns of the schema carry the tag "
                         f"'{MASK_TAG}' ({names}); pass mask_column=")
    return names[0] if names else None


def t4r_schema(schema, max_sequence_length, mask_column=None):
    """The ETL output schema made ready for T4R's ``from_schema`` and ``MerlinDataLoader``.

    - round-trips it through JSON, as T4R does with schema files: a schema built in memory (e.g. with
      ``ColumnSchema.create_categorical``) holds ``mappingproxy`` properties that T4R's schema copy
      cannot handle (T4R issue #727);
    - gives every list column ``value_count`` max ``max_sequence_length`` (T4R sizes its modules from it)
      and the tag ``Tags.LIST`` (T4R's loader pads exactly those columns), the mask column included;
    - keeps the mask's bool dtype (lost in the JSON round trip). It has no ``CATEGORICAL`` tag: T4R builds no embedding for it.

    Parameters
    ----------
    schema : merlin.schema.Schema
        E.g. ``workflow.output_schema`` of ``Categorify -> TagAsItemID -> MaskRandom``.
    max_sequence_length : int
        Length to which T4R pads (and its loader truncates) the sequences.
    mask_column : str, optional
        Default: the one column tagged ``"mlm_mask"``, if any (evaluation data has none).
    """
    import merlin.dtypes as md
    from merlin.schema.io.tensorflow_metadata import TensorflowMetadata

    if not isinstance(max_sequence_length, int) or max_sequence_length < 1:
        raise ValueError(f"max_sequence_length must be a positive int, got {max_sequence_length!r}")
    mask_column = mask_column or _mask_column_of(schema, required=False)
    if mask_column is not None and mask_column not in schema.column_names:
        raise ValueError(f"mask column '{mask_column}' is not in the schema (columns: {schema.column_names})")
    out = TensorflowMetadata.from_json(TensorflowMetadata.from_merlin_schema(schema).to_json()).to_merlin_schema()
    for col in out:
        if col.is_list:
            props = {**col.properties, "value_count": {"min": 0, "max": max_sequence_length}}
            out[col.name] = col.with_properties(props).with_tags([Tags.LIST])
    if mask_column is not None:
        out[mask_column] = out[mask_column].with_dtype(md.boolean)
    return out


@masking_registry.register_with_multiple_names("mlm_precomputed")
class PrecomputedMaskedLanguageModeling(MaskedLanguageModeling):
    """``MaskedLanguageModeling`` whose training mask is the ETL's, handed over by :class:`PrecomputedMaskFeatures`.

    In training the labels are the item ids where the mask is set, and those positions get the
    [MASK] embedding; nothing is drawn (``mlm_probability`` is unused). The mask must be 0/1 (or
    bool), shaped like the padded item ids, and never set on padding; otherwise ``ValueError``
    naming the column. Evaluation and inference are ``MaskedLanguageModeling``'s.
    Parameters as ``MaskedLanguageModeling`` (``hidden_size``, ``padding_idx=0``,
    ``eval_on_last_item_seq_only=True``).
    """

    #: Set by :class:`PrecomputedMaskFeatures` before each training forward: ``(column, tensor)``.
    etl_mask = None

    def _compute_masked_targets(self, item_ids, training=False, testing=False):
        if not training:
            return super()._compute_masked_targets(item_ids, training=training, testing=testing)
        handed, self.etl_mask = self.etl_mask, None
        if handed is None:
            raise ValueError("PrecomputedMaskedLanguageModeling got no ETL mask for this training batch: build "
                             "the inputs with PrecomputedMaskFeatures and keep the mask column in the batch "
                             "(t4r_schema tags it for T4R's loader)")
        column, mask = handed
        mask = as_bool_mask(mask, column).to(item_ids.device)
        if mask.shape != item_ids.shape:
            raise ValueError(f"mask column '{column}' has shape {tuple(mask.shape)} but the padded item ids have "
                             f"{tuple(item_ids.shape)}")
        check_mask_on_items(item_ids, mask, self.padding_idx, column)
        labels = torch.where(mask, item_ids, torch.full_like(item_ids, self.padding_idx))
        return MaskingInfo(mask, labels)


class PrecomputedMaskFeatures(TabularSequenceFeatures):
    """``TabularSequenceFeatures`` that hands the batch's ETL mask column to its masking in training.

    Build it with :meth:`from_schema` (T4R's, plus ``mask_column``; ``masking`` defaults to
    ``"mlm_precomputed"``). The mask column gets no embedding and is no feature of the model.
    In evaluation and inference the mask column is not needed (and ignored if present).

    Example
    -------
    ``inputs = PrecomputedMaskFeatures.from_schema(schema, max_sequence_length=20, d_output=64)``
    then, as in T4R, ``tr.TransformerBlock(config, masking=inputs.masking)`` and
    ``tr.NextItemPredictionTask(weight_tying=True)``.
    """

    mask_column = "item_ids_mask"

    @classmethod
    def from_schema(cls, schema, mask_column=None, masking="mlm_precomputed", **kwargs):
        """T4R's ``TabularSequenceFeatures.from_schema`` on the schema without the mask column.

        ``mask_column`` defaults to the column tagged ``"mlm_mask"``; ``masking`` to
        :class:`PrecomputedMaskedLanguageModeling`, built with T4R's hidden size (other keyword
        arguments, e.g. ``eval_on_last_item_seq_only``, reach it as in T4R).
        """
        mask_column = mask_column or _mask_column_of(schema)
        features = schema.select_by_name([name for name in schema.column_names if name != mask_column])
        output = super().from_schema(features, masking=masking, **kwargs)
        output.mask_column = mask_column
        return output

    def forward(self, inputs, training=False, testing=False, **kwargs):
        if training and isinstance(self.masking, PrecomputedMaskedLanguageModeling):
            mask, _ = dense_list_column(inputs, self.mask_column, 0, "mask")
            self.masking.etl_mask = (self.mask_column, mask)
        return super().forward(inputs, training=training, testing=testing, **kwargs)


def bert4rec(schema, max_sequence_length, d_model=64, n_head=2, n_layer=2, dropout=0.1, precomputed=True,
             mlm_probability=0.2, mask_column=None):
    """T4R's BERT4Rec (``BertConfig`` block, masked-LM, next-item task with weight tying) on either masking.

    Parameters
    ----------
    schema : merlin.schema.Schema
        From :func:`t4r_schema`: the item id column (tags ``ITEM_ID``, ``CATEGORICAL``, ``LIST``) and,
        for ``precomputed=True``, the mask column.
    max_sequence_length : int
        Sequence length the model is built for.
    d_model, n_head, n_layer, dropout : default 64, 2, 2, 0.1
        The transformer's size and dropout; its feed-forward layer is ``4 * d_model`` wide, as BERT4Rec's
        (``transformers4rec.config.transformer.BertConfig``: ``tr.BertConfig`` is not exported in T4R 23.x).
    precomputed : bool, default True
        True: trained on the ETL mask (:class:`PrecomputedMaskFeatures`); False: T4R's own
        ``MaskedLanguageModeling`` draw with ``mlm_probability`` (the mask column, if in the schema,
        is left out).
    mlm_probability : float, default 0.2
        T4R's draw probability (``precomputed=False`` only).
    mask_column : str, optional
        For ``precomputed=True``; default: the column tagged ``"mlm_mask"``.
    """
    import transformers4rec.torch as tr
    from transformers4rec.config.transformer import BertConfig

    if precomputed:
        inputs = PrecomputedMaskFeatures.from_schema(schema, mask_column=mask_column,
                                                     max_sequence_length=max_sequence_length, d_output=d_model)
    else:
        features = schema.select_by_name([c.name for c in schema if MASK_TAG not in c.tags])
        inputs = tr.TabularSequenceFeatures.from_schema(features, max_sequence_length=max_sequence_length,
                                                        d_output=d_model, masking="mlm",
                                                        mlm_probability=mlm_probability)
    # T4R 23.x's BertConfig.build hands ``dropout`` to HuggingFace under a name BertConfig ignores
    # (its dropout stays 0.1), and keeps BERT's 3072-wide feed-forward layer: set both as BERT4Rec does.
    config = BertConfig.build(d_model=d_model, n_head=n_head, n_layer=n_layer, total_seq_length=max_sequence_length,
                              hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
                              intermediate_size=4 * d_model)
    body = tr.SequentialBlock(inputs, tr.TransformerBlock(config, masking=inputs.masking))
    return tr.Model(tr.Head(body, tr.NextItemPredictionTask(weight_tying=True), inputs=inputs))
