"""The serving rules for a batch of sessions, shared by the served ensemble and in-process callers.

A BERT4Rec scores a session by appending one [MASK] slot after its last item, so a model with
``max_len`` positions (512 for BERT) takes at most ``max_len - 1`` items of history.  At serving:

- **long sessions** keep their most recent ``max_len - 1`` items (BERT4Rec's ``max_len`` cut);
- **empty sessions** are not sent to the model (its [MASK] slot needs a last item to follow); they
  get the fallback scores, by default the items' popularity from the fitted workflow
  (:func:`popularity_scores`).  The other sessions of the batch are scored as usual.

All of it is vectorised over flat ``values`` + ``offsets``; no Python loop per session or item.
"""
from __future__ import annotations

import numpy as np

DEFAULT_MAX_LEN = 512  # BERT's position embeddings (HuggingFace's max_position_embeddings default)


def keep_recent(values, offsets, max_items):
    """``(values, offsets)`` with each row cut to its last ``max_items`` items.

    Parameters
    ----------
    values : 1-D array
        The rows' items, concatenated.
    offsets : 1-D integer array
        Row boundaries, ``len(rows) + 1`` entries starting at 0.
    max_items : int
        Most items a row keeps (>= 0); shorter rows are unchanged.

    >>> keep_recent(np.array([1, 2, 3, 4, 5]), np.array([0, 3, 3, 5]), 2)
    (array([2, 3, 4, 5]), array([0, 2, 2, 4]))
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    if lengths.size == 0 or lengths.max() <= max_items:
        return values, offsets
    kept = np.minimum(lengths, max_items)
    new_offsets = np.zeros_like(offsets)
    np.cumsum(kept, out=new_offsets[1:])
    # position j of the output takes input index (row end - kept) + (j - new row start)
    shift = np.repeat(offsets[1:] - kept - new_offsets[:-1], kept)
    return values[shift + np.arange(new_offsets[-1])], new_offsets


def fit_sessions(values, offsets, max_len=DEFAULT_MAX_LEN):
    """What the model is given for a batch: ``(values, offsets, scored_rows)``.

    Rows are cut to their last ``max_len - 1`` items; ``scored_rows`` are the indices of the
    non-empty rows, the only ones passed on (``values``/``offsets`` hold those rows alone).
    Empty rows get fallback scores instead (see :func:`assemble_scores`).

    Parameters
    ----------
    values, offsets : 1-D arrays
        The batch's sessions (``<column>__values``, ``<column>__offsets``).
    max_len : int, default 512
        The model's positions, [MASK] slot included (BERT4Rec's ``max_len``).

    >>> fit_sessions(np.array([7, 8, 9]), np.array([0, 0, 3]), max_len=3)
    (array([8, 9]), array([0, 2]), array([1]))
    """
    if max_len < 2:
        raise ValueError(f"max_len must be >= 2 (one item and the [MASK] slot), got {max_len}")
    values, offsets = keep_recent(values, offsets, max_len - 1)
    lengths = np.diff(offsets)
    scored = np.flatnonzero(lengths > 0)
    if len(scored) < len(lengths):
        offsets = np.concatenate([[0], np.cumsum(lengths[scored])])
    return values, offsets, scored


def assemble_scores(batch_size, scored_rows, scores, fallback):
    """A ``(batch_size, n_items)`` array: ``scores`` at ``scored_rows``, ``fallback`` elsewhere.

    >>> assemble_scores(3, np.array([1]), np.array([[5., 6.]]), np.array([0., 1.]))
    array([[0., 1.],
           [5., 6.],
           [0., 1.]])
    """
    fallback = np.asarray(fallback)
    if scores is not None and len(scored_rows) == batch_size:
        return scores
    dtype = scores.dtype if scores is not None else fallback.dtype
    out = np.empty((batch_size, fallback.shape[-1]), dtype=dtype)
    out[:] = fallback
    if scores is not None and len(scored_rows):
        out[scored_rows] = scores
    return out


def popularity_scores(workflow, column):
    """Log-popularity of every encoded id of ``column``, from the fitted workflow's Categorify.

    ``log((count + 1) / (total + n_ids))`` (add-one smoothing, so every score is finite): the
    order is the training popularity, the reserved ids (padding, null, out-of-vocabulary), never
    counted, come last.  Index ``i`` is the score of encoded id ``i``.

    Parameters
    ----------
    workflow : nvtabular.Workflow
        The fitted workflow (training or serving form).
    column : str
        The item-id column Categorify encodes (the model's target).
    """
    import pandas as pd
    from merlin.dag import postorder_iter_nodes
    from nvtabular.ops import Categorify

    for node in postorder_iter_nodes(workflow.output_node):
        op = node.op
        if isinstance(op, Categorify) and column in getattr(op, "categories", {}):
            table = pd.read_parquet(op.categories[column])
            break
    else:
        raise ValueError(f"column '{column}': no fitted Categorify in the workflow encodes it; "
                         f"pass fallback_scores= explicitly")
    counts = np.zeros(int(table.index.max()) + 1, dtype=np.float64)
    counts[table.index.to_numpy()] = table[f"{column}_size"].to_numpy()
    return np.log((counts + 1.0) / (counts.sum() + len(counts))).astype(np.float32)


__all__ = ["DEFAULT_MAX_LEN", "assemble_scores", "fit_sessions", "keep_recent", "popularity_scores"]
