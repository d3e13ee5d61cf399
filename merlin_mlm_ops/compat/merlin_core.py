"""Fast, fixed pandas list-column paths for merlin-core / NVTabular 23.08 (CPU only).

merlin-core 23.08 (no release since 2023) handles pandas list columns one Python object at
a time, and NVTabular's CPU operators inherit it:

- ``merlin.core.dispatch.flatten_list_column_values`` builds ``pd.Series(itertools.chain(*s))``:
  one Python scalar per item, then pandas infers a dtype over all of them (~13 us per item).
  It is called by Categorify's fit (``flatten_list_column``) and transform, by
  ``pull_apart_list`` (merlin-dataloader, ``merlin.table``), and by Normalize, LogOp and
  Moments (which import it by name).
- ``merlin.core.dispatch.encode_list_column`` rebuilds the list column with a Python loop per
  row, and returns it with a fresh ``RangeIndex``: assigned back into a partition whose index
  does not start at 0 (``Dataset(df, npartitions=k)``), every row becomes NaN. Categorify's
  transform and HashBucket, LogOp and Normalize (by name) use it.
- ``merlin.dataloader.loader_base._array_leaves`` (merlin-dataloader 23.08) walks a
  fixed-length list column item by item through a recursive Python generator.

:func:`apply` replaces the first two in ``merlin.core.dispatch`` (looked up there as
``dispatch.<name>`` by Categorify and, for ``flatten_list_column_values``, by
``flatten_list_column`` and ``pull_apart_list``) and in the NVTabular modules that imported
them by name, and the third in the loader.  The replacements take the fast path only for the inputs whose result they
reproduce exactly (1-D NumPy rows of one numeric/bool dtype, or of Python strings); anything
else (Python-list rows, null rows, mixed dtypes, cuDF) goes to the original function, so
outputs and errors are the originals'.  The one intended difference: ``encode_list_column``
keeps the index of the column it encodes.

It is active only on the versions it was written for (merlin-core 23.8.x; NVTabular's and
merlin-dataloader's names only at their 23.8.x) and never when ``MERLIN_MLM_OPS_NO_COMPAT=1``.  Importing
``merlin_mlm_ops.ops`` (hence ``MaskRandom``/``MaskLast``), the demo and ``merlin-mlm`` apply
it; a library user who runs Categorify without those calls :func:`apply` once::

    from merlin_mlm_ops.compat import apply
    apply()          # True when active; idempotent

Dask worker processes need it too: :func:`merlin_mlm_ops.compat.dask.register` (client).
"""
from __future__ import annotations

import importlib
from operator import attrgetter

import numpy as np
import pandas as pd

from merlin_mlm_ops.compat.registry import ENV_VAR, disabled_by_env  # noqa: F401 - ENV_VAR: the old name

#: The distributions and versions (prefix of the installed version) this module was written for.
WRITTEN_FOR = {"merlin-core": "23.8.", "nvtabular": "23.8.", "merlin-dataloader": "23.8."}

#: (distribution guarding it, module, name) of every name replaced, merlin-core's first: the other
#: modules imported merlin-core's functions by name (``from merlin.core.dispatch import ...``).
_TARGETS = (
    ("merlin-core", "merlin.core.dispatch", "flatten_list_column_values"),
    ("merlin-core", "merlin.core.dispatch", "encode_list_column"),
    ("nvtabular", "nvtabular.ops.normalize", "flatten_list_column_values"),
    ("nvtabular", "nvtabular.ops.normalize", "encode_list_column"),
    ("nvtabular", "nvtabular.ops.moments", "flatten_list_column_values"),
    ("nvtabular", "nvtabular.ops.logop", "flatten_list_column_values"),
    ("nvtabular", "nvtabular.ops.logop", "encode_list_column"),
    ("nvtabular", "nvtabular.ops.hash_bucket", "encode_list_column"),
    ("merlin-dataloader", "merlin.dataloader.loader_base", "_array_leaves"),
)

_originals: dict = {}   # name -> merlin-core's function
_patched: list = []     # (module, name) holding a replacement


def version_supported(distribution: str) -> bool:
    """True when ``distribution`` (a key of :data:`WRITTEN_FOR`, e.g. ``"merlin-core"``) is
    installed at the version this module was written for."""
    from importlib import metadata

    try:
        return metadata.version(distribution).startswith(WRITTEN_FOR[distribution])
    except metadata.PackageNotFoundError:
        return False


def is_active() -> bool:
    """True while the replacements are installed."""
    return bool(_patched)


def apply() -> bool:
    """Install the replacements; returns True when they are active.

    Idempotent. Does nothing (returns False) when :data:`ENV_VAR` is set or merlin-core is
    not 23.8.x; NVTabular's and merlin-dataloader's modules are patched only at 23.8.x.
    """
    if _patched:
        return True
    if disabled_by_env() or not version_supported("merlin-core"):
        return False
    for distribution, module_name, name in _TARGETS:
        if not version_supported(distribution):
            continue
        module = importlib.import_module(module_name)
        current = getattr(module, name, None)
        original = _originals.setdefault(name, current)
        # Only a name still bound to the original: never override someone else's patch.
        if current is original and current is not None:
            setattr(module, name, _REPLACEMENTS[name])
            _patched.append((module, name))
    return True


def undo() -> None:
    """Put merlin-core's and NVTabular's original functions back (for tests and comparisons)."""
    while _patched:
        module, name = _patched.pop()
        if getattr(module, name) is _REPLACEMENTS[name]:
            setattr(module, name, _originals[name])


def flatten_list_column_values(s):
    """merlin-core's ``flatten_list_column_values``: the items of list column ``s``, one after
    the other, as a Series with a fresh RangeIndex.

    ``s``: a pandas Series whose rows are 1-D arrays (fast path) or anything merlin-core takes
    (the original runs).

    >>> flatten_list_column_values(pd.Series([np.array([3, 1]), np.array([2])])).tolist()
    [3, 1, 2]
    """
    if isinstance(s, pd.Series):
        flat = _concatenate_rows(s.to_numpy())
        if flat is not None:
            return pd.Series(flat)
    return _originals["flatten_list_column_values"](s)


def encode_list_column(original, encoded, dtype=None):
    """merlin-core's ``encode_list_column``: ``encoded`` (flat, one value per item of
    ``original``) cut into rows of ``original``'s lengths, cast to ``dtype`` (default: keep).

    Unlike merlin-core 23.08 the result keeps ``original``'s index, so it lines up with the
    partition it is assigned to.

    >>> encode_list_column(pd.Series([[5, 6], [7]], index=[10, 11]), np.array([1, 2, 3]))
    10    [1, 2]
    11       [3]
    dtype: object
    """
    if isinstance(original, pd.Series) and isinstance(encoded, (np.ndarray, pd.Series)):
        rows = _split_rows(original.to_numpy(), encoded, dtype)
        if rows is not None:
            return pd.Series(rows, index=original.index)
    result = _originals["encode_list_column"](original, encoded, dtype=dtype)
    if isinstance(original, pd.Series) and isinstance(result, pd.Series) and len(result) == len(original):
        result.index = original.index
    return result


def array_leaves(x):
    """merlin-dataloader's ``_array_leaves``: an iterator over the innermost items of ``x``.

    The loader builds fixed-length list columns with ``np.array(list(_array_leaves(rows)))``;
    merlin-dataloader 23.08 recurses through a Python generator per item. ``x``: an object array
    of 1-D rows (fast path: the concatenated rows) or anything the original takes.

    >>> rows = pd.Series([np.array([1, 2]), np.array([3])]).to_numpy()
    >>> np.array(list(array_leaves(rows)))
    array([1, 2, 3])
    """
    if isinstance(x, np.ndarray):
        flat = _concatenate_rows(x)
        if flat is not None:
            return iter(flat)
    return _originals["_array_leaves"](x)


def _concatenate_rows(rows: np.ndarray):
    """The items of ``rows`` (object array of row arrays) when pandas' inference over them
    would give back exactly their own dtype, else None (the caller runs the original)."""
    if rows.dtype != object or not len(rows) or set(map(type, rows)) != {np.ndarray}:
        return None
    dtypes = set(map(attrgetter("dtype"), rows))
    if len(dtypes) != 1 or set(map(attrgetter("ndim"), rows)) != {1}:
        return None
    (dtype,) = dtypes
    # pandas 1.5 keeps a homogeneous run of NumPy bool/int/uint/float scalars in their dtype, and
    # Python strings as object; anything else (datetimes, mixed objects, None) it may convert.
    if dtype.kind not in "biuf" and dtype != object:
        return None
    flat = np.concatenate(rows)
    if not len(flat):  # pandas gives an empty Series float64 (with a warning): leave it to the original
        return None
    if dtype == object and pd.api.types.infer_dtype(flat, skipna=True) != "string":
        return None
    return flat


def _split_rows(rows: np.ndarray, encoded, dtype):
    """``encoded`` cut into views of ``rows``' lengths, as a list, or None (run the original)."""
    if rows.dtype != object or not len(rows) or not set(map(type, rows)) <= {np.ndarray, list, tuple}:
        return None
    flat = np.asarray(encoded, dtype=dtype)
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    if flat.ndim != 1 or flat.dtype.kind not in "biuf" or int(lengths.sum()) != len(flat):
        return None
    ends = np.cumsum(lengths)
    starts = ends - lengths
    caller_array = encoded.to_numpy() if isinstance(encoded, pd.Series) else np.asarray(encoded)
    if np.may_share_memory(flat, caller_array):  # also any ndarray subclass, e.g. np.ma.MaskedArray
        flat = flat.copy()  # merlin-core's rows never alias the caller's array
    # map() over C callables: one slice per row without a Python-level loop.
    return list(map(flat.__getitem__, map(slice, starts.tolist(), ends.tolist())))


_REPLACEMENTS = {
    "flatten_list_column_values": flatten_list_column_values,
    "encode_list_column": encode_list_column,
    "_array_leaves": array_leaves,
}
