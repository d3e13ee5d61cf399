"""The scalar arguments of the fused kernels, prepared the same way for CPU and GPU."""
from __future__ import annotations

import numpy as np

from merlin_mlm_ops.masking import hashing
from merlin_mlm_ops.masking.rules import (
    LAST_SALT,
    NO_CAP,
    REPLACE_SALT,
    ItemDraw,
    derived_key,
    prob_threshold,
    replace_thresholds,
)


def _pad(pad_id):
    return pad_id is not None, np.uint64(0 if pad_id is None else int(pad_id) & ((1 << 64) - 1))


def random_args(values_u64, offsets, row_keys, seed, epoch, prob, min_masked, max_masked, pad_id, xp):
    """Positional arguments of the random-mask kernels, before ``out``."""
    use_keys = row_keys is not None
    keys = row_keys if use_keys else xp.empty(0, dtype=xp.uint64)
    return (values_u64, offsets, keys, use_keys, np.uint64(hashing.stream_key(seed, epoch)),
            np.uint64(prob_threshold(prob)), np.int64(min_masked),
            np.int64(NO_CAP if max_masked is None else max_masked), *_pad(pad_id))


def last_args(values_u64, offsets, pad_id):
    """Positional arguments of the last-item kernels, before ``out``."""
    return (values_u64, offsets, *_pad(pad_id))


def extended_args(values_u64, offsets, row_keys, seed, epoch, prob, min_masked, max_masked, pad_id,
                  last_ratio, replace, draw, xp):
    """Positional arguments of the kernels with last-item rows and 80/10/10, before ``out, out_input``.

    ``replace=None`` switches corruption off (``draw`` is then unused); ``last_ratio=0`` never
    picks a last-item row.
    """
    use_replace = replace is not None
    t_mask, t_random = replace_thresholds(replace) if use_replace else (0, 0)
    if draw is None:
        draw = ItemDraw(0, 1)
    return (*random_args(values_u64, offsets, row_keys, seed, epoch, prob, min_masked, max_masked, pad_id, xp),
            np.uint64(derived_key(seed, epoch, LAST_SALT)), np.uint64(prob_threshold(last_ratio)),
            use_replace, np.uint64(derived_key(seed, epoch, REPLACE_SALT)), np.uint64(t_mask), np.uint64(t_random),
            np.uint64(draw.low), np.uint64(draw.n), draw.use_skip, np.uint64(draw.skip), draw.uses_counts,
            draw.cdf_on(xp))
