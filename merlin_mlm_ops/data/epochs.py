"""A masking job's output read back: one folder and one ``merlin.io.Dataset`` per epoch."""
from __future__ import annotations

import glob
import os


def epoch_dir(root, epoch):
    return os.path.join(root, f"epoch_{epoch:04d}")


def epoch_paths(root):
    """The epoch folders of a job's output, in epoch order."""
    return sorted(glob.glob(os.path.join(root, "epoch_*")))


def epoch_datasets(root, cpu=True, storage_options=None, **kwargs):
    """One ``merlin.io.Dataset`` per epoch of a job's output, in epoch order.

    ``root`` is a local folder or an object-store URL (``s3://...``, read with
    ``storage_options``, default None: the filesystem's own configuration).  On an object store
    only a committed output is read, and only the files its ``mlm-manifest.json`` lists (never an
    attempt in progress); a missing commit raises ``FileNotFoundError``.  They carry the saved workflow's output schema, which keeps the mask's bool dtype (the
    ``schema.pbtxt`` beside the files loses it in merlin-core 23.08).  Iterate them epoch by
    epoch, e.g. ``for ds in epoch_datasets(DIR): model.fit(Loader(ds, batch_size=...))``.

    Without NVTabular (today's stack) they are Dask DataFrames (``dask.dataframe.read_parquet``
    of each epoch, ``kwargs`` passed on); an output written without NVTabular (no ``workflow/``)
    gives Datasets whose schema is read from the Parquet files.
    """
    from merlin_mlm_ops.job.storage import is_url

    try:
        import nvtabular as nvt
        from merlin.io import Dataset
    except Exception:  # noqa: BLE001 - missing, or stock NVTabular 23.8 failing on today's stack
        return _dask_frames(root, storage_options, **kwargs)
    if is_url(root):
        return _committed_datasets(root, cpu, storage_options, **kwargs)
    if not os.path.isdir(os.path.join(root, "workflow")):  # written without NVTabular (job/plain.py)
        return [Dataset(path, engine="parquet", cpu=cpu, **kwargs) for path in epoch_paths(root)]
    schema = nvt.Workflow.load(os.path.join(root, "workflow")).output_schema
    return [Dataset(path, engine="parquet", cpu=cpu, schema=schema, **kwargs) for path in epoch_paths(root)]


def _dask_frames(root, storage_options=None, **kwargs):
    """One Dask DataFrame per epoch of the output at ``root`` (a folder, or a committed URL output)."""
    import dask.dataframe as dd

    from merlin_mlm_ops.job.storage import is_url

    if is_url(root):
        _, epochs = committed_files(root, storage_options)
        return [dd.read_parquet(epochs[e], storage_options=storage_options, **kwargs) for e in sorted(epochs)]
    return [dd.read_parquet(path, **kwargs) for path in epoch_paths(root)]


def committed_files(root, storage_options=None):
    """``(attempt_root, {epoch: [urls]})`` of the committed output at the URL ``root``."""
    from merlin_mlm_ops.job.storage import committed

    found = committed(root, storage_options)
    if found is None:
        raise FileNotFoundError(f"no committed output at {root} (no mlm-manifest.json naming an attempt)")
    base, manifest = found
    epochs = {}
    for rel in sorted(manifest["files"]):
        if rel.startswith("epoch_") and rel.endswith(".parquet"):
            epochs.setdefault(int(rel.split("/")[0][len("epoch_"):]), []).append(f"{base}/{rel}")
    return base, epochs


def load_workflow(base, storage_options=None):
    """``Workflow.load`` of ``base/workflow`` on an object store (copied to a local temporary folder)."""
    import tempfile

    import nvtabular as nvt

    from merlin_mlm_ops.job.storage import ObjectStore

    store = ObjectStore(base, storage_options)
    prefix = store.key("workflow")
    with tempfile.TemporaryDirectory(prefix="mlm-workflow-") as tmp:
        for url in store.list(prefix):
            path = os.path.join(tmp, url[len(prefix) + 1:])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(store.read(url))
        return nvt.Workflow.load(tmp)


def _committed_datasets(root, cpu, storage_options, **kwargs):
    from merlin.io import Dataset

    base, epochs = committed_files(root, storage_options)
    schema = load_workflow(base, storage_options).output_schema
    return [Dataset(epochs[e], engine="parquet", cpu=cpu, schema=schema, storage_options=storage_options, **kwargs)
            for e in sorted(epochs)]


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
