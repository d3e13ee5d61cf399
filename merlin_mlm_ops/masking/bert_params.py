"""Checks of MaskRandom's BERT4Rec options: ``last_ratio``, ``replace``, ``vocab``, ``item_counts``.

Nothing here imports Merlin, so every front end (operator, job, dataframe API) rejects the
same arguments with the same words.

>>> check_replace((0.8, 0.1, 0.1))
(0.8, 0.1, 0.1)
>>> check_last_ratio(1.5)
Traceback (most recent call last):
...
ValueError: last_ratio must be in [0, 1], got 1.5
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from merlin_mlm_ops.adapters.names import SUFFIXES_TEXT, is_part_name
from merlin_mlm_ops.masking import engine, rules


def _real(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float, got {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value


def check_last_ratio(last_ratio):
    """``last_ratio`` as a float in [0, 1] (the share of rows that take the last-item mask)."""
    value = _real("last_ratio", last_ratio)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"last_ratio must be in [0, 1], got {last_ratio!r}")
    return value


def check_replace(replace):
    """``replace`` as a tuple ``(mask, random, keep)`` of shares >= 0 summing to 1, or None."""
    if replace is None:
        return None
    if isinstance(replace, (str, bytes)) or not hasattr(replace, "__len__") or len(replace) != 3:
        raise TypeError("replace must be None or three shares (mask, random item, keep), e.g. (0.8, 0.1, 0.1); "
                        f"got {replace!r}")
    shares = tuple(_real(f"replace[{i}]", x) for i, x in enumerate(replace))
    if min(shares) < 0:
        raise ValueError(f"replace shares must be >= 0, got {replace!r}")
    if abs(sum(shares) - 1.0) > 1e-9:
        raise ValueError(f"replace shares (mask, random item, keep) must sum to 1, got {replace!r} "
                         f"(sum {sum(shares)!r})")
    return shares


def check_vocab(vocab):
    """``vocab`` as ``(low, high)`` ints with ``0 <= low < high`` (random items come from ``[low, high)``), or None."""
    if vocab is None:
        return None
    if isinstance(vocab, (str, bytes)) or not hasattr(vocab, "__len__") or len(vocab) != 2:
        raise TypeError(f"vocab must be None or (low, high), the ids random items are drawn from; got {vocab!r}")
    low, high = vocab
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"vocab {name} must be an int, got {v!r}")
    if not 0 <= low < high:
        raise ValueError(f"vocab must satisfy 0 <= low < high, got ({low}, {high})")
    if high > 1 << 63:
        raise ValueError(f"vocab high must be <= 2**63, got {high}")
    return int(low), int(high)


def check_item_counts(item_counts):
    """``item_counts`` as a 1-D int64 array of non-negative weights (item ``i`` drawn in proportion to
    ``item_counts[i]``), or None."""
    if item_counts is None:
        return None
    arr = np.asarray(item_counts)
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ValueError(f"item_counts must be a non-empty 1-D array of counts per item id, got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"item_counts must hold integers (counts per item id), got dtype {arr.dtype}; "
                        "integer weights keep the draw exact and the same on CPU and GPU")
    negative = np.nonzero(arr < 0)[0]
    if negative.shape[0]:
        raise ValueError(f"item_counts must be >= 0, got {int(arr[negative[0]])} for item id {int(negative[0])}")
    if int(arr.astype(np.uint64).sum(dtype=np.uint64)) == 0 or arr.sum(dtype=np.float64) >= 2.0 ** 63:
        raise ValueError("item_counts must have a positive total below 2**63")
    return arr.astype(np.int64)


def check_bert_options(*, last_ratio, replace, vocab, item_counts, pad_id):
    """All four checked together, with the rules that tie them (see :class:`merlin_mlm_ops.MaskRandom`)."""
    last_ratio = check_last_ratio(last_ratio)
    replace = check_replace(replace)
    vocab = check_vocab(vocab)
    item_counts = check_item_counts(item_counts)
    if replace is None and (vocab is not None or item_counts is not None):
        raise ValueError("vocab and item_counts choose the random items of replace=(mask, random, keep); "
                         "pass replace too, or leave them None")
    if vocab is not None and item_counts is not None:
        raise ValueError("pass vocab (uniform random items) or item_counts (by popularity), not both")
    if replace is not None and pad_id is None:
        raise ValueError("replace needs a pad_id: the input column holds pad_id at the [MASK] positions "
                         "(no item is ever drawn or kept there)")
    return last_ratio, replace, vocab, item_counts


def check_input_column(input_column, replace):
    """``input_column`` (the name of the input-ids column written under ``replace``) checked, or None."""
    if input_column is None:
        return None
    if not isinstance(input_column, str) or not input_column:
        raise TypeError(f"input_column must be a non-empty str or None, got {input_column!r}")
    if is_part_name(input_column):
        raise ValueError(f"input_column {input_column!r} must not end with {SUFFIXES_TEXT}")
    if replace is None:
        raise ValueError("input_column names the column written under replace=...; pass replace too")
    return input_column


def item_draw(label, *, replace, vocab, item_counts, pad_id):
    """The :class:`rules.ItemDraw` of checked options (None when ``replace`` draws no random item);
    a ValueError starting with ``label`` when it does and neither ``vocab`` nor ``item_counts`` is known."""
    if replace is None or replace[1] == 0:
        return None
    if item_counts is not None:
        return rules.ItemDraw(counts=item_counts, pad_id=pad_id)
    if vocab is None:
        raise ValueError(f"{label}: replace=... draws random items but the vocabulary is unknown: "
                         "pass vocab=(low, high) or item_counts")
    return rules.ItemDraw(*vocab, pad_id=pad_id)


def extended_mask(label, values, offsets, row_keys, *, draw, **params):
    """:func:`engine.random_mask_extended` (``params``: its rule arguments), after checking that the
    drawn ids fit the item ids' dtype; ``mask`` alone without ``replace``, else ``(mask, input ids)``."""
    if draw is not None and not draw.uses_counts and values.dtype.kind in "iu":
        top = np.iinfo(values.dtype).max
        if draw.low + draw.n - (0 if draw.use_skip else 1) > top:
            raise ValueError(f"{label}: vocab high ({draw.low + draw.n}) does not fit the item ids' "
                             f"dtype {values.dtype}")
    mask, ids = engine.random_mask_extended(values, offsets, row_keys, draw=draw, **params)
    return mask if ids is None else (mask, ids)
