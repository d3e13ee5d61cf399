"""The one error raised when the NVTabular operators are imported where NVTabular is missing."""
from __future__ import annotations

INSTALL_HINT = (
    "merlin_mlm_ops.MaskRandom / MaskLast are NVTabular operators and need NVTabular 23.08 "
    "(Python 3.10/3.11, pandas < 1.6): pip install 'merlin-mlm-ops[nvtabular]'. "
    "Without Merlin, the same masks come from merlin_mlm_ops.mask_random / mask_last on pandas, "
    "Polars, PyArrow, cuDF or Dask frames (docs/frames.md)."
)


def require_nvtabular():
    """Import NVTabular and merlin-core, or raise one ImportError saying what to install."""
    try:
        import merlin.core  # noqa: F401
        import merlin.dag  # noqa: F401
        import nvtabular  # noqa: F401
    except ImportError as exc:
        # ``from None``: the chained traceback of a failed import deep in Merlin would bury the hint
        raise ImportError(f"{INSTALL_HINT} (import failed: {type(exc).__name__}: {exc})", name=exc.name) from None
