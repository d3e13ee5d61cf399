"""Lets numba-cuda 0.30.x compile kernels under NumPy 2.5 (imported by ``kernels_gpu`` before numba.cuda).

numba-cuda 0.30.4 (PyPI's newest; in maintenance mode) registers an overload of ``np.row_stack``
whenever NumPy >= 2.0, but NumPy 2.5 removed that name (an alias of ``np.vstack`` since NumPy 1.x).
The registration runs when the CUDA target loads its registries, i.e. at the first kernel
compilation, so without this every CUDA kernel fails with ``AttributeError: module 'numpy' has no
attribute 'row_stack'`` (NVIDIA/numba-cuda#907, closed unfixed; numba >= 0.67 guards its own copy).
The GPU machine carries NumPy 2.5 with numba-cuda; ``ci/gpu-rehearsal.sh`` found this there.

:func:`restore_row_stack` puts the alias back, only where it is missing; nothing else changes
(NumPy < 2.5 keeps its own ``row_stack``).

    >>> import numpy as np
    >>> restore_row_stack()
    >>> callable(np.row_stack)
    True
"""
from __future__ import annotations

import numpy as np


def restore_row_stack() -> None:
    """Define ``numpy.row_stack`` as ``numpy.vstack`` where NumPy (>= 2.5) no longer has it."""
    if getattr(np, "row_stack", None) is None:  # NumPy 2.5 raises AttributeError for the removed name
        np.row_stack = np.vstack
