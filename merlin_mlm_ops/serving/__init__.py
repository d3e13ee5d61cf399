"""Serving: export the workflow (and a model trained on its masks) to Triton, deterministically.

- :func:`serving_workflow`: the training workflow with masking dropped (one documented call).
- :func:`workflow_ensemble`, :func:`model_ensemble`, :func:`export`: merlin-systems Ensembles and
  their Triton model repository, runnable on Triton's python backend alone.
- :class:`TritonServer`: a real Triton server from PyPI's nvidia-pytriton, on loopback.
- :mod:`~merlin_mlm_ops.serving.sessions`: the rules every served session follows (recent
  ``max_len - 1`` items, popularity for empty sessions), shared with in-process callers.
- :mod:`~merlin_mlm_ops.serving.executor_model`: the entry model; client errors as HTTP 400.
"""
from merlin_mlm_ops.serving.workflow import PassThrough, serving_workflow

__all__ = ["PassThrough", "TritonServer", "export", "model_ensemble", "serving_workflow", "workflow_ensemble"]


def __getattr__(name):
    if name in ("export", "model_ensemble", "workflow_ensemble"):
        from merlin_mlm_ops.serving import ensembles

        return getattr(ensembles, name)
    if name == "TritonServer":
        from merlin_mlm_ops.serving.triton import TritonServer

        return TritonServer
    raise AttributeError(f"module 'merlin_mlm_ops.serving' has no attribute {name!r}")
