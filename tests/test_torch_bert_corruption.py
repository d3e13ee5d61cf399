"""The PyTorch layer consumes MaskRandom(replace=...)'s input column (80/10/10): [MASK] only where the
input id is the padding id, drawn and kept items embedded as given, targets at every masked position.

Runs in CI's PyTorch step (ci/test-torch.sh); skipped where torch is not installed (tests/torch_support.py).
"""
from torch_support import require

require("torch")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from helpers import run_workflow  # noqa: E402

from merlin_mlm_ops.torch import MaskedItemLoss, MaskedSequenceEmbedding  # noqa: E402

IDS = torch.tensor([[3, 4, 5, 6], [6, 7, 8, 0]])
MASK = torch.tensor([[0, 1, 1, 1], [1, 0, 1, 0]], dtype=torch.int8)
# (0,1) [MASK], (0,2) random item 9, (0,3) kept, (1,0) [MASK], (1,2) random item 2
SEEN = torch.tensor([[3, 0, 9, 6], [0, 7, 2, 0]])


def test_mask_vector_only_where_the_input_is_padding_and_the_rest_embedded_as_given():
    layer = MaskedSequenceEmbedding(12, 4, input_column="item_ids_input")
    out = layer({"item_ids": IDS, "item_ids_mask": MASK, "item_ids_input": SEEN})
    for b in range(2):
        for t in range(4):
            mask_token = bool(MASK[b, t]) and int(SEEN[b, t]) == 0
            want = layer.mask_embedding if mask_token else layer.embeddings.weight[SEEN[b, t]]
            assert torch.equal(out.embeddings[b, t], want), (b, t)
    assert out.targets.tolist() == [[-1, 4, 5, 6], [6, -1, 8, -1]]  # the loss covers every masked position
    assert out.valid.tolist() == [[True] * 4, [True] * 3 + [False]]


def test_gradients_reach_the_drawn_and_kept_items_but_not_the_hidden_ones():
    layer = MaskedSequenceEmbedding(12, 4, input_column="seen")
    out = layer({"item_ids": IDS, "item_ids_mask": MASK, "seen": SEEN})
    logits = torch.nn.Linear(4, 12)(out.embeddings)
    MaskedItemLoss()(logits, out.targets).backward()
    touched = set(torch.nonzero(layer.embeddings.weight.grad.abs().sum(1)).flatten().tolist())
    assert {9, 2, 6} <= touched      # random items and the kept item are inputs
    assert 4 not in touched          # the [MASK]ed item 4 is never seen


def test_ragged_dataloader_form_and_errors_name_the_input_column():
    layer = MaskedSequenceEmbedding(12, 4, input_column="seen")
    dense = layer({"item_ids": IDS, "item_ids_mask": MASK, "seen": SEEN})
    offsets = torch.tensor([0, 4, 7], dtype=torch.int32)
    ragged = layer({"item_ids__values": torch.tensor([3, 4, 5, 6, 6, 7, 8]), "item_ids__offsets": offsets,
                    "item_ids_mask__values": torch.tensor([0, 1, 1, 1, 1, 0, 1], dtype=torch.int8),
                    "item_ids_mask__offsets": offsets,
                    "seen__values": torch.tensor([3, 0, 9, 6, 0, 7, 2]), "seen__offsets": offsets})
    assert torch.equal(ragged.embeddings[:, :3], dense.embeddings[:, :3])
    with pytest.raises(KeyError, match="input id column 'seen' is missing"):
        layer({"item_ids": IDS, "item_ids_mask": MASK})
    with pytest.raises(ValueError, match="input column 'seen' has shape"):
        layer({"item_ids": IDS, "item_ids_mask": MASK, "seen": SEEN[:, :3]})
    with pytest.raises(ValueError, match="input column 'seen' has id 12 at row 0, position 2"):
        layer({"item_ids": IDS, "item_ids_mask": MASK, "seen": torch.tensor([[3, 0, 12, 6], [0, 7, 2, 0]])})


def test_the_etl_input_column_feeds_the_layer_through_the_loader():
    from merlin.dataloader.torch import Loader
    from merlin.io import Dataset

    from merlin_mlm_ops import MaskRandom

    rows = [[3, 4, 5, 6, 7], [6, 7], [8, 9, 10, 11], [2, 5, 9]]
    op = MaskRandom(prob=0.6, seed=1, replace=(0.5, 0.3, 0.2), vocab=(1, 12))
    out, wf = run_workflow(["item_ids"] >> op, pd.DataFrame({"item_ids": rows}))
    batch = next(iter(Loader(Dataset(out, schema=wf.output_schema), batch_size=8)))[0]
    emb = MaskedSequenceEmbedding(12, 4, input_column="item_ids_input")(batch)
    mask = [m for r in out["item_ids_mask"] for m in r]
    assert int((emb.targets != -1).sum()) == sum(mask)
