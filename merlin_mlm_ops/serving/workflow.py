"""The serving form of a training workflow: the same graph, fitted state and all, minus masking.

Serving draws no random masks.  :func:`serving_workflow` copies a fitted training workflow and
replaces each mask operator (:class:`~merlin_mlm_ops.MaskRandom`, :class:`~merlin_mlm_ops.MaskLast`)
by a pass-through of its selected columns: the mask column and the key dependency disappear,
everything upstream (Categorify and its vocabularies, ListSlice, ...) stays as trained.  The
model supplies the deterministic next-item form itself: merlin-models' BERT4Rec appends a
[MASK] slot after the last item at inference (``SequenceMaskLastInference``).
"""
from __future__ import annotations

import cloudpickle
from merlin.dag import postorder_iter_nodes
from nvtabular.ops import Operator

from merlin_mlm_ops.ops.base import SequenceMaskOperator


class PassThrough(Operator):
    """Outputs its selected columns unchanged (what a mask operator becomes at serving time)."""

    def transform(self, col_selector, df):
        return df[col_selector.names]

    transform.__doc__ = Operator.transform.__doc__


def serving_workflow(workflow):
    """A copy of the fitted ``workflow`` for serving: mask operators become pass-throughs.

    The inputs of the result are the raw request columns the remaining graph needs; the mask
    columns are neither required nor produced.  The original workflow is not modified.

    Example
    -------
    >>> import nvtabular as nvt, pandas as pd
    >>> from merlin.io import Dataset
    >>> from merlin_mlm_ops import MaskRandom
    >>> wf = nvt.Workflow(["item_ids"] >> MaskRandom(seed=1, key="session"))
    >>> _ = wf.fit(Dataset(pd.DataFrame({"session": [1], "item_ids": [[4, 5]]}), cpu=True))
    >>> serving_workflow(wf).output_schema.column_names, wf.output_schema.column_names
    (['item_ids'], ['item_ids', 'item_ids_mask'])
    """
    copy = cloudpickle.loads(cloudpickle.dumps(workflow))
    replaced = 0
    for node in postorder_iter_nodes(copy.output_node):
        if isinstance(node.op, SequenceMaskOperator):
            node.op = PassThrough()
            node.dependencies = []
            replaced += 1
    if replaced == 0:
        return copy
    input_schema = workflow.input_schema
    keep = [name for name in input_schema.column_names if _needed(copy, name)]
    copy.fit_schema(input_schema.select_by_name(keep))
    return copy


def _needed(workflow, name):
    """Whether a root column is still selected by some node of the (modified) graph."""
    for node in postorder_iter_nodes(workflow.output_node):
        if node.selector is not None and name in node.selector.names and not node.parents_with_dependencies:
            return True
        for dep in node.dependencies:
            if getattr(dep, "selector", None) is not None and name in dep.selector.names:
                return True
    return False
