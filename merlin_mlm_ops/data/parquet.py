"""Writing a frame as a partitioned Parquet dataset (the input the job and the benchmarks read)."""
from __future__ import annotations

import os

import numpy as np


def write_partitioned(df, path, partitions, row_group_size=None):
    """Write ``df`` as ``partitions`` Parquet files under ``path`` (row groups of ``row_group_size``
    rows, default one per file; readers can split files into partitions at row groups)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(path, exist_ok=True)
    bounds = np.linspace(0, len(df), partitions + 1).astype(int)
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        table = pa.Table.from_pandas(df.iloc[lo:hi], preserve_index=False)
        pq.write_table(table, os.path.join(path, f"part_{i:04d}.parquet"), row_group_size=row_group_size)
