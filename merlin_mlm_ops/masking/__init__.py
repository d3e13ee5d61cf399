"""The masking core: the rules, their hash, the fused kernels that must match them, and the engine.

- :mod:`~merlin_mlm_ops.masking.hashing`: the counter-based hash (splitmix64) and row keys.
- :mod:`~merlin_mlm_ops.masking.rules`: the reference, array expressions that run on NumPy and
  CuPy alike; every other implementation is tested against it.
- :mod:`~merlin_mlm_ops.masking.row_kernels`: the per-row logic of the fused kernels, plain Python
  compiled by :mod:`~merlin_mlm_ops.masking.kernels_cpu` (``numba.njit``) and
  :mod:`~merlin_mlm_ops.masking.kernels_gpu` (``numba.cuda.jit``), with their scalar arguments
  prepared once in :mod:`~merlin_mlm_ops.masking.kernel_args`.
- :mod:`~merlin_mlm_ops.masking.engine`: picks a fused kernel or the reference for flat
  ``values``/``offsets`` arrays (NumPy or CuPy) and falls back to the reference when a kernel fails.
- :mod:`~merlin_mlm_ops.masking.stats`: exact expectations of the rules.
- :mod:`~merlin_mlm_ops.masking.bert_params`: checks of the last-item (``last_ratio``) and
  80/10/10 (``replace``) options, whose rules are in ``rules`` too.
- :mod:`~merlin_mlm_ops.masking.gpu`: whether a usable GPU is present.

Nothing here imports NVTabular, pandas or cuDF: the dataframe adapters (:mod:`merlin_mlm_ops.adapters`)
and the operators (:mod:`merlin_mlm_ops.ops`) sit on top:

    >>> import numpy as np
    >>> from merlin_mlm_ops.masking import engine
    >>> values, offsets = np.array([5, 6, 7, 8, 9]), np.array([0, 2, 5])   # rows [5, 6] and [7, 8, 9]
    >>> engine.last_mask(values, offsets, pad_id=None)
    array([False,  True, False, False,  True])
    >>> engine.random_mask(values, offsets, None, seed=7, epoch=0, prob=0.5, min_masked=1,
    ...                    max_masked=None, pad_id=None)
    array([ True, False, False,  True, False])
"""
