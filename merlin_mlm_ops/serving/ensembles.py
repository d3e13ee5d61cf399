"""Export a training workflow (and a model trained on its masks) as a Triton model repository."""
from __future__ import annotations

from merlin.systems.dag import Ensemble
from merlin.systems.dag.ops.workflow import TransformWorkflow

from merlin_mlm_ops.serving.ops import PredictSavedModel, ValidateSequences
from merlin_mlm_ops.serving.workflow import serving_workflow


def workflow_ensemble(workflow, max_id=None):
    """An Ensemble that validates a request and runs the serving form of ``workflow``.

    ``max_id`` bounds the request's ids (``ValidateSequences``); ids must be >= 0.
    """
    wf = serving_workflow(workflow)
    inputs = wf.input_schema.column_names
    graph = inputs >> ValidateSequences(max_id=max_id) >> TransformWorkflow(wf)
    return Ensemble(graph, wf.input_schema)


def model_ensemble(workflow, model, top_k=10, max_id=None):
    """An Ensemble: validation, the serving workflow, then ``model`` (in the python backend).

    The model's inputs are the workflow's outputs that it names; its scores come back with the
    ``top_k`` best item ids per session (``<output>_top_ids``, ``<output>_top_scores``).
    """
    wf = serving_workflow(workflow)
    inputs = wf.input_schema.column_names
    predict = PredictSavedModel(model, top_k=top_k)
    features = inputs >> ValidateSequences(max_id=max_id) >> TransformWorkflow(wf)
    graph = features[predict.input_schema.column_names] >> predict
    return Ensemble(graph, wf.input_schema)


def export(ensemble, path, name="executor_model"):
    """Write ``ensemble`` as a Triton model repository at ``path``; returns the entry model's name.

    Several ensembles of the same workflow can share one repository under different names (their
    workflow model, ``0_transformworkflowtriton``, is the same).

    Every model in it runs on Triton's python backend (the only one the pip-installed server
    bundles); in NVIDIA's Triton containers the same repository serves unchanged.
    """
    config, _ = ensemble.export(str(path), name=name)
    return config.name


__all__ = ["export", "model_ensemble", "workflow_ensemble"]
