"""merlin_mlm_ops.torch: the [MASK] embedding and the masked-only loss, fed by merlin.dataloader.torch.Loader."""
from torch_support import require

require("torch")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from helpers import run_workflow  # noqa: E402

from merlin_mlm_ops.torch import EpochLoaders, MaskedItemLoss, MaskedSequenceEmbedding, mlm_targets  # noqa: E402

ROWS = [[3, 4, 5], [6, 7], [8, 9, 10, 11], [2]]


def masked_dataset(rows=ROWS, epoch=0):
    from merlin.io import Dataset

    from merlin_mlm_ops import MaskRandom

    out, wf = run_workflow(["item_ids"] >> MaskRandom(prob=0.5, seed=1, epoch=epoch), pd.DataFrame({"item_ids": rows}))
    return Dataset(out, schema=wf.output_schema)


def first_batch(ds, padded=None, batch_size=8):
    from merlin.dag import ColumnSelector
    from merlin.dataloader.ops.padding import Padding
    from merlin.dataloader.torch import Loader

    transforms = ColumnSelector(["item_ids", "item_ids_mask"]) >> Padding(padded, 0) if padded else None
    return next(iter(Loader(ds, batch_size=batch_size, transforms=transforms)))[0]


def test_the_loader_gives_an_int8_mask_and_both_of_its_forms_embed_alike_as_bool_too():
    torch.manual_seed(0)
    layer = MaskedSequenceEmbedding(12, 4)
    ds = masked_dataset()
    ragged, padded = first_batch(ds), first_batch(ds, padded=4)
    assert ragged["item_ids_mask__values"].dtype == torch.int8 and padded["item_ids_mask"].dtype == torch.int8
    as_bool = {**padded, "item_ids_mask": padded["item_ids_mask"].bool()}
    outs = [layer(batch) for batch in (ragged, padded, as_bool)]
    for out in outs[1:]:
        for got, want in zip(out, outs[0]):
            assert torch.equal(got, want)
    mask = padded["item_ids_mask"].bool()
    assert outs[0].valid.tolist() == (padded["item_ids"] != 0).tolist()
    assert torch.equal(outs[0].targets, torch.where(mask, padded["item_ids"], -1))


def test_masked_positions_hold_the_mask_vector_and_the_others_their_item_embedding():
    layer = MaskedSequenceEmbedding(12, 4)
    ids = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])
    mask = torch.tensor([[0, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.int8)
    out = layer({"item_ids": ids, "item_ids_mask": mask}).embeddings
    for row, pos in [(0, 1), (1, 0)]:
        assert torch.equal(out[row, pos], layer.mask_embedding)
    for row, pos in [(0, 0), (0, 2), (1, 1)]:
        assert torch.equal(out[row, pos], layer.embeddings.weight[ids[row, pos]])


class TinyBert(torch.nn.Module):
    def __init__(self, n_items=20, dim=8):
        super().__init__()
        self.embed = MaskedSequenceEmbedding(n_items, dim)
        self.encoder = torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(dim, 2, 16, dropout=0.0, batch_first=True), 1)
        self.out = torch.nn.Linear(dim, n_items)

    def forward(self, batch):
        seq = self.embed(batch)
        return self.out(self.encoder(seq.embeddings, src_key_padding_mask=~seq.valid)), seq.targets


def test_changing_the_item_id_at_a_masked_position_leaves_the_outputs_unchanged():
    torch.manual_seed(0)
    model = TinyBert().eval()
    ids = torch.tensor([[3, 4, 5, 6], [7, 8, 9, 0]])
    mask = torch.tensor([[0, 1, 0, 1], [1, 0, 0, 0]], dtype=torch.int8)
    logits, _ = model({"item_ids": ids, "item_ids_mask": mask})
    for replacement in (11, 19, 12345, -7):  # other items, even ids outside the vocabulary
        other = torch.where(mask.bool(), torch.full_like(ids, replacement), ids)
        assert torch.equal(model({"item_ids": other, "item_ids_mask": mask})[0], logits)
    changed_visible = ids.clone()
    changed_visible[0, 0] = 11
    assert not torch.equal(model({"item_ids": changed_visible, "item_ids_mask": mask})[0], logits)


def test_a_masked_item_gets_no_gradient_through_its_input_embedding():
    torch.manual_seed(0)
    layer = MaskedSequenceEmbedding(20, 8)
    ids = torch.tensor([[3, 4, 5]])
    out = layer({"item_ids": ids, "item_ids_mask": torch.tensor([[False, True, False]])})
    out.embeddings.sum().backward()
    grad = layer.embeddings.weight.grad
    assert grad[4].abs().sum() == 0 and grad[3].abs().sum() > 0 and layer.mask_embedding.grad.abs().sum() > 0


def test_the_loss_averages_over_masked_positions_only_as_the_keras_loss_does():
    torch.manual_seed(0)
    ids = torch.tensor([[3, 4, 5, 0], [6, 7, 8, 9]])
    mask = torch.tensor([[1, 0, 0, 0], [0, 1, 1, 0]], dtype=torch.int8)
    logits = torch.randn(2, 4, 10)
    targets = mlm_targets(ids, mask)
    loss = MaskedItemLoss()(logits, targets)
    log_p = torch.log_softmax(logits, -1)
    want = -(log_p[0, 0, 3] + log_p[1, 1, 7] + log_p[1, 2, 8]) / 3  # 3 masked positions, not 7 items
    assert torch.allclose(loss, want)

    import tensorflow as tf

    from merlin_mlm_ops.tf import MaskedItemLoss as KerasLoss
    from merlin_mlm_ops.tf import mlm_targets as keras_targets

    keras = KerasLoss()(keras_targets(ids.numpy(), mask.numpy().astype(bool)), tf.constant(logits.numpy()))
    assert float(keras) == pytest.approx(float(loss), rel=1e-5)


def test_the_loss_of_a_batch_without_masked_positions_is_zero_not_nan():
    logits = torch.randn(2, 3, 5, requires_grad=True)
    loss = MaskedItemLoss()(logits, torch.full((2, 3), -1))
    loss.backward()
    assert float(loss) == 0.0 and logits.grad.abs().sum() == 0


def test_a_small_model_learns_to_fill_in_masked_items():
    # item i is always followed by i + 1: a masked item is its left neighbour + 1
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    starts = rng.integers(1, 12, 256)
    ids = torch.tensor(np.stack([starts + k for k in range(6)], 1))
    model = TinyBert(n_items=20, dim=16)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = MaskedItemLoss()
    for step in range(150):
        mask = torch.tensor(rng.random(ids.shape) < 0.2)
        mask[:, 0] = False  # the first item has no left neighbour
        mask[mask.sum(1) == 0, 3] = True
        logits, targets = model({"item_ids": ids, "item_ids_mask": mask})
        loss = loss_fn(logits, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.5, float(loss)


# ------------------------------------------------------------------------------------------ errors
def batch_of(ids, mask):
    return {"item_ids": torch.tensor(ids), "item_ids_mask": torch.tensor(mask)}


def ragged_batch(values, offsets, mask_values, mask_offsets=None):
    return {"item_ids__values": torch.tensor(values), "item_ids__offsets": torch.tensor(offsets),
            "item_ids_mask__values": torch.tensor(mask_values, dtype=torch.int8),
            "item_ids_mask__offsets": torch.tensor(offsets if mask_offsets is None else mask_offsets)}


@pytest.mark.parametrize("batch, error, message", [
    ({"item_ids": torch.tensor([[1, 2]])}, KeyError, "mask column 'item_ids_mask' is missing from the batch"),
    ({"item_ids_mask": torch.tensor([[1, 0]])}, KeyError, "item id column 'item_ids' is missing"),
    (batch_of([[1, 2, 3]], [[1, 0]]), ValueError,
     r"mask column 'item_ids_mask' has shape \(1, 2\) but 'item_ids' has \(1, 3\)"),
    (ragged_batch([1, 2, 3, 4], [0, 2, 4], [1, 0, 0, 1], [0, 1, 4]), ValueError,
     "mask column 'item_ids_mask' row 0 has 1 positions but 'item_ids' has 2"),
    (ragged_batch([1, 2, 3, 4], [0, 2, 4], [1, 0, 0, 1, 0], [0, 2, 5]), ValueError,
     "mask column 'item_ids_mask' row 1 has 3 positions but 'item_ids' has 2"),
    (ragged_batch([1, 2, 3, 4], [0, 2, 4], [1, 0, 0, 1], [0, 2, 3, 4]), ValueError,
     "mask column 'item_ids_mask' has 3 rows but 'item_ids' has 2"),
    (ragged_batch([1, 2, 3, 4], [1, 2, 4], [1, 0, 0, 1], [0, 2, 4]), ValueError,
     "column 'item_ids': offsets must start at 0, got 1"),
    (ragged_batch([1, 2, 3, 4], [0, 3, 2, 4], [1, 0, 0, 1], [0, 2, 2, 4]), ValueError,
     r"column 'item_ids': offsets decrease at row 1 \(3 -> 2\)"),
    (ragged_batch([1, 2, 3, 4], [0, 2, 4], [1, 0, 0], [0, 2, 4]), ValueError,
     "column 'item_ids_mask': offsets end at 4 but there are 3 values"),
    (batch_of([[1, 2], [3, 4]], [[0, 1], [2, 0]]), ValueError,
     "mask column 'item_ids_mask' must hold only 0 and 1, got 2 at row 1, position 0"),
    (batch_of([[1, 2]], [[0.0, 1.0]]), TypeError, "mask column 'item_ids_mask' must be bool or an integer 0/1"),
    (batch_of([[1, 2, 0]], [[0, 0, 1]]), ValueError,
     r"mask column 'item_ids_mask' marks position 2 of row 0, which is padding \(item id 0\)"),
    (batch_of([[1, 2], [3, 12]], [[0, 1], [0, 0]]), ValueError,
     "item id column 'item_ids' has id 12 at row 1, position 1, outside the 12 embeddings"),
    (batch_of([[[1, 2]]], [[[0, 1]]]), ValueError, r"item id column 'item_ids' must be \(batch, length\)"),
])
def test_malformed_batches_raise_naming_the_column(batch, error, message):
    with pytest.raises(error, match=message):
        MaskedSequenceEmbedding(12, 4)(batch)


def test_a_batch_that_is_not_a_dict_is_rejected():
    with pytest.raises(TypeError, match="expected a dict of tensors with column 'item_ids', got Tensor"):
        MaskedSequenceEmbedding(12, 4)(torch.tensor([[1, 2]]))


@pytest.mark.parametrize("num_items, dim", [(0, 4), (12, 0), (12.0, 4), (True, 4)])
def test_sizes_must_be_positive_ints(num_items, dim):
    with pytest.raises(ValueError, match="must be a positive int"):
        MaskedSequenceEmbedding(num_items, dim)


def test_the_loss_rejects_logits_that_do_not_match_the_targets_and_targets_outside_the_logits():
    with pytest.raises(ValueError, match=r"logits of shape \(2, 3, 5\) do not match targets of shape \(2, 4\)"):
        MaskedItemLoss()(torch.zeros(2, 3, 5), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"target item id 7 at \(1, 2\) is outside the 5 logits"):
        MaskedItemLoss()(torch.zeros(2, 3, 5), torch.tensor([[-1, 1, -1], [-1, -1, 7]]))


# ------------------------------------------------------------------------------------------ epochs
def test_epoch_k_of_one_run_serves_the_kth_masked_copy_and_cycles():
    from merlin.dataloader.torch import Loader

    datasets = [masked_dataset(epoch=k) for k in range(2)]
    loaders = EpochLoaders(datasets, lambda ds: Loader(ds, batch_size=8))
    expected = [first_batch(ds)["item_ids_mask__values"] for ds in datasets]
    assert not torch.equal(expected[0], expected[1])
    assert len(loaders) == 1
    for epoch in range(3):
        (batch,) = [x for x, _ in loaders]
        assert torch.equal(batch["item_ids_mask__values"], expected[epoch % 2]), epoch
    assert loaders.epoch == 3
    assert loaders.batch_size == 8  # other attributes: the next pass's loader's
    resumed = EpochLoaders(datasets, lambda ds: Loader(ds, batch_size=8), epoch=1)
    assert torch.equal(next(iter(resumed))[0]["item_ids_mask__values"], expected[1])


def test_epoch_loaders_reject_bad_arguments_and_datasets_whose_columns_differ():
    from merlin.io import Dataset

    with pytest.raises(ValueError, match="at least one dataset"):
        EpochLoaders([], list)
    with pytest.raises(TypeError, match="make_loader must be callable"):
        EpochLoaders(["a"], "loader")
    with pytest.raises(ValueError, match="epoch must be a non-negative int, got -1"):
        EpochLoaders(["a"], list, epoch=-1)
    other = Dataset(pd.DataFrame({"item_ids": [[1, 2]]}))
    with pytest.raises(ValueError, match="column 'item_ids_mask' is only in epoch 0's dataset"):
        EpochLoaders([masked_dataset(), other], list)
