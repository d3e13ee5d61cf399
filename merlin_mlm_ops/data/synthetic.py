"""Synthetic sessions: the embedded default data of the demo, examples, tests and benchmarks.

Sessions have Zipf-like item popularity and varied lengths; optionally item-to-item
transitions (after item ``i`` comes item ``i + 1`` with probability ``transition``), which
gives a sequence model something to learn that popularity alone cannot.  Generation is
vectorised: 1M sessions take about a second.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: Raw item ids are spread out (not 0..n-1) so that Categorify's encoding is visible.
RAW_ID_BASE = 100_000
RAW_ID_STEP = 7


def session_lengths(n_sessions, mean_length=25.0, min_length=2, max_length=200, rng=None):
    """Row lengths: ``min_length`` plus a geometric tail, clipped at ``max_length``."""
    rng = rng if rng is not None else np.random.default_rng(0)
    extra = max(mean_length - min_length, 1e-9)
    lengths = min_length + rng.geometric(1.0 / (extra + 1.0), size=n_sessions) - 1
    return np.minimum(lengths, max_length).astype(np.int64)


def zipf_items(n, n_items, zipf_a=1.1, rng=None):
    """``n`` item ranks in ``[0, n_items)`` with probability proportional to ``1 / (rank + 1) ** zipf_a``."""
    rng = rng if rng is not None else np.random.default_rng(0)
    weights = 1.0 / np.arange(1, n_items + 1, dtype=np.float64) ** zipf_a
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), n_items - 1)


def make_sessions(n_sessions=100_000, n_items=10_000, mean_length=25.0, min_length=2,
                  max_length=200, zipf_a=1.1, transition=0.0, seed=0):
    """A DataFrame of sessions: ``session_id`` (int64), ``item_ids`` and ``category`` (lists).

    Parameters
    ----------
    n_sessions : int, default 100_000
        Number of rows.
    n_items : int, default 10_000
        Catalogue size.
    mean_length, min_length, max_length : default 25.0, 2, 200
        Session length distribution (geometric tail above ``min_length``).
    zipf_a : float, default 1.1
        Popularity skew.
    transition : float, default 0.0
        Probability that an item is followed by its successor in the catalogue instead of a
        fresh popular draw.
    seed : int, default 0
        Seed of the generator.

    Example
    -------
    >>> df = make_sessions(3, n_items=50, mean_length=4, seed=1)
    >>> df.columns.tolist(), len(df)
    (['session_id', 'item_ids', 'category'], 3)
    """
    rng = np.random.default_rng(seed)
    lengths = session_lengths(n_sessions, mean_length, min_length, max_length, rng)
    offsets = np.zeros(n_sessions + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    ranks = zipf_items(total, n_items, zipf_a, rng)
    if transition > 0:
        # A chain restarts (fresh popular draw) at each session start and with prob 1 - t;
        # elsewhere item = (item at last restart + steps since it) mod n_items.
        restart = rng.random(total) >= transition
        restart[offsets[:-1][lengths > 0]] = True
        pos = np.arange(total)
        last = np.maximum.accumulate(np.where(restart, pos, 0))
        ranks = (ranks[last] + (pos - last)) % n_items
    raw = RAW_ID_BASE + RAW_ID_STEP * ranks.astype(np.int64)
    category = (ranks % 20).astype(np.int64)
    return pd.DataFrame({
        "session_id": np.arange(n_sessions, dtype=np.int64) + 1_000_000,
        "item_ids": _split(raw, offsets),
        "category": _split(category, offsets),
    })


def _split(values, offsets):
    import pyarrow as pa

    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values)).to_numpy(zero_copy_only=False)
