"""Small helpers shared by the tests (fixtures are in conftest.py)."""
import pathlib

import numpy as np

#: The repository root.
ROOT = pathlib.Path(__file__).resolve().parents[1]


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


# ---- MovieLens-1M-shaped .inter files ----------------------------------------------------------

HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float"
ROWS = [  # (user, title, rating, timestamp), in file order
    ("1m_2", 'Say "Anything" (1989)', 4, 300),
    ("1m_1", "Bug's Life, A (1998)", 5, 200),
    ("1m_1", "Sense & Sensibility (1995)", 3, 100),
    ("1m_2", "Toy Story (1995)", 5, 300),           # same timestamp as the row above it: file order kept
    ("1m_1", "Shawshank Redemption, The (1994)", 4, 200),  # tie with "Bug's Life, A": file order kept
    ("1m_2", "Heat (1995)", 2, 100),
    ("1m_1", "\"Quoted\", Title (2000)", 1, 50),
]


def write_inter(path, rows=ROWS, newline="\r\n", header=HEADER):
    with open(path, "w", newline="") as fh:
        fh.write(header + newline)
        for user, title, rating, ts in rows:
            fh.write(f"{user}\t{title}\t{rating}\t{ts}{newline}")
    return str(path)


def tiny_ratings(path, users=24, items=40, seed=0):
    """Users rate 8-16 of ``items`` titles (with commas, quotes), timestamps with ties."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, users + 1):
        for i in rng.choice(items, size=rng.integers(8, 17), replace=False):
            rows.append((f"1m_{u}", f'Movie "{i}", The ({1950 + i})', int(rng.integers(1, 6)), int(rng.integers(0, 5))))
    return write_inter(path, rows)
