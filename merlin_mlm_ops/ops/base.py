"""What MaskRandom and MaskLast share: output names, the mask column's schema, input checks.

A mask operator outputs every selected list column unchanged plus one boolean list column
(the mask) with the same row lengths.  Several selected columns are the aligned sequences of
one session; the mask is computed from the first (the item ids) and serves them all.
"""
from __future__ import annotations

import merlin.dtypes as md
from merlin.dag import ColumnSelector
from merlin.schema import ColumnSchema
from nvtabular.ops import Operator

from merlin_mlm_ops.adapters import check_aligned, frame_adapter
from merlin_mlm_ops.errors import MaskInputError
from merlin_mlm_ops.masking.params import check_int, check_mask_column, check_pad_id  # noqa: F401 (check_int re-exported)
from merlin_mlm_ops.tags import MASK_TAG


class SequenceMaskOperator(Operator):
    """Base class of the mask operators (not used directly).

    Parameters
    ----------
    pad_id : int or None, default 0
        Id of padding positions, which are never masked (0 is Categorify's padding id).
        ``None``: every position is eligible.
    mask_column : str or None, default None
        Name of the output mask column; ``None`` names it ``<first selected column>_mask``.
    """

    def __init__(self, *, pad_id=0, mask_column=None):
        super().__init__()
        check_pad_id(pad_id)
        check_mask_column(mask_column)
        self.pad_id = pad_id
        self.mask_column = mask_column

    # -- names and schema ---------------------------------------------------------------

    @property
    def key_column(self):
        """The column that keys rows, or None (MaskLast needs no key)."""
        return None

    def mask_name(self, names):
        """The mask column's name for the selected column ``names``."""
        return self.mask_column or f"{names[0]}_mask"

    def column_mapping(self, col_selector):
        names = list(col_selector.names)
        mapping = {name: [name] for name in names}
        mapping[self.mask_name(names)] = names
        return mapping

    def compute_selector(self, input_schema, selector, parents_selector=None, dependencies_selector=None):
        selector = super().compute_selector(input_schema, selector, parents_selector, dependencies_selector)
        if self.key_column is not None and self.key_column in selector.names:
            # Without an explicit selection the parents' and the key's columns all arrive
            # together; the key is read, never masked or output.
            selector = ColumnSelector([name for name in selector.names if name != self.key_column])
        return selector

    def compute_output_schema(self, input_schema, col_selector, prev_output_schema=None):
        names = list(col_selector.names) if col_selector else []
        if not names:
            raise ValueError(f"{self.label}: select at least one list column")
        for name in names:
            if name in input_schema.column_names and not input_schema[name].is_list:
                raise MaskInputError(self.label, name, "is not a list column (schema dtype "
                                     f"{input_schema[name].dtype.name}, is_list=False); "
                                     "select sequence columns only")
        mask = self.mask_name(names)
        if mask in names or mask == self.key_column:
            raise ValueError(f"{self.label}: mask column name {mask!r} collides with an input "
                             "column; pass another mask_column")
        key = self.key_column
        if key is not None and key in input_schema.column_names and input_schema[key].is_list:
            raise MaskInputError(self.label, key, "is a list column; the key must hold one integer "
                                 "or string per row")
        return super().compute_output_schema(input_schema, col_selector, prev_output_schema)

    def compute_column_schema(self, col_name, input_schema):
        names = input_schema.column_names
        if col_name not in names:  # the mask: its fragment holds the selected columns
            source = input_schema[names[0]]
            # A fresh schema: inheriting the item column's tags (ITEM_ID, CATEGORICAL) would
            # make merlin-models find two item-id columns and build an embedding for the mask.
            return ColumnSchema(col_name, dtype=md.boolean, tags=[MASK_TAG]).with_shape(source.shape)
        return super().compute_column_schema(col_name, input_schema)

    @property
    def dependencies(self):
        return [self.key_column] if self.key_column else []

    # -- transform ------------------------------------------------------------------------

    def transform(self, col_selector: ColumnSelector, df):
        names = list(col_selector.names)
        adapter = frame_adapter(df)
        first = adapter.flatten(df[names[0]], names[0], self.label)
        for other in names[1:]:
            flat = adapter.flatten(df[other], other, self.label, with_values=False)
            check_aligned(first, flat, df.index, names[0], other, self.label)
        mask = self.compute_mask(first, df, adapter)
        input_ids = None
        if isinstance(mask, tuple):  # MaskRandom(replace=...): the mask and the model's input ids
            mask, input_ids = mask
        out = df[names].copy(deep=False)
        out[self.mask_name(names)] = adapter.build_bool_lists(mask, first.offsets, first.valid, df.index,
                                                              source=df[names[0]])
        if input_ids is not None:
            out[self.input_name(names)] = adapter.build_lists(input_ids, first.offsets, first.valid, df.index,
                                                              source=df[names[0]])
        return out

    transform.__doc__ = Operator.transform.__doc__

    def compute_mask(self, flat, df, adapter):
        """The flat bool mask for the first selected column, taken apart as ``flat`` (or a tuple
        ``(mask, input ids)``, whose ids go to the column named by ``self.input_name``)."""
        raise NotImplementedError

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"

    def _params(self):
        return {"pad_id": self.pad_id, "mask_column": self.mask_column}
