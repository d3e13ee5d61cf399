"""merlin-systems operators for serving: request validation and an in-process SavedModel predictor."""
from __future__ import annotations

import os

import numpy as np
from merlin.dag import BaseOperator, ColumnSelector, DataFormats
from merlin.schema import ColumnSchema, Schema
from merlin.systems.dag.ops.tensorflow import PredictTensorflow
from merlin.table import TensorTable


class RequestError(ValueError):
    """A request that cannot be served; its message names the column (and row)."""


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
            values = _as_numpy(column.values)
            if column.offsets is None:
                if len(values) == 0:
                    raise RequestError(f"column '{name}': empty batch")
                continue
            offsets = _as_numpy(column.offsets).astype(np.int64)
            if len(offsets) < 2:
                raise RequestError(f"column '{name}': empty batch (offsets {offsets.tolist()})")
            if offsets[0] != 0 or offsets[-1] != len(values):
                raise RequestError(f"column '{name}': offsets must start at 0 and end at the number of values "
                                   f"({len(values)}), got {offsets[0]} .. {offsets[-1]}")
            bad = np.flatnonzero(np.diff(offsets) < 0)
            if len(bad):
                raise RequestError(f"column '{name}', row {int(bad[0])}: offsets decrease")
            for limit, wrong in ((self.min_id, values < self.min_id if self.min_id is not None else None),
                                 (self.max_id, values > self.max_id if self.max_id is not None else None)):
                if wrong is not None and wrong.any():
                    i = int(np.flatnonzero(wrong)[0])
                    row = int(np.searchsorted(offsets, i, side="right") - 1)
                    raise RequestError(f"column '{name}', row {row}: id {values[i]} is out of range "
                                       f"[{self.min_id}, {self.max_id if self.max_id is not None else 'inf'}]")
        return transformable

    @property
    def supported_formats(self):
        return DataFormats.NUMPY_TENSOR_TABLE | DataFormats.CUPY_TENSOR_TABLE


class PredictSavedModel(PredictTensorflow):
    """Runs a TensorFlow SavedModel inside the ensemble's python-backend model.

    merlin-systems exports ``PredictTensorflow`` as a separate ``tensorflow_savedmodel`` Triton
    model, which needs Triton's TensorFlow backend (present in NVIDIA's Triton containers, absent
    from the pip-installed server).  This subclass is not swapped at export: its SavedModel is
    written with the ensemble's artifacts and loaded with ``tf.saved_model.load`` in the executor,
    so the whole ensemble runs on the python backend alone.  With ``top_k`` it also returns, per
    row, the ``top_k`` best ids and their scores (``<output>_top_ids``, ``<output>_top_scores``).

    Parameters
    ----------
    model_or_path : tf.keras.Model or str
        The trained model (e.g. a merlin-models BERT4Rec) or a SavedModel folder.
    top_k : int or None, default None
        Also return the ``top_k`` highest-scoring ids of the model's (single) output.
    """

    ARTIFACT = "predict_saved_model"

    def __init__(self, model_or_path, top_k=None):
        super().__init__(model_or_path)
        self.top_k = top_k
        if top_k is not None:
            out = self.output_schema.first
            self.score_column = out.name
            self.output_schema = self.output_schema + Schema([
                ColumnSchema(f"{out.name}_top_ids", dtype=np.int64, dims=[None, top_k]),
                ColumnSchema(f"{out.name}_top_scores", dtype=out.dtype, dims=[None, top_k]),
            ])

    def transform(self, col_selector, transformable):
        import tensorflow as tf

        table = transformable if isinstance(transformable, TensorTable) else TensorTable.from_df(transformable)
        inputs = {}
        for name in self.input_schema.column_names:
            column = table[name]
            dtype = self.input_schema[name].dtype.to("tensorflow")
            values = tf.convert_to_tensor(_as_numpy(column.values), dtype=dtype)
            if column.offsets is None:
                inputs[name] = values
            else:  # SavedModel signatures take int64 offsets; Triton sends int32
                inputs[f"{name}__values"] = values
                inputs[f"{name}__offsets"] = tf.convert_to_tensor(_as_numpy(column.offsets), dtype=tf.int64)
        # A reloaded SavedModel's `__call__` re-dispatches for every new input shape (~0.5 s per
        # request); its serving signature is one concrete function for all shapes (~5 ms).
        signature = getattr(self.model, "signatures", {}).get("serving_default") if hasattr(self.model, "signatures") else None
        outputs = signature(**inputs) if signature is not None else self.model(inputs)
        if not isinstance(outputs, dict):
            outputs = {self.output_schema.column_names[0]: outputs}
        result = {name: outputs[name].numpy() for name in outputs if name in self.output_schema.column_names}
        if self.top_k is not None:
            top = tf.math.top_k(outputs[self.score_column], k=self.top_k)  # ties: the lower id first
            result[f"{self.score_column}_top_ids"] = top.indices.numpy().astype(np.int64)
            result[f"{self.score_column}_top_scores"] = top.values.numpy()
        return TensorTable(result)

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
