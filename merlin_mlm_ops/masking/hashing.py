"""Counter-based hashing: the only source of randomness in every mask.

A mask bit is a pure function of ``(seed, epoch, row key, position)``.  No generator
state is carried between rows, partitions or devices, so a partition recomputed by Dask,
the same rows on a GPU, or the same session in another partitioning all get the same bits.

The mixer is the splitmix64 finaliser (Steele, Lea & Flood 2014).  Every function below is
written once for NumPy and CuPy ("xp" code): ``xp`` is the array module of the inputs.  All
arithmetic is on ``uint64`` and wraps modulo 2**64 on both libraries, which is what makes
CPU and GPU results bit-identical.  The fused kernels (``kernels_cpu``, ``kernels_gpu``)
re-implement exactly these formulas and are tested against them.
"""
from __future__ import annotations

import numpy as np

GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
_MASK64 = (1 << 64) - 1


def mix64_int(z: int) -> int:
    """splitmix64 finaliser on a Python int (used for per-call scalars)."""
    z &= _MASK64
    z = ((z ^ (z >> 30)) * MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * MIX2) & _MASK64
    return z ^ (z >> 31)


def mix64(z, xp=np):
    """splitmix64 finaliser on a ``uint64`` array (NumPy or CuPy); returns a new array."""
    z = z ^ (z >> xp.uint64(30))
    z = z * xp.uint64(MIX1)
    z = z ^ (z >> xp.uint64(27))
    z = z * xp.uint64(MIX2)
    return z ^ (z >> xp.uint64(31))


def stream_key(seed: int, epoch: int) -> int:
    """The 64-bit key of one ``(seed, epoch)`` draw.

    Epochs are hashed rather than added to the seed, so ``(seed, epoch + 1)`` and
    ``(seed + 1, epoch)`` are unrelated streams.
    """
    k = mix64_int((seed & _MASK64) + GOLDEN)
    return mix64_int(k ^ (((epoch + 1) * MIX2) & _MASK64))


def as_uint64(values, xp=np):
    """Reinterpret integer ``values`` as ``uint64`` bit patterns (two's complement for negatives).

    Values of any integer width map to the same pattern as their int64 value, so an int32
    column (typical on GPU) and an int64 column (typical on CPU) hash identically.
    """
    if values.dtype == xp.uint64:
        return values
    return values.astype(xp.int64, copy=False).view(xp.uint64)


def segment_sum_u64(terms, offsets, xp=np):
    """Per-row sums (mod 2**64) of ``terms`` over the rows delimited by ``offsets``.

    A wrapping cumulative sum followed by differences at the row boundaries is exact in
    modular arithmetic, and runs unchanged on NumPy and CuPy (CuPy has no ``reduceat``).
    """
    csum = xp.zeros(terms.shape[0] + 1, dtype=xp.uint64)
    xp.cumsum(terms, out=csum[1:])
    return csum[offsets[1:]] - csum[offsets[:-1]]


def row_ids(offsets, n_items, xp=np):
    """The row index of every item (``int64``), for rows delimited by ``offsets``."""
    if xp is np:  # np.repeat takes per-row counts and is ~10x faster than a search
        return np.repeat(np.arange(offsets.shape[0] - 1, dtype=np.int64), np.diff(offsets))
    return xp.searchsorted(offsets[1:], xp.arange(n_items, dtype=offsets.dtype), side="right")


def content_row_keys(values_u64, offsets, xp=np):
    """Row keys for rows without a key column: the row's content and its ordinal.

    ``key_r = mix(sum_i mix(v_i + (p_i + 1) * GOLDEN) + mix((r + 1) * GOLDEN))`` where ``p_i``
    is the position in the row and ``r`` the row's ordinal in its partition.  The content
    term makes different sequences independent; the ordinal term keeps duplicate sequences
    in one partition independent.
    """
    n_rows = offsets.shape[0] - 1
    rows = row_ids(offsets, values_u64.shape[0], xp)
    pos = xp.arange(values_u64.shape[0], dtype=xp.int64) - offsets[rows]
    terms = mix64(values_u64 + (pos + 1).astype(xp.uint64) * xp.uint64(GOLDEN), xp)
    content = segment_sum_u64(terms, offsets, xp)
    ordinal = mix64(xp.arange(1, n_rows + 1, dtype=xp.uint64) * xp.uint64(GOLDEN), xp)
    return mix64(content + ordinal, xp)


def integer_row_keys(keys, xp=np):
    """Row keys from an integer key column: the value's 64-bit pattern."""
    return as_uint64(keys, xp)


def string_row_keys(data, offsets, xp=np):
    """Row keys from strings given as UTF-8 bytes ``data`` (uint8) and ``offsets``.

    Byte ``b`` at byte position ``j`` contributes ``mix(((j << 8) | b) + GOLDEN)``; the sum per
    string is mixed with its byte length.  pyarrow string arrays (pandas) and cuDF string
    columns expose exactly these two buffers.
    """
    n_bytes = data.shape[0]
    rows = row_ids(offsets, n_bytes, xp)
    pos = xp.arange(n_bytes, dtype=xp.int64) - offsets[rows]
    code = (pos.astype(xp.uint64) << xp.uint64(8)) | data.astype(xp.uint64)
    total = segment_sum_u64(mix64(code + xp.uint64(GOLDEN), xp), offsets, xp)
    length = (offsets[1:] - offsets[:-1]).astype(xp.uint64)
    return mix64(total ^ mix64(length + xp.uint64(MIX1), xp), xp)


def position_hashes(row_keys, offsets, n_items, key, xp=np):
    """The 64-bit hash of every position: ``mix(mix(K ^ key_r) + (p + 1) * GOLDEN)``.

    ``K`` is :func:`stream_key` of the draw; ``p`` is the 0-based position in the row.
    """
    rows = row_ids(offsets, n_items, xp)
    pos = xp.arange(n_items, dtype=xp.int64) - offsets[rows]
    row_hash = mix64(row_keys ^ xp.uint64(key), xp)
    return mix64(row_hash[rows] + (pos + 1).astype(xp.uint64) * xp.uint64(GOLDEN), xp), rows
