"""Whether a usable NVIDIA GPU is present, without raising where there is none."""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=None)
def has_gpu() -> bool:
    """True when CuPy can see a CUDA device.

    Uses ``merlin.core.compat.HAS_GPU`` when merlin-core is installed, else asks the CUDA
    runtime through CuPy; ``cupy.is_available()`` itself raises without a driver.
    """
    try:
        from merlin.core.compat import HAS_GPU

        if not HAS_GPU:
            return False
    except ImportError:
        pass
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - no cupy, no driver, no device: all mean "no GPU"
        return False
