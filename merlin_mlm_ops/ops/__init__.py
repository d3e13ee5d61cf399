"""NVTabular operators, one per module."""
from merlin_mlm_ops.ops.base import MASK_TAG, SequenceMaskOperator
from merlin_mlm_ops.ops.mask_last import MaskLast
from merlin_mlm_ops.ops.mask_random import MaskRandom

from merlin_mlm_ops.parquet_compat import apply as _close_parquet_files

_close_parquet_files()  # merlin-core 23.8's CPU writer leaves its files open (empty on Python 3.10)

__all__ = ["MASK_TAG", "MaskLast", "MaskRandom", "SequenceMaskOperator"]
