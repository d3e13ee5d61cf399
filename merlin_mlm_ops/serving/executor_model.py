"""The entry model of an exported ensemble: merlin-systems' executor, with client errors as client errors.

merlin-systems' executor turns every exception into an INTERNAL error carrying the server's full
traceback (HTTP 500 / gRPC INTERNAL, server paths included).  This subclass is the one place that
changes it: the request's ragged inputs are checked by the ensemble's
:class:`~merlin_mlm_ops.serving.ops.ValidateSequences` before merlin builds a table from them, and

- a :class:`~merlin_mlm_ops.serving.ops.RequestError` is answered as ``INVALID_ARG`` (HTTP 400,
  gRPC INVALID_ARGUMENT) with its one-line message;
- any other exception is answered as ``INTERNAL`` (HTTP 500) with one line naming its type; the
  traceback goes to the server log only.

:func:`merlin_mlm_ops.serving.export` copies this file as the entry model's ``model.py``.
"""
from __future__ import annotations

import traceback

import numpy as np
from merlin.dag import postorder_iter_nodes
from merlin.systems.dag.ops.compat import pb_utils
from merlin.systems.dag.runtimes.triton import TritonExecutorRuntime
from merlin.systems.triton.conversions import tensor_table_to_triton_response, triton_request_to_tensor_table
from merlin.systems.triton.models.executor_model import TritonPythonModel as MerlinExecutor

from merlin_mlm_ops.adapters.names import offsets_name, values_name
from merlin_mlm_ops.serving.ops import RequestError, ValidateSequences, error_reply


class TritonPythonModel(MerlinExecutor):
    """merlin-systems' executor model (one request at a time) with
    :func:`~merlin_mlm_ops.serving.ops.error_reply` answers."""

    def initialize(self, args):
        super().initialize(args)
        nodes = postorder_iter_nodes(self.ensemble.graph.output_node, flatten_subgraphs=True)
        self.validators = [node.op for node in nodes if isinstance(node.op, ValidateSequences)]
        self.ragged = [col.name for col in self.ensemble.input_schema if col.is_list and col.is_ragged]

    def execute(self, requests):
        return [self._answer(request) for request in requests]

    def _answer(self, request):
        try:
            self._check(request)
            inputs = triton_request_to_tensor_table(request, self.ensemble.input_schema)
            outputs = self.ensemble.transform(inputs, runtime=TritonExecutorRuntime())
            return tensor_table_to_triton_response(outputs, self.ensemble.output_schema)
        except Exception as exc:  # noqa: BLE001 - every failure becomes this request's error response
            client, message = error_reply(exc)
            if not client:
                _log_error(traceback.format_exc())
            return pb_utils.InferenceResponse(output_tensors=[], error=_triton_error(message, client))

    def _check(self, request):
        for name in self.ragged:
            values = pb_utils.get_input_tensor_by_name(request, values_name(name))
            offsets = pb_utils.get_input_tensor_by_name(request, offsets_name(name))
            if values is None or offsets is None:
                raise RequestError(f"column '{name}': the request needs both {values_name(name)} and "
                                   f"{offsets_name(name)}")
            for validator in self.validators:
                validator.check(name, values.as_numpy(), np.asarray(offsets.as_numpy()))


def _triton_error(message, client):
    """``TritonError`` with the client/server code. Older python backends (Triton < ~2.40, e.g. the
    Merlin 23.08 containers' 2.35; seen with nvidia-pytriton 0.4.0's) have no codes: every model error
    gets one status there (400 in that one), and only the one-line message tells a client error from
    a server fault."""
    code = getattr(pb_utils.TritonError, "INVALID_ARG" if client else "INTERNAL", None)
    return pb_utils.TritonError(message) if code is None else pb_utils.TritonError(message, code)


def _log_error(text):
    logger = getattr(pb_utils, "Logger", None)  # the python backend's logger, where it has one
    if logger is not None:
        logger.log_error(text)
    else:
        import sys

        print(text, file=sys.stderr)  # the stub's stderr goes to the server log
