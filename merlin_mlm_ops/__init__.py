"""merlin-mlm-ops: masked-item-modelling (BERT4Rec) masks computed in the NVTabular ETL.

    import nvtabular as nvt
    from merlin_mlm_ops import MaskRandom, MaskLast
    wf = nvt.Workflow(["item_ids"] >> MaskRandom(prob=0.2, seed=7))
"""
from merlin_mlm_ops.ops import MASK_TAG, MaskLast, MaskRandom
from merlin_mlm_ops.errors import MaskInputError

__version__ = "0.1.0"

__all__ = ["MASK_TAG", "MaskInputError", "MaskLast", "MaskRandom", "__version__"]
