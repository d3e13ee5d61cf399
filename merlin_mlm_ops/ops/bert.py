"""MaskRandom's BERT4Rec options: last-item rows (``last_ratio``) and 80/10/10 (``replace``).

Kept apart from :mod:`merlin_mlm_ops.ops.mask_random` so that the default operator reads as
before; the rules themselves are in :mod:`merlin_mlm_ops.masking.rules`.

With ``replace`` the operator writes one more list column, the **input ids** (named
``<item column>_input``, tagged :data:`INPUT_TAG`), beside the unchanged item ids and the mask:

- visible and "keep" positions hold their own item id, "random" positions a drawn item id,
  and [MASK] positions hold ``pad_id``.  Padding is never masked and never drawn, so a
  masked position whose input is ``pad_id`` is exactly a [MASK] position: no code column is
  needed, and the consumers (Keras, merlin-models, PyTorch) put the [MASK] vector there,
  embed the input ids everywhere else and keep the loss on every masked position.
- A code column (0 visible / 1 [MASK] / 2 random / 3 keep) would not carry the drawn ids,
  which the model needs; the input column carries both, in the form a model embeds.
"""
from __future__ import annotations

import numpy as np
from merlin.schema import ColumnSchema

from merlin_mlm_ops.adapters.names import SUFFIXES_TEXT, is_part_name
from merlin_mlm_ops.errors import MaskInputError
from merlin_mlm_ops.masking import engine, rules
from merlin_mlm_ops.masking.bert_params import check_bert_options
from merlin_mlm_ops.tags import INPUT_TAG  # noqa: F401 (re-exported: the tag of the input-ids column)

#: Categorify (NVTabular 23.08) encodes padding as 0, nulls as 1 and OOV from 2 (``num_buckets`` ids).
_CATEGORIFY_FIRST_OOV = 2


#: :func:`vocab_from_schema`'s answer for a Categorify column not fitted yet.
PENDING = "pending"


def vocab_from_schema(column: ColumnSchema):
    """``(low, high)`` of the real item ids of a column from its schema; None when the schema has
    no integer domain; :data:`PENDING` for a Categorify column whose domain is not known yet.

    ``high`` is the domain's ``max + 1``.  ``low``: after Categorify (the schema has its
    ``cat_path``) the first id past the padding, null and OOV ids; else the domain's ``min``.
    """
    domain = column.int_domain
    if domain is None or domain.max is None:
        return None
    low = int(domain.min or 0)
    categorified = "cat_path" in column.properties
    if categorified:
        buckets = column.properties.get("num_buckets")
        low = max(low, _CATEGORIFY_FIRST_OOV + (buckets if isinstance(buckets, int) and buckets > 1 else 1))
    high = int(domain.max) + 1
    if low < high:
        return low, high
    return PENDING if categorified else None


class BertRulesMixin:
    """The ``last_ratio`` / ``replace`` / ``vocab`` / ``item_counts`` / ``input_column`` options."""

    def set_bert_options(self, *, last_ratio, replace, vocab, item_counts, input_column):
        self.last_ratio, self.replace, self.vocab, self.item_counts = check_bert_options(
            last_ratio=last_ratio, replace=replace, vocab=vocab, item_counts=item_counts, pad_id=self.pad_id)
        if input_column is not None:
            if not isinstance(input_column, str) or not input_column:
                raise TypeError(f"input_column must be a non-empty str or None, got {input_column!r}")
            if is_part_name(input_column):
                raise ValueError(f"input_column {input_column!r} must not end with {SUFFIXES_TEXT}")
            if self.replace is None:
                raise ValueError("input_column names the column written under replace=...; pass replace too")
        self.input_column = input_column
        self._schema_vocab = None

    @property
    def uses_bert_rules(self):
        return self.last_ratio > 0 or self.replace is not None

    @property
    def draws_items(self):
        return self.replace is not None and self.replace[1] > 0

    def bert_params(self):
        """The options that differ from their defaults (so a default operator's repr is unchanged)."""
        params = {"last_ratio": self.last_ratio, "replace": self.replace, "vocab": self.vocab,
                  "item_counts": self.item_counts, "input_column": self.input_column}
        return {k: v for k, v in params.items() if (v != 0.0 if k == "last_ratio" else v is not None)}

    def input_name(self, names):
        """The input column's name for the selected column ``names``."""
        return self.input_column or f"{names[0]}_input"

    # -- schema -------------------------------------------------------------------------------

    def column_mapping(self, col_selector):
        mapping = super().column_mapping(col_selector)
        if self.replace is not None:
            names = list(col_selector.names)
            mapping[self.input_name(names)] = [names[0]]
        return mapping

    def compute_output_schema(self, input_schema, col_selector, prev_output_schema=None):
        names = list(col_selector.names) if col_selector else []
        if self.replace is not None and names:
            name = self.input_name(names)
            if name in names or name == self.mask_name(names) or name == self.key_column:
                raise ValueError(f"{self.label}: input column name {name!r} collides with another column; "
                                 "pass another input_column")
            if self.draws_items and self.vocab is None and self.item_counts is None \
                    and names[0] in input_schema.column_names:
                vocab = vocab_from_schema(input_schema[names[0]])
                if vocab is None:
                    raise MaskInputError(self.label, names[0], (
                        "replace=... draws random items, but the column's schema has no integer domain with a "
                        "real item id (Categorify sets one); pass vocab=(low, high) or item_counts"))
                self._schema_vocab = vocab
        return super().compute_output_schema(input_schema, col_selector, prev_output_schema)

    def compute_column_schema(self, col_name, input_schema):
        names = input_schema.column_names
        if self.replace is not None and col_name not in names and col_name == self.input_name(names):
            source = input_schema[names[0]]
            props = {k: v for k, v in source.properties.items() if k in ("domain", "embedding_sizes")}
            return ColumnSchema(col_name, dtype=source.dtype, tags=[INPUT_TAG],
                                properties=props).with_shape(source.shape)
        return super().compute_column_schema(col_name, input_schema)

    # -- transform ------------------------------------------------------------------------------

    def item_draw(self, values):
        """The :class:`rules.ItemDraw` of this operator (None when no random item is drawn, or
        :data:`PENDING`)."""
        if not self.draws_items:
            return None
        if self.item_counts is not None:
            return rules.ItemDraw(counts=self.item_counts, pad_id=self.pad_id)
        vocab = self.vocab or self._schema_vocab
        if vocab is None:
            raise ValueError(f"{self.label}: replace=... draws random items but the vocabulary is unknown: "
                             "pass vocab=(low, high) or item_counts")
        if vocab == PENDING:
            # Only NVTabular's dtype-sampling pass inside fit() gets here: it runs before the schema
            # of a Categorify fitted in the same workflow is rebuilt (that rebuild sets the domain,
            # and every real transform comes after it).  Only the output's dtypes matter there.
            return PENDING
        return rules.ItemDraw(*vocab, pad_id=self.pad_id)

    def compute_bert_mask(self, flat, df, row_keys):
        """``mask`` alone, or ``(mask, input ids)`` under ``replace`` (flat, aligned with the mask)."""
        draw = self.item_draw(flat.values)
        replace = self.replace
        if draw is PENDING:  # random shares kept (see item_draw)
            draw, replace = None, (replace[0], 0.0, replace[1] + replace[2])
        if draw is not None and not draw.uses_counts and flat.values.dtype.kind in "iu":
            top = np.iinfo(flat.values.dtype).max
            if draw.low + draw.n - (0 if draw.use_skip else 1) > top:
                raise ValueError(f"{self.label}: vocab high ({draw.low + draw.n}) does not fit the item ids' "
                                 f"dtype {flat.values.dtype}")
        mask, ids = engine.random_mask_extended(
            flat.values, flat.offsets, row_keys, seed=self.seed, epoch=self.epoch, prob=self.prob,
            min_masked=self.min_masked, max_masked=self.max_masked, pad_id=self.pad_id,
            last_ratio=self.last_ratio, replace=replace, draw=draw)
        return mask if ids is None else (mask, ids)
