"""Synthetic sessions with one ETL mask per epoch (for the training tests and benchmarks)."""
import nvtabular as nvt
from merlin.dag import ColumnSelector
from merlin.io import Dataset
from merlin.schema import Tags

from merlin_mlm_ops import MaskRandom
from merlin_mlm_ops.data.synthetic import make_sessions


def masked_epochs(path, epochs, sessions=400, n_items=40, prob=0.3, seed=3, mean_length=8, max_length=15):
    """``(datasets, schema)``: ``datasets[k]`` holds ``item_ids`` and ``MaskRandom(epoch=k)``'s ``item_ids_mask``.

    Parameters
    ----------
    path : str
        Folder for Categorify's category files.
    epochs : int
        Number of masked copies (one per epoch).
    sessions, n_items, mean_length, max_length : int, default 400, 40, 8, 15
        Size of the synthetic data (:func:`merlin_mlm_ops.data.synthetic.make_sessions`, transition 0.9).
    prob, seed : float, int, default 0.3, 3
        MaskRandom's masking probability and seed.

    Example: ``datasets, schema = masked_epochs("/tmp/cats", epochs=3)``.
    """
    df = make_sessions(sessions, n_items=n_items, mean_length=mean_length, max_length=max_length,
                       transition=0.9, seed=1)
    items = ["item_ids"] >> nvt.ops.Categorify(out_path=str(path)) >> nvt.ops.AddTags([Tags.ITEM_ID, Tags.SEQUENCE])
    wf = nvt.Workflow((items >> MaskRandom(prob=prob, seed=seed, key="session_id")) + ["session_id"])
    encoded = wf.fit_transform(Dataset(df[["session_id", "item_ids"]], cpu=True)).to_ddf().compute()
    encoded = encoded.reset_index(drop=True)[["session_id", "item_ids"]]
    schema = wf.output_schema.select_by_name(["item_ids", "item_ids_mask"])
    datasets = []
    for k in range(epochs):
        out = MaskRandom(prob=prob, seed=seed, key="session_id", epoch=k).transform(ColumnSelector(["item_ids"]), encoded)
        datasets.append(Dataset(out[["item_ids", "item_ids_mask"]], cpu=True, schema=schema))
    return datasets, schema
