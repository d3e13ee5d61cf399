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


def session_rows(n_rows=60, seed=0, max_len=9, vocab=30):
    """Python lists of item ids (some padding ids 0) with empty rows and null (None) rows among them."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_rows):
        if r % 9 == 4:
            rows.append(None)
        elif r % 11 == 6:
            rows.append([])
        else:
            rows.append([int(v) for v in rng.integers(0, vocab, rng.integers(1, max_len + 1))])
    return rows


def expected_masks(rows, *, kind="random", keys=None, **params):
    """The masking core's masks of ``rows`` (lists or None) as lists, via the NumPy reference rules."""
    from merlin_mlm_ops.masking import engine, hashing

    flat_in = [r if r is not None else [] for r in rows]
    values, offsets = flat_rows(flat_in)
    if kind == "last":
        mask = engine.last_mask(values, offsets, pad_id=params.get("pad_id", 0), backend="reference")
    else:
        row_keys = None
        if keys is not None and isinstance(keys[0], str):
            data = np.frombuffer("".join(keys).encode(), dtype=np.uint8)
            key_offsets = np.concatenate([[0], np.cumsum([len(k.encode()) for k in keys])]).astype(np.int64)
            row_keys = hashing.string_row_keys(data, key_offsets)
        elif keys is not None:
            row_keys = hashing.integer_row_keys(np.asarray(keys, dtype=np.int64))
        args = dict(prob=0.2, epoch=0, min_masked=1, max_masked=None, pad_id=0)
        args.update(params)
        mask = engine.random_mask(values, offsets, row_keys, backend="reference", **args)
    return [None if r is None else mask[offsets[i]:offsets[i + 1]].tolist() for i, r in enumerate(rows)]


def as_mask_lists(values):
    """Masks as lists of Python bools (None for null rows: None, NaN, pd.NA) from any column's rows."""
    return [[bool(x) for x in m] if hasattr(m, "__len__") else None for m in values]
