"""NVTabular operators, one per module."""
from merlin_mlm_ops.ops.base import MASK_TAG, SequenceMaskOperator
from merlin_mlm_ops.ops.mask_last import MaskLast
from merlin_mlm_ops.ops.mask_random import MaskRandom

__all__ = ["MASK_TAG", "MaskLast", "MaskRandom", "SequenceMaskOperator"]
