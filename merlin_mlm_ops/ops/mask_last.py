"""MaskLast: the next-item evaluation mask (only the last item of each session)."""
from __future__ import annotations

from merlin_mlm_ops.masking import engine
from merlin_mlm_ops.ops.base import SequenceMaskOperator


class MaskLast(SequenceMaskOperator):
    """Writes a boolean mask with exactly the last eligible position of each row set.

    It is the evaluation counterpart of :class:`MaskRandom`: a model evaluated on this mask
    predicts each session's last item from the items before it (next-item prediction).

    Rules: a position is eligible unless its id equals ``pad_id``; the last eligible
    position of each row is masked and no other.  A row with no eligible position (empty,
    or only padding) gets an all-False mask; null rows get null masks.  Deterministic: no
    seed.  Outputs and multi-column alignment as for :class:`MaskRandom`.

    Parameters
    ----------
    pad_id : int or None, default 0
        Id of padding positions, never masked.  ``None``: the last position is masked.
    mask_column : str or None, default None
        Name of the mask column; ``None`` names it ``<first selected column>_mask``.

    Example
    -------
    >>> import pandas as pd, nvtabular as nvt
    >>> from merlin.io import Dataset
    >>> from merlin_mlm_ops import MaskLast
    >>> df = pd.DataFrame({"item_ids": [[5, 6, 7, 0], [9], []]})
    >>> out = nvt.Workflow(["item_ids"] >> MaskLast()).fit_transform(Dataset(df, cpu=True)).to_ddf().compute()
    >>> [m.tolist() for m in out["item_ids_mask"]]
    [[False, False, True, False], [True], []]
    """

    def compute_mask(self, flat, df, adapter):
        return engine.last_mask(flat.values, flat.offsets, pad_id=self.pad_id)
