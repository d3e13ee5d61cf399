"""Small helpers shared by the tests."""
import numpy as np


def flat_rows(rows, dtype=np.int64):
    """(values, offsets) of a list of Python lists."""
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    values = np.array([v for r in rows for v in r], dtype=dtype)
    return values, offsets


def random_rows(n_rows, max_len=40, vocab=1000, pad_frac=0.0, seed=0):
    """(values, offsets) of random rows with lengths 0..max_len and some padding ids (0)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, max_len + 1, n_rows)
    offsets = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = rng.integers(1, vocab, offsets[-1]).astype(np.int64)
    values[rng.random(offsets[-1]) < pad_frac] = 0
    return values, offsets


def run_workflow(node, df, npartitions=1):
    """Fit and transform ``df`` (pandas) with a Workflow built on ``node``; returns pandas."""
    import nvtabular as nvt
    from merlin.io import Dataset

    wf = nvt.Workflow(node)
    return wf.fit_transform(Dataset(df, cpu=True, npartitions=npartitions)).to_ddf().compute(), wf


def mask_lists(series):
    return [None if m is None else [bool(x) for x in m] for m in series]
