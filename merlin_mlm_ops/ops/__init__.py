"""NVTabular operators, one per module.

Importing them also applies :mod:`merlin_mlm_ops.compat` (fast, index-preserving pandas list
paths for merlin-core/NVTabular 23.08; off with ``MERLIN_MLM_OPS_NO_COMPAT=1``): NVTabular is
imported here anyway, and every workflow with these operators then runs Categorify on lists
at array speed, in this process and in Dask workers that unpickle the operators.
"""
from merlin_mlm_ops.ops._requires import require_nvtabular

require_nvtabular()  # one ImportError that says what to install, before anything imports Merlin

from merlin_mlm_ops.compat import apply as _apply_compat  # noqa: E402
from merlin_mlm_ops.compat.parquet_writer import apply as _close_parquet_files  # noqa: E402
from merlin_mlm_ops.compat.schema_any import apply as _pack_schema_deterministically  # noqa: E402
from merlin_mlm_ops.ops.base import MASK_TAG, SequenceMaskOperator  # noqa: E402
from merlin_mlm_ops.ops.mask_last import MaskLast  # noqa: E402
from merlin_mlm_ops.ops.mask_random import MaskRandom  # noqa: E402
from merlin_mlm_ops.ops.sliding_windows import SlidingWindows  # noqa: E402

_apply_compat()
_close_parquet_files()  # merlin-core 23.8's CPU writer leaves its files open (empty on Python 3.10)
_pack_schema_deterministically()  # the same schema.pbtxt bytes in every process (protobuf 3.20)

__all__ = ["MASK_TAG", "MaskLast", "MaskRandom", "SequenceMaskOperator", "SlidingWindows"]
