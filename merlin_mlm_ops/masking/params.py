"""The mask operators' argument checks, shared by the NVTabular operators and the dataframe API.

Nothing here imports Merlin: :mod:`merlin_mlm_ops.ops` (NVTabular) and :mod:`merlin_mlm_ops.frames`
(pandas, Polars, PyArrow, cuDF, Dask) accept and reject exactly the same arguments.

>>> random_params(0.5, seed=7, key="session", epoch=1, min_masked=1, max_masked=None)["prob"]
0.5
>>> check_int("epoch", -1)
Traceback (most recent call last):
...
ValueError: epoch must be >= 0, got -1
"""
from __future__ import annotations

import numbers

from merlin_mlm_ops.adapters.names import SUFFIXES_TEXT, is_part_name


def check_int(name, value, *, minimum=0, allow_none=False, bits=None):
    """Raise a TypeError/ValueError unless ``value`` is an int >= ``minimum`` (or None if allowed).

    ``bits`` (default None: no bound) caps it: ``value < 2**bits``.  The kernels take 64-bit
    integers: a larger one overflowed there, or wrapped around silently (epoch 2**64 drew
    epoch 0's masks).
    """
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int{' or None' if allow_none else ''}, got {value!r}")
    value = int(value)  # NumPy 1 compares np.int64 with ints past 2**63 through float64
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if bits is not None and value >= 1 << bits:
        raise ValueError(f"{name} must be < 2**{bits}, got {value}")
    return value


def check_pad_id(pad_id):
    """``pad_id`` as an int in [-2**63, 2**64) (a 64-bit pattern), or None (every position eligible)."""
    if pad_id is None:
        return None
    return check_int("pad_id", pad_id, minimum=-(1 << 63), bits=64)


def check_mask_column(mask_column):
    """``mask_column`` unchanged if it is None or a usable column name, else TypeError/ValueError."""
    if mask_column is not None:
        if not isinstance(mask_column, str) or not mask_column:
            raise TypeError(f"mask_column must be a non-empty str or None, got {mask_column!r}")
        if is_part_name(mask_column):
            raise ValueError(f"mask_column {mask_column!r} must not end with {SUFFIXES_TEXT}")
    return mask_column


def check_key(key):
    """``key`` unchanged if it is None or a non-empty column name, else TypeError."""
    if key is not None and (not isinstance(key, str) or not key):
        raise TypeError(f"key must be a column name (str) or None, got {key!r}")
    return key


def random_params(prob, *, seed, key, epoch, min_masked, max_masked):
    """MaskRandom's arguments checked and normalised (``seed`` must already be an int here).

    Returns a dict with ``prob`` (float), ``seed``, ``key``, ``epoch``, ``min_masked``, ``max_masked``.
    """
    if isinstance(prob, bool) or not isinstance(prob, numbers.Real):
        raise TypeError(f"prob must be a float in (0, 1], got {prob!r}")
    if not 0.0 < float(prob) <= 1.0:  # also rejects NaN
        raise ValueError(f"prob must be in (0, 1], got {prob!r}")
    checked = {"prob": float(prob), "seed": check_int("seed", seed, bits=64), "key": check_key(key),
               "epoch": check_int("epoch", epoch, bits=64),
               "min_masked": check_int("min_masked", min_masked, bits=63),
               "max_masked": check_int("max_masked", max_masked, minimum=1, allow_none=True, bits=63)}
    if checked["max_masked"] is not None and checked["min_masked"] > checked["max_masked"]:
        raise ValueError(f"min_masked ({min_masked}) must be <= max_masked ({max_masked})")
    return checked
