"""NVTabular operators, one per module.

Importing them also applies the merlin-core fixes of :mod:`merlin_mlm_ops.compat` (fast,
index-preserving pandas list paths; Parquet files closed; deterministic ``schema.pbtxt``; all
version-guarded, all off with ``MERLIN_MLM_OPS_NO_COMPAT=1``), logged once at INFO: the
operators' workflows are only correct with them on merlin-core 23.08 (rows of later partitions
became NaN), and Dask workers that unpickle the operators get them too.
``merlin_mlm_ops.compat.status()`` says which are active (docs/compat.md).
"""
from merlin_mlm_ops.ops._requires import require_nvtabular

require_nvtabular()  # one ImportError that says what to install, before anything imports Merlin

from merlin_mlm_ops.compat.registry import apply_for_operators as _apply_compat  # noqa: E402
from merlin_mlm_ops.ops.base import MASK_TAG, SequenceMaskOperator  # noqa: E402
from merlin_mlm_ops.ops.mask_last import MaskLast  # noqa: E402
from merlin_mlm_ops.ops.mask_random import MaskRandom  # noqa: E402
from merlin_mlm_ops.ops.sliding_windows import SlidingWindows  # noqa: E402

_apply_compat()

__all__ = ["MASK_TAG", "MaskLast", "MaskRandom", "SequenceMaskOperator", "SlidingWindows"]
