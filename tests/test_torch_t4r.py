"""Transformers4Rec's masked-LM trains on the ETL mask; evaluation and inference stay T4R's own."""
from torch_support import require

require("torch", "transformers4rec.torch")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from merlin_mlm_ops.torch import EpochLoaders  # noqa: E402
from merlin_mlm_ops.torch.t4r import (PrecomputedMaskedLanguageModeling, PrecomputedMaskFeatures,  # noqa: E402
                                      bert4rec, t4r_schema)

MAX_LEN = 10


def masked_copies(n_epochs=2, n_sessions=96, seed=0):
    """Categorified sessions, masked once per epoch: a list of merlin.io.Dataset."""
    import nvtabular as nvt
    from merlin.io import Dataset

    from merlin_mlm_ops import MaskRandom

    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"session_id": np.arange(n_sessions),
                       "item_ids": [rng.integers(1, 40, rng.integers(2, MAX_LEN)).tolist() for _ in range(n_sessions)]})
    cat = nvt.Workflow(["item_ids"] >> nvt.ops.Categorify() >> nvt.ops.TagAsItemID())
    encoded = cat.fit_transform(Dataset(df))
    out = []
    for epoch in range(n_epochs):
        wf = nvt.Workflow(["item_ids"] >> MaskRandom(prob=0.3, seed=1, epoch=epoch))
        out.append(Dataset(wf.fit_transform(encoded).to_ddf().compute(), schema=wf.output_schema))
    return out


@pytest.fixture(scope="module")
def data():
    datasets = masked_copies()
    return datasets, t4r_schema(datasets[0].schema, MAX_LEN)


def t4r_loader(schema, ds, batch_size=32):
    from transformers4rec.torch.utils.data_utils import MerlinDataLoader

    return MerlinDataLoader.from_schema(schema, ds, batch_size, max_sequence_length=MAX_LEN, shuffle=False)


def first_batch(data):
    datasets, schema = data
    return next(iter(t4r_loader(schema, datasets[0])))[0]


def twin_models(schema, dropout=0.0):
    """The ETL-mask model and T4R's stock masked-LM model with the same weights."""
    torch.manual_seed(0)
    etl = bert4rec(schema, MAX_LEN, d_model=16, n_head=2, n_layer=1, dropout=dropout)
    stock = bert4rec(schema, MAX_LEN, d_model=16, n_head=2, n_layer=1, dropout=dropout, precomputed=False)
    stock.load_state_dict(etl.state_dict())
    return etl, stock


def test_both_maskings_start_from_the_same_weights_under_the_same_seed(data):
    schema = data[1]
    torch.manual_seed(3)
    etl = bert4rec(schema, MAX_LEN, d_model=16, n_head=2, n_layer=1).state_dict()
    torch.manual_seed(3)
    stock = bert4rec(schema.select_by_name(["item_ids"]), MAX_LEN, d_model=16, n_head=2, n_layer=1,
                     precomputed=False).state_dict()
    assert list(etl) == list(stock) and all(torch.equal(etl[k], stock[k]) for k in etl)


def test_training_labels_are_the_items_under_the_etl_mask(data):
    batch = first_batch(data)
    assert batch["item_ids_mask"].dtype == torch.int8 and batch["item_ids_mask"].shape == batch["item_ids"].shape
    etl, _ = twin_models(data[1])
    out = etl(batch, training=True)
    mask = batch["item_ids_mask"].bool()
    assert torch.equal(out["labels"], batch["item_ids"][mask])
    assert torch.isfinite(out["loss"])


def test_t4r_own_draw_forced_to_the_etl_mask_gives_the_same_loss(data, monkeypatch):
    batch = first_batch(data)
    mask = batch["item_ids_mask"].bool()
    etl, stock = twin_models(data[1], dropout=0.1)
    torch.manual_seed(5)
    etl_loss = etl(batch, training=True)["loss"]

    # T4R draws torch.bernoulli, then one torch.multinomial index per row that it always masks
    # (and a second one to unmask, for rows it masked whole: none here, the ETL never masks a row whole)
    first_masked = mask.float().argmax(1, keepdim=True)
    monkeypatch.setattr(torch, "bernoulli", lambda probabilities: mask.to(probabilities.dtype))
    monkeypatch.setattr(torch, "multinomial", lambda weights, num_samples: first_masked)
    torch.manual_seed(5)  # the same dropout draws
    stock_out = stock(batch, training=True)
    assert torch.equal(stock_out["labels"], batch["item_ids"][mask])
    assert torch.allclose(stock_out["loss"], etl_loss, rtol=1e-6, atol=0), (float(stock_out["loss"]), float(etl_loss))
    assert float(stock_out["loss"]) == pytest.approx(float(etl_loss), rel=1e-6)


def test_changing_the_item_id_at_a_masked_position_leaves_the_predictions_unchanged(data):
    batch = first_batch(data)
    mask = batch["item_ids_mask"].bool()
    etl, _ = twin_models(data[1])
    etl.train()
    before = etl(batch, training=True)["predictions"]
    other = {**batch, "item_ids": torch.where(mask, torch.full_like(batch["item_ids"], 3), batch["item_ids"])}
    assert torch.equal(etl(other, training=True)["predictions"], before)


def test_evaluation_and_inference_are_t4rs_own_and_need_no_mask_column(data):
    batch = first_batch(data)
    no_mask = {k: v for k, v in batch.items() if k != "item_ids_mask"}
    etl, stock = twin_models(data[1])
    etl.eval()
    stock.eval()
    got, want = etl(no_mask, testing=True), stock(no_mask, testing=True)
    assert torch.equal(got["labels"], want["labels"]) and torch.equal(got["predictions"], want["predictions"])
    assert torch.equal(etl(batch, testing=True)["predictions"], want["predictions"])  # the mask is ignored
    assert torch.equal(etl(no_mask), stock(no_mask))  # inference: a [MASK] appended after the last item


def test_training_without_the_mask_column_raises_naming_it(data):
    batch = {k: v for k, v in first_batch(data).items() if k != "item_ids_mask"}
    with pytest.raises(KeyError, match="mask column 'item_ids_mask' is missing from the batch"):
        twin_models(data[1])[0](batch, training=True)


@pytest.mark.parametrize("change, message", [
    (lambda m, ids: m * 2, "mask column 'item_ids_mask' must hold only 0 and 1, got 2 at row 0"),
    (lambda m, ids: m[:, :-1], r"mask column 'item_ids_mask' has shape \(32, 9\) but the padded item ids have \(32, 10\)"),
    (lambda m, ids: (ids == 0).to(torch.int8), "mask column 'item_ids_mask' marks position .* which is padding"),
])
def test_a_malformed_mask_raises_naming_the_column(data, change, message):
    batch = first_batch(data)
    bad = {**batch, "item_ids_mask": change(batch["item_ids_mask"], batch["item_ids"])}
    with pytest.raises(ValueError, match=message):
        twin_models(data[1])[0](bad, training=True)


def test_the_masking_refuses_a_training_batch_that_was_not_handed_a_mask():
    masking = PrecomputedMaskedLanguageModeling(hidden_size=8)
    with pytest.raises(ValueError, match="got no ETL mask for this training batch: build the inputs with PrecomputedMaskFeatures"):
        masking.compute_masked_targets(torch.tensor([[1, 2, 0]]), training=True)


def test_the_features_module_builds_no_embedding_for_the_mask_and_finds_it_by_its_tag(data):
    inputs = PrecomputedMaskFeatures.from_schema(data[1], max_sequence_length=MAX_LEN, d_output=16)
    assert inputs.mask_column == "item_ids_mask"
    assert list(inputs.to_merge["categorical_module"].embedding_tables) == ["item_ids"]
    assert isinstance(inputs.masking, PrecomputedMaskedLanguageModeling)


def test_t4r_schema_tags_pads_and_keeps_the_mask_bool(data):
    import json

    from merlin.schema import Tags

    schema = data[1]
    for name in ("item_ids", "item_ids_mask"):
        assert Tags.LIST in schema[name].tags
        assert schema[name].properties["value_count"] == {"min": 0, "max": MAX_LEN}
    assert schema["item_ids_mask"].dtype.name == "bool" and "mlm_mask" in schema["item_ids_mask"].tags
    assert Tags.CATEGORICAL not in schema["item_ids_mask"].tags
    json.dumps([dict(col.properties) for col in schema])  # plain properties, as read from a schema file


def test_t4r_schema_of_evaluation_data_without_a_mask_column(data):
    from merlin.schema import Tags

    schema = t4r_schema(data[0][0].schema.select_by_name(["item_ids"]), MAX_LEN)
    assert schema.column_names == ["item_ids"] and Tags.LIST in schema["item_ids"].tags


def test_t4r_schema_rejects_what_it_cannot_use(data):
    schema = data[0][0].schema
    with pytest.raises(ValueError, match="max_sequence_length must be a positive int, got 0"):
        t4r_schema(schema, 0)
    two = schema.select_by_name(["item_ids", "item_ids_mask"])
    two["other_mask"] = two["item_ids_mask"].with_name("other_mask")
    with pytest.raises(ValueError, match=r"cannot tell the mask column: 2 columns of the schema carry the tag 'mlm_mask'"):
        t4r_schema(two, MAX_LEN)
    with pytest.raises(ValueError, match="mask column 'nope' is not in the schema"):
        t4r_schema(schema, MAX_LEN, mask_column="nope")


def test_one_trainer_run_trains_epoch_k_on_the_kth_mask(data, tmp_path):
    from transformers4rec.config.trainer import T4RecTrainingArguments
    from transformers4rec.torch import Trainer

    datasets, schema = data
    model, _ = twin_models(schema)
    seen = []  # (epoch, mask values) of every training batch
    model.register_forward_pre_hook(lambda module, args, kwargs: seen.append(args[0]["item_ids_mask"].clone())
                                    if kwargs.get("training") else None, with_kwargs=True)
    args = T4RecTrainingArguments(output_dir=str(tmp_path), max_sequence_length=MAX_LEN, per_device_train_batch_size=32,
                                  per_device_eval_batch_size=32, num_train_epochs=3, learning_rate=0.01, report_to=[],
                                  no_cuda=True, save_strategy="no", logging_strategy="no", predict_top_k=20)
    loaders = EpochLoaders(datasets, lambda ds: t4r_loader(schema, ds))
    trainer = Trainer(model=model, args=args, schema=schema, train_dataloader=loaders,
                      eval_dataloader=t4r_loader(schema, datasets[0]), compute_metrics=True)
    result = trainer.train()
    assert loaders.epoch == 3 and np.isfinite(result.training_loss)
    per_epoch = len(t4r_loader(schema, datasets[0]))
    assert len(seen) == 3 * per_epoch
    want = [torch.cat([b["item_ids_mask"] for b, _ in t4r_loader(schema, ds)]) for ds in datasets]
    for epoch in range(3):
        got = torch.cat(seen[epoch * per_epoch:(epoch + 1) * per_epoch])
        assert torch.equal(got, want[epoch % 2]), epoch
    metrics = trainer.evaluate()
    assert 0 <= metrics["eval_/next-item/recall_at_10"] <= 1


def test_t4r_bert_config_build_drops_dropout_and_bert4rec_sets_it(data):
    from transformers4rec.config.transformer import BertConfig

    config = BertConfig.build(d_model=16, n_head=2, n_layer=1, total_seq_length=MAX_LEN, dropout=0.0)
    assert (config.hidden_dropout_prob, config.attention_probs_dropout_prob, config.intermediate_size) == (0.1, 0.1, 3072)
    model = bert4rec(data[1], MAX_LEN, d_model=16, n_head=2, n_layer=1, dropout=0.0)
    (block,) = [m for m in model.modules() if hasattr(m, "transformer") and hasattr(m.transformer, "config")]
    config = block.transformer.config
    assert (config.hidden_dropout_prob, config.attention_probs_dropout_prob, config.intermediate_size) == (0.0, 0.0, 64)


def test_t4r_own_draw_labels_one_position_more_than_its_bernoulli_draw_and_none_in_a_one_item_row():
    from transformers4rec.torch.masking import MaskedLanguageModeling

    torch.manual_seed(0)
    masking = MaskedLanguageModeling(hidden_size=8, mlm_probability=0.0)  # the Bernoulli draw picks nothing
    ids = torch.tensor([[5, 6, 7, 8], [5, 6, 0, 0], [5, 0, 0, 0]])
    labels = masking.compute_masked_targets(ids, training=True).schema.sum(1)
    assert labels.tolist() == [1, 1, 0]
