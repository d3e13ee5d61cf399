"""A masking job's output read back: one folder and one ``merlin.io.Dataset`` per epoch."""
from __future__ import annotations

import glob
import os


def epoch_dir(root, epoch):
    return os.path.join(root, f"epoch_{epoch:04d}")


def epoch_paths(root):
    """The epoch folders of a job's output, in epoch order."""
    return sorted(glob.glob(os.path.join(root, "epoch_*")))


def epoch_datasets(root, cpu=True, **kwargs):
    """One ``merlin.io.Dataset`` per epoch of a job's output, in epoch order.

    They carry the saved workflow's output schema, which keeps the mask's bool dtype (the
    ``schema.pbtxt`` beside the files loses it in merlin-core 23.08).  Iterate them epoch by
    epoch, e.g. ``for ds in epoch_datasets(DIR): model.fit(Loader(ds, batch_size=...))``.
    """
    import nvtabular as nvt
    from merlin.io import Dataset

    schema = nvt.Workflow.load(os.path.join(root, "workflow")).output_schema
    return [Dataset(path, engine="parquet", cpu=cpu, schema=schema, **kwargs) for path in epoch_paths(root)]


def check_same_columns(datasets):
    """Raise ``ValueError`` unless every dataset (one per epoch) has the same columns with the same dtypes."""
    first = {c.name: c.dtype.name for c in datasets[0].schema}
    for k, ds in enumerate(datasets[1:], start=1):
        cols = {c.name: c.dtype.name for c in ds.schema}
        for name in sorted(set(first) ^ set(cols)):
            where = "epoch 0" if name in first else f"epoch {k}"
            raise ValueError(f"column '{name}' is only in {where}'s dataset: every epoch needs the same columns")
        for name, dtype in first.items():
            if cols[name] != dtype:
                raise ValueError(f"column '{name}' is {dtype} in epoch 0 but {cols[name]} in epoch {k}")
