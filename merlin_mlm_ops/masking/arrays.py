"""The array library of an array: NumPy or CuPy (imported only when a CuPy array is given)."""
from __future__ import annotations

import numpy as np


def array_module(arr):
    """``numpy`` for NumPy arrays, ``cupy`` for CuPy arrays."""
    if isinstance(arr, np.ndarray):
        return np
    import cupy  # only reached with device arrays, so cupy is present

    return cupy
