"""merlin-mlm-ops: masked-item-modelling (BERT4Rec) masks computed in the NVTabular ETL.

    import nvtabular as nvt
    from merlin_mlm_ops import MaskRandom, MaskLast
    wf = nvt.Workflow(["item_ids"] >> MaskRandom(prob=0.2, seed=7))

Without Merlin, the same masks on pandas, Polars, PyArrow, cuDF or Dask frames (docs/frames.md):

    from merlin_mlm_ops import mask_random, mask_last, sliding_windows
    out = mask_random(df, "item_ids", prob=0.2, seed=7, key="session_id")

The operators are imported on first use, so ``import merlin_mlm_ops``, the dataframe API
(:mod:`merlin_mlm_ops.frames`) and the masking core (:mod:`merlin_mlm_ops.masking`: rules,
hashing, fused kernels, engine) load without NVTabular; importing an operator where NVTabular
is missing raises one ImportError that says what to install.
"""
__version__ = "0.1.0"

_LAZY = {
    "MaskRandom": "merlin_mlm_ops.ops.mask_random",
    "MaskLast": "merlin_mlm_ops.ops.mask_last",
    "SlidingWindows": "merlin_mlm_ops.ops.sliding_windows",
    "mask_windows": "merlin_mlm_ops.ops.sliding_windows",
    "MASK_TAG": "merlin_mlm_ops.tags",
    "MaskInputError": "merlin_mlm_ops.errors",
    "mask_random": "merlin_mlm_ops.frames",
    "mask_last": "merlin_mlm_ops.frames",
    "sliding_windows": "merlin_mlm_ops.frames",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'merlin_mlm_ops' has no attribute {name!r}")
