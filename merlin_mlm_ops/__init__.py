"""merlin-mlm-ops: masked-item-modelling (BERT4Rec) masks computed in the NVTabular ETL.

    import nvtabular as nvt
    from merlin_mlm_ops import MaskRandom, MaskLast
    wf = nvt.Workflow(["item_ids"] >> MaskRandom(prob=0.2, seed=7))

The operators are imported on first use, so the masking core (:mod:`merlin_mlm_ops.masking`:
rules, hashing, fused kernels, engine) loads without NVTabular, e.g. on a bare GPU box.
"""
__version__ = "0.1.0"

_LAZY = {
    "MaskRandom": "merlin_mlm_ops.ops.mask_random",
    "MaskLast": "merlin_mlm_ops.ops.mask_last",
    "MASK_TAG": "merlin_mlm_ops.tags",
    "MaskInputError": "merlin_mlm_ops.errors",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'merlin_mlm_ops' has no attribute {name!r}")
