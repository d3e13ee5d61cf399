"""`merlin-mlm stats`: what a job's masks look like, against what the rules say they should.

Reads the written Parquet file by file (never all at once) and reports the masked fraction
overall and by eligible sequence length next to its exact expectation
(:mod:`merlin_mlm_ops.masking.stats`), the distribution of masked positions per row, and where in
the sequence masked positions fall.  ``plot`` draws the same as a PNG figure.
"""
from __future__ import annotations

import glob
import json
import os

import numpy as np

from merlin_mlm_ops.masking import stats as rule_stats
from merlin_mlm_ops.masking.rules import segment_count

MAX_LENGTH = 512
POSITION_BINS = 10


def load_job(path):
    """The ``mlm-job.json`` of a job's output, or None."""
    meta = os.path.join(path, "mlm-job.json")
    if not os.path.exists(meta):
        return None
    with open(meta) as fh:
        return json.load(fh)


def _bool_list_column(schema):
    import pyarrow as pa

    for f in schema:
        if (pa.types.is_list(f.type) or pa.types.is_large_list(f.type)) and pa.types.is_boolean(f.type.value_type):
            return f.name
    return None


def _committed(path, storage_options):
    """The job record and data files of the committed output at the URL ``path``, and an opener."""
    from merlin_mlm_ops.data.epochs import committed_files
    from merlin_mlm_ops.job.storage import ObjectStore

    base, epochs = committed_files(path, storage_options)
    store = ObjectStore(base, storage_options)
    job = store.read_json(store.key("mlm-job.json"))
    files = [url for e in sorted(epochs) for url in epochs[e]]
    return job, files, lambda url: store.fs.open(url, "rb")


def collect(path, item_column=None, mask_column=None, pad_id=0, storage_options=None):
    """Counts over every Parquet file under ``path``: by eligible length, per-row counts, positions.

    ``path`` may be an object-store URL (read with ``storage_options``, default None): then only
    the files of its committed output are read."""
    import pyarrow.parquet as pq

    from merlin_mlm_ops.job.storage import is_url

    if is_url(path):
        job, files, opener = _committed(path, storage_options)
    else:
        job, opener = load_job(path), (lambda f: f)
        files = sorted(glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True))
    if job is not None:
        item_column = item_column or job["job"]["columns"][0]
        pad_id = job["job"]["pad_id"]
    if not files:
        raise FileNotFoundError(f"no Parquet files under {path}")
    schema = pq.read_schema(opener(files[0]))
    mask_column = mask_column or (f"{item_column}_mask" if item_column else _bool_list_column(schema))
    if mask_column is None or mask_column not in schema.names:
        raise ValueError(f"no mask column found in {files[0]} (columns: {', '.join(schema.names)})")
    item_column = item_column or mask_column[: -len("_mask")]
    rows = np.zeros(MAX_LENGTH + 1)
    masked = np.zeros(MAX_LENGTH + 1)
    per_row = np.zeros(MAX_LENGTH + 1)
    positions = np.zeros(POSITION_BINS)
    for f in files:
        table = pq.read_table(opener(f), columns=[item_column, mask_column])
        ids = table.column(item_column).combine_chunks()
        mask_arr = table.column(mask_column).combine_chunks()
        offsets = np.asarray(ids.offsets, dtype=np.int64) - int(ids.offsets[0].as_py())
        values = np.asarray(ids.flatten())
        mask = np.asarray(mask_arr.flatten()).astype(bool)
        eligible = np.ones(len(values), bool) if pad_id is None else values != pad_id
        n_elig = segment_count(eligible, offsets)
        n_mask = segment_count(mask, offsets)
        length_bin = np.minimum(n_elig, MAX_LENGTH)
        rows += np.bincount(length_bin, minlength=MAX_LENGTH + 1)
        masked += np.bincount(length_bin, weights=n_mask, minlength=MAX_LENGTH + 1)
        per_row += np.bincount(np.minimum(n_mask, MAX_LENGTH), minlength=MAX_LENGTH + 1)
        lengths = np.diff(offsets)
        row_of = np.repeat(np.arange(len(lengths)), lengths)
        # bin centres, (p + 0.5) / length, so that short rows spread symmetrically over the bins
        rel = (np.arange(len(values)) - offsets[row_of] + 0.5) / np.maximum(lengths[row_of], 1)
        positions += np.bincount(np.minimum((rel[mask] * POSITION_BINS).astype(int), POSITION_BINS - 1),
                                 minlength=POSITION_BINS)
    return {"job": job, "files": len(files), "item_column": item_column, "mask_column": mask_column,
            "rows_by_length": rows, "masked_by_length": masked, "masked_per_row": per_row,
            "positions": positions}


def expected_by_length(report):
    """Expected masked positions per row, by eligible length, under the job's parameters (or None)."""
    job = report["job"]
    if job is None:
        return None
    params = job["job"]
    lengths = np.arange(MAX_LENGTH + 1)
    return rule_stats.expected_masked_with_last(lengths, params["prob"], params["min_masked"], params["max_masked"],
                                                params.get("last_ratio", 0.0))


def summary_lines(report):
    rows, masked = report["rows_by_length"], report["masked_by_length"]
    lengths = np.arange(len(rows))
    items = float((rows * lengths).sum())
    expected = expected_by_length(report)
    lines = [f"{report['files']} files, {int(rows.sum()):,} rows, {int(items):,} eligible items, "
             f"mask column {report['mask_column']!r}"]
    overall = masked.sum() / max(items, 1)
    if expected is not None:
        exp_overall = (expected * rows).sum() / max(items, 1)
        lines.append(f"masked fraction {overall:.4f} (expected {exp_overall:.4f} under prob="
                     f"{report['job']['job']['prob']}, min_masked={report['job']['job']['min_masked']}, "
                     f"max_masked={report['job']['job']['max_masked']})")
    else:
        lines.append(f"masked fraction {overall:.4f}")
    lines.append("by eligible length: length, rows, masked fraction" + (", expected" if expected is not None else ""))
    for n in np.flatnonzero(rows)[:12]:
        frac = masked[n] / (rows[n] * max(n, 1))
        exp = "" if expected is None else f"  {expected[n] / max(n, 1):.4f}"
        lines.append(f"  {n:4d} {int(rows[n]):10,d}  {frac:.4f}{exp}")
    per_row = report["masked_per_row"]
    shown = ", ".join(f"{k}: {int(per_row[k]):,}" for k in np.flatnonzero(per_row)[:10])
    lines.append(f"masked positions per row: {shown}")
    pos = report["positions"] / max(report["positions"].sum(), 1)
    lines.append("masked positions by relative position (10 bins): " + " ".join(f"{p:.3f}" for p in pos))
    return lines


def plot(report, png):
    """Write a 2x2 PNG figure of the report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, masked = report["rows_by_length"], report["masked_by_length"]
    present = np.flatnonzero(rows)
    lengths = np.arange(len(rows))
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    ax = axes[0, 0]
    ax.plot(present, masked[present] / (rows[present] * np.maximum(present, 1)), ".", label="observed")
    expected = expected_by_length(report)
    if expected is not None:
        ax.plot(present, expected[present] / np.maximum(present, 1), "-", label="expected (rules)")
    ax.set(title="masked fraction by eligible length", xlabel="eligible positions in row", ylabel="masked fraction")
    ax.legend()
    ax = axes[0, 1]
    ax.bar(present, rows[present], width=1.0)
    ax.set(title="rows by eligible length", xlabel="eligible positions in row", ylabel="rows")
    ax = axes[1, 0]
    per_row = report["masked_per_row"]
    shown = np.flatnonzero(per_row)
    ax.bar(shown, per_row[shown], width=0.8)
    ax.set(title="masked positions per row", xlabel="masked positions", ylabel="rows")
    ax = axes[1, 1]
    pos = report["positions"] / max(report["positions"].sum(), 1)
    ax.bar(np.arange(POSITION_BINS) / POSITION_BINS, pos, width=1 / POSITION_BINS, align="edge")
    ax.axhline(1 / POSITION_BINS, color="k", lw=0.8, ls="--", label="uniform")
    ax.set(title="where masked positions fall", xlabel="relative position in row", ylabel="share of masked")
    ax.legend()
    fig.suptitle(f"merlin-mlm stats: {int(rows.sum()):,} rows, {int((rows * lengths).sum()):,} items")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
