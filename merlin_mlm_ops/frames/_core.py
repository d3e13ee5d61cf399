"""What every frame kind shares: the mask's specification, the column checks, and the call into the engine.

A frame kind (``_pandas``, ``_polars``, ``_pyarrow``, ``_cudf``, ``_dask``) only takes its list
column apart into a :class:`~merlin_mlm_ops.adapters.pandas_lists.FlatList` (values + offsets +
validity: Arrow's list layout), hands it to :meth:`MaskSpec.mask`, and puts the flat mask back
with the same row structure.  The rules live in :mod:`merlin_mlm_ops.masking` alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from merlin_mlm_ops.adapters import check_aligned
from merlin_mlm_ops.errors import MaskInputError
from merlin_mlm_ops.masking import engine


@dataclass(frozen=True)
class MaskSpec:
    """One call of :func:`mask_random` or :func:`mask_last`, its arguments already checked.

    ``label`` starts every error message; ``columns`` are the selected list columns (the first
    holds the item ids); ``params`` are MaskRandom's arguments (empty for MaskLast).
    """

    label: str
    columns: tuple
    mask_name: str
    pad_id: Optional[int]
    key: Optional[str] = None
    params: dict = field(default_factory=dict)

    @property
    def random(self):
        return self.label == "mask_random"

    def check_columns(self, names):
        """Raise unless the selected and key columns exist once each and the mask name is free."""
        names = list(names)
        for column in (*self.columns, *([self.key] if self.key else [])):
            if column not in names:
                raise MaskInputError(self.label, column, f"is not in the frame (columns: {names})")
            if names.count(column) > 1:  # pandas and Arrow allow it; which one would be masked?
                raise MaskInputError(self.label, column, f"appears {names.count(column)} times in the frame; "
                                     "rename the duplicates")
        if self.key is not None and self.key in self.columns:
            raise MaskInputError(self.label, self.key, "is a list column; the key must hold one integer "
                                 "or string per row")
        if self.mask_name in names:
            raise ValueError(f"{self.label}: mask column name {self.mask_name!r} collides with a column "
                             "of the frame; pass another mask_column")

    def aligned(self, first, others, labels):
        """Raise unless every other selected column has the first one's row lengths and null rows."""
        for name, flat in others:
            check_aligned(first, flat, labels, self.columns[0], name, self.label)

    def mask(self, first, row_keys=None):
        """The flat bool mask of ``first`` (a FlatList); ``row_keys`` as the adapters' ``row_keys`` give."""
        if not self.random:
            return engine.last_mask(first.values, first.offsets, pad_id=self.pad_id)
        keys = None
        if row_keys is not None:
            keys = engine.row_keys_from_column(*row_keys, xp=engine.array_module(first.offsets))
        p = self.params
        args = dict(seed=p["seed"], epoch=p["epoch"], prob=p["prob"], min_masked=p["min_masked"],
                    max_masked=p["max_masked"], pad_id=self.pad_id)
        if p.get("last_ratio"):
            return engine.random_mask_extended(first.values, first.offsets, keys, last_ratio=p["last_ratio"],
                                               **args)[0]
        return engine.random_mask(first.values, first.offsets, keys, **args)
