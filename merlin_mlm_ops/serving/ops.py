"""merlin-systems operators for serving: request validation and an in-process SavedModel predictor."""
from __future__ import annotations

import os

import numpy as np
from merlin.dag import BaseOperator, ColumnSelector, DataFormats
from merlin.schema import ColumnSchema, Schema
from merlin.systems.dag.ops.tensorflow import PredictTensorflow
from merlin.table import TensorTable

from merlin_mlm_ops.adapters.names import offsets_name, values_name
from merlin_mlm_ops.serving.sessions import DEFAULT_MAX_LEN, assemble_scores, fit_sessions


class RequestError(ValueError):
    """A request that cannot be served; its message names the column (and row)."""


def error_reply(exc):
    """``(client_error, one-line message)`` answering an exception raised while serving a request.

    A :class:`RequestError` is the client's (its message); anything else is the server's, and
    its message (which may hold server paths) stays in the server log.
    """
    if isinstance(exc, RequestError):
        return True, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return False, f"internal server error ({type(exc).__name__}); the server log has the details"


def _as_numpy(array):
    return array if isinstance(array, np.ndarray) else np.asarray(array)


class ValidateSequences(BaseOperator):
    """Rejects malformed requests before any work: the first node of a serving ensemble.

    For every list column of the request: the batch is not empty, ``__offsets`` start at 0,
    never decrease and end at the number of values, and ids lie in ``[min_id, max_id]``.  It
    passes the columns through unchanged; a violation raises :class:`RequestError`, which
    Triton returns as the request's error while the server keeps serving.

    Parameters
    ----------
    min_id : int, default 0
        Smallest valid id (raw ids are non-negative by contract).
    max_id : int or None, default None
        Largest valid id; None for no upper bound (raw ids before Categorify).
    """

    def __init__(self, min_id=0, max_id=None):
        super().__init__()
        self.min_id, self.max_id = min_id, max_id

    def transform(self, col_selector: ColumnSelector, transformable):
        table = transformable if isinstance(transformable, TensorTable) else TensorTable.from_df(transformable)
        for name in col_selector.names:
            column = table[name]
            self.check(name, _as_numpy(column.values), None if column.offsets is None else _as_numpy(column.offsets))
        return transformable

    def check(self, name, values, offsets=None):
        """Raises :class:`RequestError` unless ``values`` (+ ``offsets``) are a valid column ``name``.

        Works on the raw request arrays, before any table is built from them (the served
        executor calls it first, so a malformed request never reaches merlin's conversions).
        """
        values = np.asarray(values)
        if values.ndim != 1:
            raise RequestError(f"column '{name}': values must be 1-D, got shape {list(values.shape)}")
        if offsets is None:
            if len(values) == 0:
                raise RequestError(f"column '{name}': empty batch")
        else:
            offsets = np.asarray(offsets)
            if offsets.ndim != 1 or len(offsets) == 0:
                raise RequestError(f"column '{name}': offsets must be a 1-D array of batch size + 1 entries, "
                                   f"got shape {list(offsets.shape)}")
            if len(offsets) == 1:
                raise RequestError(f"column '{name}': empty batch (offsets {offsets.tolist()})")
            offsets = offsets.astype(np.int64)
            if offsets[0] != 0 or offsets[-1] != len(values):
                raise RequestError(f"column '{name}': offsets must start at 0 and end at the number of values "
                                   f"({len(values)}), got {offsets[0]} .. {offsets[-1]}")
            bad = np.flatnonzero(np.diff(offsets) < 0)
            if len(bad):
                raise RequestError(f"column '{name}', row {int(bad[0])}: offsets decrease")
        if values.dtype.kind not in "iu":
            return
        for wrong in (values < self.min_id if self.min_id is not None else None,
                      values > self.max_id if self.max_id is not None else None):
            if wrong is not None and wrong.any():
                i = int(np.flatnonzero(wrong)[0])
                where = f", row {int(np.searchsorted(offsets, i, side='right') - 1)}" if offsets is not None else f", row {i}"
                raise RequestError(f"column '{name}'{where}: id {values[i]} is out of range "
                                   f"[{self.min_id}, {self.max_id if self.max_id is not None else 'inf'}]")

    @property
    def supported_formats(self):
        return DataFormats.NUMPY_TENSOR_TABLE | DataFormats.CUPY_TENSOR_TABLE


def model_positions(model, default=DEFAULT_MAX_LEN):
    """The positions of a Keras model's transformer (``max_position_embeddings``), else ``default``."""
    layers = model._flatten_layers(include_self=False) if hasattr(model, "_flatten_layers") else ()
    for layer in layers:
        positions = getattr(getattr(layer, "config", None), "max_position_embeddings", None)
        if isinstance(positions, int):
            return positions
    return default


class PredictSavedModel(PredictTensorflow):
    """Runs a TensorFlow SavedModel inside the ensemble's python-backend model.

    merlin-systems exports ``PredictTensorflow`` as a separate ``tensorflow_savedmodel`` Triton
    model, which needs Triton's TensorFlow backend (present in NVIDIA's Triton containers, absent
    from the pip-installed server).  This subclass is not swapped at export: its SavedModel is
    written with the ensemble's artifacts and loaded with ``tf.saved_model.load`` in the executor,
    so the whole ensemble runs on the python backend alone.  With ``top_k`` it also returns, per
    row, the ``top_k`` best ids and their scores (``<output>_top_ids``, ``<output>_top_scores``).

    Every session gets an answer (:mod:`merlin_mlm_ops.serving.sessions`): a session longer than
    ``max_len - 1`` items keeps its most recent ones, and an empty session is left out of the
    model's batch and gets ``fallback_scores``; the other sessions are scored as if it were absent.

    Parameters
    ----------
    model_or_path : tf.keras.Model or str
        The trained model (e.g. a merlin-models BERT4Rec) or a SavedModel folder.
    top_k : int or None, default None
        Also return the ``top_k`` highest-scoring ids of the model's (single) output.
    max_len : int or None, default None
        The model's positions, its [MASK] slot included (BERT4Rec's ``max_len``): sessions keep
        their most recent ``max_len - 1`` items.  None: the model's own
        (``max_position_embeddings`` of its BERT layer, else 512).
    fallback_scores : 1-D array or None, default None
        The scores an empty session gets (one per id the model scores), e.g.
        :func:`~merlin_mlm_ops.serving.sessions.popularity_scores`.  None: an empty session is a
        :class:`RequestError`.
    """

    ARTIFACT = "predict_saved_model"

    def __init__(self, model_or_path, top_k=None, max_len=None, fallback_scores=None):
        super().__init__(model_or_path)
        self.top_k = top_k
        self.max_len = max_len if max_len is not None else model_positions(model_or_path)
        if self.max_len < 2:
            raise ValueError(f"max_len must be >= 2 (one item and the [MASK] slot), got {self.max_len}")
        out = self.output_schema.first
        self.score_column = out.name
        self.fallback_scores = None
        self.set_fallback_scores(fallback_scores)
        if top_k is not None:
            self.output_schema = self.output_schema + Schema([
                ColumnSchema(f"{out.name}_top_ids", dtype=np.int64, dims=[None, top_k]),
                ColumnSchema(f"{out.name}_top_scores", dtype=out.dtype, dims=[None, top_k]),
            ])

    def set_fallback_scores(self, scores):
        """Sets the scores an empty session gets (None: an empty session is a :class:`RequestError`)."""
        if scores is not None:
            scores = np.asarray(scores, dtype=np.float32)
            dims = self.output_schema[self.score_column].shape.dims
            n_scores = dims[-1].max if dims is not None and len(dims) > 1 else None
            if scores.ndim != 1 or (n_scores is not None and len(scores) != n_scores):
                raise ValueError(f"fallback scores have shape {scores.shape}; the model's output "
                                 f"'{self.score_column}' scores {n_scores} ids")
        self.fallback_scores = scores

    def transform(self, col_selector, transformable):
        table = transformable if isinstance(transformable, TensorTable) else TensorTable.from_df(transformable)
        columns = {name: (_as_numpy(table[name].values),
                          None if table[name].offsets is None else _as_numpy(table[name].offsets))
                   for name in self.input_schema.column_names}
        batch_size, scored, scores = self.score(columns)
        if len(scored) < batch_size and self.fallback_scores is None:
            row = int(np.setdiff1d(np.arange(batch_size), scored)[0])
            raise RequestError(f"column '{next(iter(columns))}', row {row}: empty session, and the model "
                               "was exported without fallback scores")
        scores = assemble_scores(batch_size, scored, scores, self.fallback_scores)
        result = {self.score_column: scores}
        if self.top_k is not None:
            import tensorflow as tf

            top = tf.math.top_k(scores, k=self.top_k)  # ties: the lower id first
            result[f"{self.score_column}_top_ids"] = top.indices.numpy().astype(np.int64)
            result[f"{self.score_column}_top_scores"] = top.values.numpy()
        return TensorTable(result)

    def score(self, columns):
        """``(batch_size, scored_rows, scores)`` for ``{name: (values, offsets or None)}``.

        Applies :func:`~merlin_mlm_ops.serving.sessions.fit_sessions` (long sessions keep their
        last ``max_len - 1`` items, empty ones are left out) and calls the model on the rest;
        ``scores`` is None when no row is left.
        """
        import tensorflow as tf

        ragged = [name for name, (_, offsets) in columns.items() if offsets is not None]
        first_values, first_offsets = columns[ragged[0] if ragged else next(iter(columns))]
        batch_size = len(first_offsets) - 1 if ragged else len(first_values)
        scored, inputs = None, {}
        for name in ragged:
            values, offsets, rows = fit_sessions(*columns[name], self.max_len)
            scored = rows if scored is None else scored
            inputs[values_name(name)] = tf.convert_to_tensor(values, dtype=self.input_schema[name].dtype.to("tensorflow"))
            # SavedModel signatures take int64 offsets; Triton sends int32
            inputs[offsets_name(name)] = tf.convert_to_tensor(offsets, dtype=tf.int64)
        scored = np.arange(batch_size) if scored is None else scored
        for name, (values, offsets) in columns.items():
            if offsets is None:
                inputs[name] = tf.convert_to_tensor(values if len(scored) == batch_size else values[scored],
                                                    dtype=self.input_schema[name].dtype.to("tensorflow"))
        if len(scored) == 0:
            return batch_size, scored, None
        # A reloaded SavedModel's `__call__` re-dispatches for every new input shape (~0.5 s per
        # request); its serving signature is one concrete function for all shapes (~5 ms).
        signature = getattr(self.model, "signatures", {}).get("serving_default") if hasattr(self.model, "signatures") else None
        outputs = signature(**inputs) if signature is not None else self.model(inputs)
        if isinstance(outputs, dict):
            outputs = outputs[self.score_column]
        return batch_size, scored, outputs.numpy()

    def save_artifacts(self, artifact_path=None):
        if artifact_path is not None and getattr(self, "model", None) is not None:
            import tensorflow as tf

            tf.saved_model.save(self.model, os.path.join(artifact_path, self.ARTIFACT))

    def load_artifacts(self, artifact_path=None):
        if artifact_path is None:
            return
        path = os.path.join(artifact_path, self.ARTIFACT)
        if os.path.isdir(path):
            try:  # a BertBlock only reloads with its masking once HF's TF BERT is imported
                import transformers.models.bert.modeling_tf_bert  # noqa: F401
            except ImportError:
                pass
            import tensorflow as tf

            self.model = tf.saved_model.load(path)
