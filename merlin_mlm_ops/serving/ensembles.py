"""Export a training workflow (and a model trained on its masks) as a Triton model repository."""
from __future__ import annotations

import os

from merlin.systems.dag import Ensemble
from merlin.systems.dag.ops.workflow import TransformWorkflow

from merlin_mlm_ops.serving.ops import PredictSavedModel, ValidateSequences
from merlin_mlm_ops.serving.sessions import popularity_scores
from merlin_mlm_ops.serving.workflow import serving_workflow

ENTRY_MODEL = "from merlin_mlm_ops.serving.executor_model import TritonPythonModel  # noqa: F401\n"


def workflow_ensemble(workflow, max_id=None):
    """An Ensemble that validates a request and runs the serving form of ``workflow``.

    ``max_id`` bounds the request's ids (``ValidateSequences``); ids must be >= 0.
    """
    wf = serving_workflow(workflow)
    inputs = wf.input_schema.column_names
    graph = inputs >> ValidateSequences(max_id=max_id) >> TransformWorkflow(wf)
    return Ensemble(graph, wf.input_schema)


def model_ensemble(workflow, model, top_k=10, max_id=None, max_len=None, fallback="popularity"):
    """An Ensemble: validation, the serving workflow, then ``model`` (in the python backend).

    The model's inputs are the workflow's outputs that it names; its scores come back with the
    ``top_k`` best item ids per session (``<output>_top_ids``, ``<output>_top_scores``).

    Parameters
    ----------
    workflow : nvtabular.Workflow
        The fitted training workflow (its masking is dropped, see :func:`serving_workflow`).
    model : tf.keras.Model or str
        The trained model (or its SavedModel folder).
    top_k : int or None, default 10
        How many best ids (and scores) to return per session.
    max_id : int or None, default None
        Largest valid raw id in a request (ids must be >= 0).
    max_len : int or None, default None
        The model's positions, [MASK] slot included: sessions keep their most recent
        ``max_len - 1`` items.  None: the model's own (512 for BERT).
    fallback : "popularity" or array or None, default "popularity"
        Scores for an empty session: ``"popularity"`` is
        :func:`~merlin_mlm_ops.serving.sessions.popularity_scores` of the model's item column,
        from the workflow's Categorify; an array gives them directly; None makes an empty
        session a client error.

    >>> ensemble = model_ensemble(wf, model, top_k=10, max_len=200)  # doctest: +SKIP
    """
    wf = serving_workflow(workflow)
    inputs = wf.input_schema.column_names
    if isinstance(fallback, str) and fallback != "popularity":
        raise ValueError(f"fallback must be 'popularity', an array or None, got {fallback!r}")
    predict = PredictSavedModel(model, top_k=top_k, max_len=max_len)
    if isinstance(fallback, str):  # the model's output is named "<item column>/categorical_output"
        fallback = popularity_scores(wf, predict.score_column.split("/")[0])
    predict.set_fallback_scores(fallback)
    features = inputs >> ValidateSequences(max_id=max_id) >> TransformWorkflow(wf)
    graph = features[predict.input_schema.column_names] >> predict
    return Ensemble(graph, wf.input_schema)


def export(ensemble, path, name="executor_model", instances=1):
    """Write ``ensemble`` as a Triton model repository at ``path``; returns the entry model's name.

    Several ensembles of the same workflow can share one repository under different names (their
    workflow model, ``0_transformworkflowtriton``, is the same).

    Every model in it runs on Triton's python backend (the only one the pip-installed server
    bundles); in NVIDIA's Triton containers the same repository serves unchanged.  The entry
    model is merlin-systems' executor with :mod:`~merlin_mlm_ops.serving.executor_model`'s error
    answers (client errors as HTTP 400 / gRPC INVALID_ARGUMENT).

    Parameters
    ----------
    ensemble : merlin.systems.dag.Ensemble
        E.g. from :func:`workflow_ensemble` or :func:`model_ensemble`.
    path : str
        The model repository folder (created if needed).
    name : str, default "executor_model"
        The entry model's name (the one clients call).
    instances : int, default 1
        Instances of each model of the ensemble (Triton's ``instance_group { count }``, the entry
        model and the workflow model it calls): each is a backend process serving one request at
        a time.
    """
    config, node_configs = ensemble.export(str(path), name=name)
    with open(os.path.join(str(path), config.name, "1", "model.py"), "w") as fh:
        fh.write(ENTRY_MODEL)
    if instances != 1:
        for model in [config, *node_configs]:
            set_instances(os.path.join(str(path), model.name, "config.pbtxt"), instances)
    return config.name


def set_instances(config_path, count):
    """Sets ``instance_group [{ count: N, kind: KIND_CPU }]`` in a Triton ``config.pbtxt``."""
    import tritonclient.grpc.model_config_pb2 as model_config
    from google.protobuf import text_format

    if count < 1:
        raise ValueError(f"instances must be >= 1, got {count}")
    with open(config_path) as fh:
        config = text_format.Parse(fh.read(), model_config.ModelConfig())
    del config.instance_group[:]
    config.instance_group.add(count=count, kind=model_config.ModelInstanceGroup.Kind.KIND_CPU)
    with open(config_path, "w") as fh:
        text_format.PrintMessage(config, fh)


__all__ = ["export", "model_ensemble", "set_instances", "workflow_ensemble"]
