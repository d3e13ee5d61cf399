"""Plain PyTorch module and loss for training on precomputed masks (the Keras layer's twin).

Fed by ``merlin.dataloader.torch.Loader``: list columns arrive as ``<name>__values`` +
``<name>__offsets`` or, with ``transforms=ColumnSelector([...]) >> Padding(n, 0)``, padded
``(batch, n)``; the bool mask column arrives as ``torch.int8`` (bool is accepted too).
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from merlin_mlm_ops.adapters.names import offsets_name, values_name

__all__ = ["IGNORE_LABEL", "EmbeddedSequence", "MaskedSequenceEmbedding", "MaskedItemLoss", "mlm_targets",
           "dense_list_column", "as_bool_mask"]

#: Label of the positions the loss must ignore (see :func:`mlm_targets`).
IGNORE_LABEL = -1


def _check_offsets(offsets, n_values, name):
    if offsets.dim() != 1 or offsets.numel() == 0:
        raise ValueError(f"column '{name}': offsets must be 1-D with one more entry than rows, "
                         f"got shape {tuple(offsets.shape)}")
    if int(offsets[0]) != 0:
        raise ValueError(f"column '{name}': offsets must start at 0, got {int(offsets[0])}")
    lengths = offsets[1:] - offsets[:-1]
    negative = torch.nonzero(lengths < 0)
    if len(negative):
        row = int(negative[0, 0])
        raise ValueError(f"column '{name}': offsets decrease at row {row} "
                         f"({int(offsets[row])} -> {int(offsets[row + 1])})")
    if int(offsets[-1]) != n_values:
        raise ValueError(f"column '{name}': offsets end at {int(offsets[-1])} but there are {n_values} values")
    return lengths


def dense_list_column(inputs, name, pad, what="list", width=None):
    """A list column of a batch as a dense ``(batch, length)`` tensor, and its row lengths if it was ragged.

    Parameters
    ----------
    inputs : dict of tensors
        A batch: ``inputs[name]`` padded ``(batch, length)`` (a trailing dimension of 1 is dropped),
        or ``inputs[name + "__values"]`` + ``inputs[name + "__offsets"]`` (merlin-dataloader's form).
    name : str
        Column name.
    pad : scalar
        Value of the positions after a row's end when the column is ragged.
    what : str, default "list"
        What the column is, for error messages ("item id", "mask").
    width : int, optional
        Length of the dense result for a ragged column (default: its longest row); a longer row
        raises ``ValueError``.

    Returns
    -------
    (tensor, lengths or None)

    Example
    -------
    >>> import torch
    >>> batch = {"x__values": torch.tensor([5, 6, 7]), "x__offsets": torch.tensor([0, 2, 3], dtype=torch.int32)}
    >>> dense, lengths = dense_list_column(batch, "x", pad=0)
    >>> dense.tolist(), lengths.tolist()
    ([[5, 6], [7, 0]], [2, 1])
    """
    if not isinstance(inputs, dict):
        raise TypeError(f"expected a dict of tensors with column '{name}', got {type(inputs).__name__}")
    if name in inputs:
        value = torch.as_tensor(inputs[name])
        if value.dim() == 3 and value.shape[-1] == 1:
            value = value.squeeze(-1)
        if value.dim() != 2:
            raise ValueError(f"{what} column '{name}' must be (batch, length), got shape {tuple(value.shape)}")
        return value, None
    if values_name(name) not in inputs or offsets_name(name) not in inputs:
        raise KeyError(f"{what} column '{name}' is missing from the batch (got {sorted(inputs)}); pass it "
                       f"padded as '{name}' or as '{values_name(name)}' + '{offsets_name(name)}'")
    values = torch.as_tensor(inputs[values_name(name)]).reshape(-1)
    offsets = torch.as_tensor(inputs[offsets_name(name)]).reshape(-1).to(torch.int64)
    lengths = _check_offsets(offsets, values.numel(), name)
    longest = int(lengths.max()) if lengths.numel() else 0
    if width is None:
        width = longest
    elif longest > width:
        row = int(torch.argmax(lengths))
        raise ValueError(f"{what} column '{name}': row {row} has {longest} positions, more than the {width} "
                         "of the padded item ids")
    rows = torch.repeat_interleave(torch.arange(lengths.numel(), device=values.device), lengths.to(values.device))
    cols = torch.arange(values.numel(), device=values.device) - offsets.to(values.device)[:-1][rows]
    dense = torch.full((lengths.numel(), width), pad, dtype=values.dtype, device=values.device)
    dense[rows, cols] = values
    return dense, lengths


def as_bool_mask(mask, name):
    """``mask`` as ``torch.bool``: bool as is; an integer mask (the dataloader's int8) must hold only 0 and 1.

    >>> import torch
    >>> as_bool_mask(torch.tensor([[0, 1]], dtype=torch.int8), "m").tolist()
    [[False, True]]
    """
    if mask.dtype == torch.bool:
        return mask
    if mask.dtype.is_floating_point or mask.dtype.is_complex:
        raise TypeError(f"mask column '{name}' must be bool or an integer 0/1 tensor, got {mask.dtype}")
    bad = torch.nonzero((mask != 0) & (mask != 1))
    if len(bad):
        row = tuple(int(i) for i in bad[0])
        raise ValueError(f"mask column '{name}' must hold only 0 and 1, got {int(mask[row])} at row {row[0]}"
                         + (f", position {row[1]}" if len(row) > 1 else ""))
    return mask.bool()


def ids_and_mask(inputs, ids_column, mask_column, pad_id):
    """Dense item ids and bool mask of one batch, checked against each other (any form of each)."""
    ids, id_lengths = dense_list_column(inputs, ids_column, pad_id, "item id")
    mask, mask_lengths = dense_list_column(inputs, mask_column, 0, "mask")
    mask = as_bool_mask(mask, mask_column)
    if id_lengths is not None and mask_lengths is not None:
        if id_lengths.shape != mask_lengths.shape:
            raise ValueError(f"mask column '{mask_column}' has {mask_lengths.numel()} rows but "
                             f"'{ids_column}' has {id_lengths.numel()}")
        differ = torch.nonzero(id_lengths != mask_lengths)
        if len(differ):
            row = int(differ[0, 0])
            raise ValueError(f"mask column '{mask_column}' row {row} has {int(mask_lengths[row])} positions but "
                             f"'{ids_column}' has {int(id_lengths[row])}")
    elif ids.shape != mask.shape:
        raise ValueError(f"mask column '{mask_column}' has shape {tuple(mask.shape)} but '{ids_column}' has "
                         f"{tuple(ids.shape)}")
    return ids, mask.to(ids.device)


def check_mask_on_items(ids, mask, pad_id, mask_column):
    """A mask may not mark a padding position: that would train the model to predict padding."""
    on_pad = torch.nonzero(mask & (ids == pad_id))
    if len(on_pad):
        row, pos = (int(i) for i in on_pad[0])
        raise ValueError(f"mask column '{mask_column}' marks position {pos} of row {row}, which is padding "
                         f"(item id {pad_id})")


def mlm_targets(ids, mask, ignore=IGNORE_LABEL):
    """Labels for :class:`MaskedItemLoss`: the item id where ``mask`` is set, ``ignore`` elsewhere.

    >>> import torch
    >>> mlm_targets(torch.tensor([[3, 4, 0]]), torch.tensor([[0, 1, 0]], dtype=torch.int8)).tolist()
    [[-1, 4, -1]]
    """
    ids = torch.as_tensor(ids)
    mask = as_bool_mask(torch.as_tensor(mask), "mask")
    return torch.where(mask, ids, torch.full_like(ids, ignore)).long()


class EmbeddedSequence(NamedTuple):
    """What :class:`MaskedSequenceEmbedding` returns for a batch."""

    #: ``(batch, length, dim)``: the [MASK] vector at masked positions, the item's embedding elsewhere.
    embeddings: torch.Tensor
    #: ``(batch, length)`` bool, True at real items (Keras' mask); ``~valid`` is the
    #: ``src_key_padding_mask`` of ``torch.nn.TransformerEncoder``.
    valid: torch.Tensor
    #: ``(batch, length)`` int64 labels for :class:`MaskedItemLoss`: the item id at masked positions,
    #: ``IGNORE_LABEL`` elsewhere.
    targets: torch.Tensor


class MaskedSequenceEmbedding(nn.Module):
    """Item embeddings with a trainable [MASK] vector at the positions of a precomputed mask.

    Takes a batch dict with the item ids and the mask written by :class:`merlin_mlm_ops.MaskRandom`,
    each padded ``(batch, length)`` or as ``<name>__values`` + ``<name>__offsets`` (what
    ``merlin.dataloader.torch.Loader`` yields); the mask may be bool or integer 0/1 (the loader gives
    ``torch.int8``). Masked positions hold the [MASK] vector, and their item ids are replaced by
    ``pad_id`` before the lookup, so nothing of a masked item reaches the model (not even a gradient
    to its embedding). Returns an :class:`EmbeddedSequence` ``(embeddings, valid, targets)``.

    With ``input_column`` (the input ids written by ``MaskRandom(replace=(0.8, 0.1, 0.1))``) the
    module embeds those ids instead: the [MASK] vector goes where the mask is set and the input id
    is ``pad_id`` (the [MASK] positions), masked positions that got a random item or kept their
    own show that item's embedding (BERT's 80/10/10), and ``targets`` still hold the true item at
    every masked position, so the loss covers all of them.

    Parameters
    ----------
    num_items : int
        Vocabulary size (largest item id + 1).
    dim : int
        Embedding size.
    ids_column : str, default "item_ids"
        Key of the item ids in the batch.
    mask_column : str, default "item_ids_mask"
        Key of the precomputed mask in the batch.
    pad_id : int, default 0
        Padding id (Categorify's 0); a mask set on padding raises ``ValueError``.
    input_column : str or None, default None
        Key of the 80/10/10 input ids in the batch; None: every masked position is [MASK].

    Example
    -------
    >>> import torch
    >>> layer = MaskedSequenceEmbedding(10, 4)
    >>> out = layer({"item_ids": torch.tensor([[3, 4, 0]]), "item_ids_mask": torch.tensor([[0, 1, 0]], dtype=torch.int8)})
    >>> tuple(out.embeddings.shape), out.valid.tolist(), out.targets.tolist()
    ((1, 3, 4), [[True, True, False]], [[-1, 4, -1]])
    >>> bool(torch.equal(out.embeddings[0, 1], layer.mask_embedding))
    True
    """

    def __init__(self, num_items, dim, ids_column="item_ids", mask_column="item_ids_mask", pad_id=0,
                 input_column=None):
        super().__init__()
        for what, value in (("num_items", num_items), ("dim", dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{what} must be a positive int, got {value!r}")
        self.ids_column, self.mask_column, self.pad_id = ids_column, mask_column, pad_id
        self.input_column = input_column
        self.embeddings = nn.Embedding(num_items, dim)
        # merlin-models' and Transformers4Rec's initialisation of the [MASK] vector
        self.mask_embedding = nn.Parameter(torch.empty(dim).normal_(0.0, 0.001))

    def forward(self, inputs) -> EmbeddedSequence:
        ids, mask = ids_and_mask(inputs, self.ids_column, self.mask_column, self.pad_id)
        check_mask_on_items(ids, mask, self.pad_id, self.mask_column)
        if self.input_column is not None:
            return self._forward_80_10_10(inputs, ids, mask)
        n = self.embeddings.num_embeddings
        out_of_range = torch.nonzero(((ids < 0) | (ids >= n)) & ~mask)
        if len(out_of_range):
            row, pos = (int(i) for i in out_of_range[0])
            raise ValueError(f"item id column '{self.ids_column}' has id {int(ids[row, pos])} at row {row}, "
                             f"position {pos}, outside the {n} embeddings")
        visible = ids.masked_fill(mask, self.pad_id).long()
        embedded = self.embeddings(visible)
        embedded = torch.where(mask.unsqueeze(-1), self.mask_embedding.to(embedded.dtype), embedded)
        return EmbeddedSequence(embedded, ids != self.pad_id, mlm_targets(ids, mask))


    def _forward_80_10_10(self, inputs, ids, mask):
        seen = input_ids(inputs, self.input_column, ids, self.pad_id, self.ids_column)
        n = self.embeddings.num_embeddings
        out_of_range = torch.nonzero((seen < 0) | (seen >= n))
        if len(out_of_range):
            row, pos = (int(i) for i in out_of_range[0])
            raise ValueError(f"input column '{self.input_column}' has id {int(seen[row, pos])} at row {row}, "
                             f"position {pos}, outside the {n} embeddings")
        mask_token = mask & (seen == self.pad_id)
        embedded = self.embeddings(seen.long())
        embedded = torch.where(mask_token.unsqueeze(-1), self.mask_embedding.to(embedded.dtype), embedded)
        return EmbeddedSequence(embedded, ids != self.pad_id, mlm_targets(ids, mask))


def input_ids(inputs, name, ids, pad_id, ids_column):
    """The 80/10/10 input ids of one batch, dense like ``ids`` and checked against them (any form of each)."""
    seen, lengths = dense_list_column(inputs, name, pad_id, "input id", width=ids.shape[1])
    if seen.shape != ids.shape:
        raise ValueError(f"input column '{name}' has shape {tuple(seen.shape)} but '{ids_column}' has "
                         f"{tuple(ids.shape)}")
    if lengths is not None and offsets_name(ids_column) in inputs:
        id_offsets = torch.as_tensor(inputs[offsets_name(ids_column)]).reshape(-1).to(torch.int64)
        differ = torch.nonzero(lengths.cpu() != (id_offsets[1:] - id_offsets[:-1]).cpu())
        if len(differ):
            row = int(differ[0, 0])
            raise ValueError(f"input column '{name}' row {row} has {int(lengths[row])} positions but "
                             f"'{ids_column}' has {int(id_offsets[row + 1] - id_offsets[row])}")
    return seen.to(ids.device)


class MaskedItemLoss(nn.Module):
    """Cross-entropy averaged over the masked positions only (0 for a batch without any).

    ``targets`` holds item ids at masked positions and ``ignore`` elsewhere (see
    :func:`mlm_targets`, or :attr:`EmbeddedSequence.targets`); ``logits`` are ``(..., num_items)``
    with the targets' shape before the last axis. Padding and unmasked positions count neither in
    the sum nor in the divisor.

    Parameters
    ----------
    ignore : int, default -1
        Label of positions that are not predicted.

    Example
    -------
    >>> import torch
    >>> targets = mlm_targets(torch.tensor([[3, 1, 2]]), torch.tensor([[True, False, False]]))
    >>> logits = torch.log(torch.tensor([[[0.1, 0.1, 0.1, 0.7], [0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1]]]))
    >>> round(float(MaskedItemLoss()(logits, targets)), 4)  # -log(0.7): only position 0 counts
    0.3567
    """

    def __init__(self, ignore=IGNORE_LABEL):
        super().__init__()
        self.ignore = ignore

    def forward(self, logits, targets):
        if tuple(logits.shape[:-1]) != tuple(targets.shape):
            raise ValueError(f"logits of shape {tuple(logits.shape)} do not match targets of shape "
                             f"{tuple(targets.shape)} (expected logits {tuple(targets.shape)} + (num_items,))")
        targets = targets.long()
        n_classes = logits.shape[-1]
        predicted = targets != self.ignore
        bad = torch.nonzero(predicted & ((targets < 0) | (targets >= n_classes)))
        if len(bad):
            where = tuple(int(i) for i in bad[0])
            raise ValueError(f"target item id {int(targets[where])} at {where} is outside the {n_classes} logits")
        total = nn.functional.cross_entropy(logits.reshape(-1, n_classes), targets.reshape(-1),
                                            ignore_index=self.ignore, reduction="sum")
        return total / predicted.sum().clamp(min=1)
