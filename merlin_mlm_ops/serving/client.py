"""Build Triton requests for list columns: ``<name>__values`` + ``<name>__offsets`` (INT32)."""
from __future__ import annotations

import numpy as np

from merlin_mlm_ops.adapters.names import offsets_name, values_name


def flat_sessions(rows, dtype=np.int64):
    """``(values, offsets)`` of a list of sessions (lists or arrays of ids)."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    values = np.concatenate([np.asarray(r, dtype=dtype) for r in rows]) if len(rows) else np.zeros(0, dtype)
    return values.astype(dtype), offsets


def infer_inputs(module, column, values, offsets):
    """``[InferInput(values), InferInput(offsets)]`` for ``tritonclient.http`` or ``tritonclient.grpc``."""
    from tritonclient.utils import np_to_triton_dtype

    inputs = []
    for name, array in ((values_name(column), values), (offsets_name(column), offsets)):
        item = module.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        item.set_data_from_numpy(array)
        inputs.append(item)
    return inputs


def unflatten(values, offsets):
    """Rows of a ragged output."""
    return [values[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
