"""MaskRandom: BERT4Rec / masked-item-modelling masks, drawn once in the ETL."""
from __future__ import annotations

import secrets

from merlin_mlm_ops.masking import engine
from merlin_mlm_ops.masking.params import random_params
from merlin_mlm_ops.ops.base import SequenceMaskOperator
from merlin_mlm_ops.ops.bert import BertRulesMixin


class MaskRandom(BertRulesMixin, SequenceMaskOperator):
    """Writes a random boolean mask beside item sequences, for masked item modelling.

    The mask marks the positions a BERT4Rec model must predict: at training time the
    [MASK] embedding replaces them and the loss sees only them.  Drawing it in the ETL makes
    it reproducible, inspectable, and identical on CPU and GPU.

    Rules, for a row with ``n`` eligible positions:

    - A position is eligible unless its id equals ``pad_id``.
    - Each eligible position is drawn with probability ``prob``.
    - At least ``min(min_masked, n - 1)`` positions are masked when ``n >= 2`` (the extra
      ones uniformly among the undrawn eligible positions), and never all ``n``: one stays
      visible.  A row with one eligible position is masked when ``min_masked >= 1`` (else
      with probability ``prob``).
    - At most ``max_masked`` positions are masked (BERT's ``max_predictions_per_seq``), kept
      uniformly among those drawn.
    - Empty rows give empty masks, null rows null masks; no row, value or order changes.
    - The mask is a pure function of ``(seed, epoch, row key, position)`` (a counter-based
      hash, :mod:`merlin_mlm_ops.masking.hashing`), so a recomputed partition, the same rows on a GPU,
      or a reloaded workflow give the same bits.  With ``key``, the row key is that column's
      value and masks do not depend on partitioning or row order.  Without ``key``, the row
      key is a hash of the row's item ids (first selected column) and of the row's ordinal
      within its partition: masks are reproducible for the same input and partitioning.

    Outputs: the selected list columns, unchanged, and a bool list column with the same row
    lengths, named ``<first selected column>_mask`` (or ``mask_column``), tagged
    :data:`merlin_mlm_ops.MASK_TAG`.  Several selected columns are aligned sequences of one
    session (ids, categories, timestamps); one mask serves them all, and rows whose lengths
    differ between them raise a ValueError naming the columns and the first such row.

    Parameters
    ----------
    prob : float, default 0.2
        Probability that an eligible position is drawn, in (0, 1].
    seed : int or None, default None
        Seed of the draw, an int in [0, 2**64).  ``None`` draws one at construction and
        stores it (``op.seed``), so a saved and reloaded workflow reproduces its masks.
    key : str or None, default None
        A column with one integer or string per row (a session id) that keys the draw.  It is
        read, not output.  Nulls are an error.
    epoch : int, default 0
        Selects an independent draw of the same data: ``epoch=k`` for the k-th masked copy
        (BERT4Rec trains on 10).
    min_masked : int, default 1
        Minimum masked positions per row (capped at ``n - 1``, see the rules).
    max_masked : int or None, default None
        Maximum masked positions per row; ``None`` for no cap.  Must be >= ``min_masked``.
    pad_id : int or None, default 0
        Id of padding positions, never masked (0 is Categorify's padding).  ``None``: all
        positions are eligible.
    mask_column : str or None, default None
        Name of the mask column.
    last_ratio : float, default 0.0
        Share of rows that take :class:`MaskLast`'s mask (only the last eligible item) instead of
        the random one: BERT4Rec's last-item training copies, as RecBole's ``ft_ratio``.  Each
        row's choice is a pure function of ``(seed, epoch, row key)`` on a stream of its own.
    replace : tuple or None, default None
        ``(mask, random, keep)`` shares for BERT's 80/10/10, e.g. ``(0.8, 0.1, 0.1)``: among the
        masked positions of a random-mask row, which the model sees as [MASK], as a random item,
        or as their own item.  Adds the input column (below).  ``None``: always [MASK] and no
        input column (the masks are bit for bit those without the option).
    vocab : (int, int) or None, default None
        ``[low, high)``, the ids random items are drawn from, uniformly (never ``pad_id``).
        ``None``: the item column's schema domain; after Categorify that starts at its first
        real id (past the padding, null and OOV ids), else at the domain's ``min``.
    item_counts : array of int or None, default None
        Draw random items by popularity instead: item ``i`` with probability proportional to
        ``item_counts[i]`` (``pad_id``'s count is taken as 0).
    input_column : str or None, default None
        Name of the input column written when ``replace`` is set; ``None`` names it
        ``<first selected column>_input``.

    Example
    -------
    >>> import pandas as pd, nvtabular as nvt
    >>> from merlin.io import Dataset
    >>> from merlin_mlm_ops import MaskRandom
    >>> df = pd.DataFrame({"session": [1, 2], "item_ids": [[5, 6, 7, 8], [9, 3]]})
    >>> wf = nvt.Workflow(["item_ids"] >> MaskRandom(prob=0.5, seed=7, key="session"))
    >>> out = wf.fit_transform(Dataset(df, cpu=True)).to_ddf().compute()
    >>> out.columns.tolist()
    ['item_ids', 'item_ids_mask']
    >>> [m.tolist() for m in out["item_ids_mask"]]
    [[True, False, False, False], [True, False]]
    """

    def __init__(self, prob=0.2, *, seed=None, key=None, epoch=0, min_masked=1, max_masked=None,
                 pad_id=0, mask_column=None, last_ratio=0.0, replace=None, vocab=None, item_counts=None,
                 input_column=None):
        super().__init__(pad_id=pad_id, mask_column=mask_column)
        if seed is None:
            seed = secrets.randbits(63)
        checked = random_params(prob, seed=seed, key=key, epoch=epoch, min_masked=min_masked,
                                max_masked=max_masked)
        self.prob = checked["prob"]
        self.seed = checked["seed"]
        self.key = checked["key"]
        self.epoch = checked["epoch"]
        self.min_masked = checked["min_masked"]
        self.max_masked = checked["max_masked"]
        self.set_bert_options(last_ratio=last_ratio, replace=replace, vocab=vocab, item_counts=item_counts,
                              input_column=input_column)

    @property
    def key_column(self):
        return self.key

    def with_epoch(self, epoch):
        """A copy of this operator that draws epoch ``epoch`` (same seed and rules, and the
        vocabulary it took from the schema, which no parameter holds)."""
        op = type(self)(**{**self._params(), "epoch": epoch})
        op._schema_vocab = self._schema_vocab
        return op

    def compute_mask(self, flat, df, adapter):
        row_keys = None
        if self.key is not None:
            kind, data, offsets = adapter.row_keys(df[self.key], self.key, self.label)
            row_keys = engine.row_keys_from_column(kind, data, offsets, engine.array_module(flat.offsets))
        if self.uses_bert_rules:
            return self.compute_bert_mask(flat, df, row_keys)
        return engine.random_mask(flat.values, flat.offsets, row_keys, seed=self.seed,
                                  epoch=self.epoch, prob=self.prob, min_masked=self.min_masked,
                                  max_masked=self.max_masked, pad_id=self.pad_id)

    def _params(self):
        return {"prob": self.prob, "seed": self.seed, "key": self.key, "epoch": self.epoch,
                "min_masked": self.min_masked, "max_masked": self.max_masked,
                **super()._params(), **self.bert_params()}
