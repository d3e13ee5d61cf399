"""The compatibility fixes (merlin_mlm_ops.tf.compat) against the dependencies' own behaviour,
and the two drop-in defects of SequenceMaskPrecomputed they and attach() fix."""
import numpy as np
import pytest
import tensorflow as tf

import merlin.models.tf as mm
from merlin.dataloader.tensorflow import Loader
from merlin.io import Dataset

from merlin_mlm_ops.tf import SequenceMaskPrecomputed
from merlin_mlm_ops.tf.compat import CompiledFunctions, deleted_attributes_stay_tracked, forget_attribute, trace_key
from merlin_mlm_ops.tf.models import build_bert4rec
from merlin_mlm_ops.data.toy import masked_epochs


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    datasets, schema = masked_epochs(tmp_path_factory.mktemp("compat"), epochs=2, sessions=200)
    seq = schema.select_by_name(["item_ids"])
    plain = Dataset(datasets[0].to_ddf().compute()[["item_ids"]], cpu=True, schema=seq)
    return datasets, schema, seq, plain


def small_model(seq):
    tf.keras.utils.set_random_seed(0)
    model, bert = build_bert4rec(seq, dim=16, layers=1)
    model.compile(optimizer="adam", metrics=[mm.RecallAt(10)])
    return model, bert


class Counting(SequenceMaskPrecomputed):
    traces = 0

    def call(self, *args, **kwargs):
        type(self).traces += 1  # Python runs only while tracing
        return super().call(*args, **kwargs)


class CountingLast(mm.SequenceMaskLast):
    traces = 0

    def call(self, *args, **kwargs):
        type(self).traces += 1
        return super().call(*args, **kwargs)


def test_keras_keeps_a_deleted_layer_attribute_as_a_dependency_and_forget_attribute_drops_it():
    parent = tf.keras.layers.Layer()
    parent.child = tf.keras.layers.Layer()
    del parent.child
    assert deleted_attributes_stay_tracked() == ("child" in parent._unconditional_dependency_names)
    forget_attribute(parent, "child")
    assert "child" not in parent._unconditional_dependency_names
    parent.kept = tf.keras.layers.Layer()
    forget_attribute(parent, "kept")  # a live attribute stays tracked
    assert "kept" in parent._unconditional_dependency_names


def test_a_reloaded_model_fits_with_another_pre_after_training_on_precomputed_masks(data, tmp_path):
    datasets, schema, seq, plain = data
    model, bert = small_model(seq)
    model.fit(Loader(datasets[0], batch_size=64), epochs=1, pre=SequenceMaskPrecomputed(schema, "item_ids",
                                                                                         transformer=bert), verbose=0)
    assert not {"train_pre", "_mlm_precomputed_pre"} & set(model._unconditional_dependency_names)
    model.save(tmp_path / "model")
    import transformers.models.bert.modeling_tf_bert  # noqa: F401  (BertBlock revives with its masking)

    reloaded = tf.keras.models.load_model(tmp_path / "model")
    assert getattr(reloaded, "train_pre", None) is None
    reloaded.compile(optimizer="adam", loss="categorical_crossentropy")
    block = next(layer for layer in reloaded._flatten_layers() if isinstance(layer, mm.BertBlock))
    history = reloaded.fit(Loader(plain, batch_size=64), epochs=1, verbose=0,
                           pre=mm.SequenceMaskRandom(schema=seq, target="item_ids", transformer=block))
    assert np.isfinite(history.history["loss"][0])


def test_fit_on_a_peeked_merlin_models_loader_works_as_with_sequence_mask_random(data):
    datasets, schema, seq, _ = data
    model, bert = small_model(seq)
    loader = mm.Loader(datasets[0], batch_size=64)
    loader.peek()
    history = model.fit(loader, epochs=1, pre=SequenceMaskPrecomputed(schema, "item_ids", transformer=bert), verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert len(history.history["loss"]) == 1


def test_refits_and_evaluations_with_equal_pres_reuse_their_traced_steps(data):
    datasets, schema, seq, plain = data
    model, bert = small_model(seq)
    Counting.traces = CountingLast.traces = 0
    for k in range(3):  # a new pre and Loader for each call, alternating fit and evaluate
        model.fit(Loader(datasets[k % 2], batch_size=64), epochs=1, verbose=0,
                  pre=Counting(schema, "item_ids", transformer=bert))
        model.evaluate(Loader(plain, batch_size=64), verbose=0,
                       pre=CountingLast(schema=seq, target="item_ids", transformer=bert))
    assert Counting.traces <= 2 and CountingLast.traces <= 2, (Counting.traces, CountingLast.traces)

    traced = Counting.traces
    model.fit(Loader(datasets[0], batch_size=64), epochs=1, verbose=0,
              pre=Counting(schema, "item_ids", transformer=bert, mask_column="item_ids_mask", name="other"))
    assert Counting.traces == traced, "the layer name does not change the traced step"
    model.compile(optimizer="adam")  # a recompiled model traces again
    model.fit(Loader(datasets[0], batch_size=64), epochs=1, verbose=0, pre=Counting(schema, "item_ids", transformer=bert))
    assert Counting.traces > traced
    traced = Counting.traces
    next(layer for layer in model.layers if "categorical_output" in layer.name).trainable = False  # trace again
    model.fit(Loader(datasets[0], batch_size=64), epochs=1, verbose=0, pre=Counting(schema, "item_ids", transformer=bert))
    assert Counting.traces > traced

    CompiledFunctions.enabled = False  # merlin-models' own behaviour: every call retraces
    try:
        traced = Counting.traces
        model.fit(Loader(datasets[1], batch_size=64), epochs=1, verbose=0, pre=Counting(schema, "item_ids", transformer=bert))
        assert Counting.traces > traced
    finally:
        CompiledFunctions.enabled = True


def test_only_stateless_pres_with_equal_configuration_share_a_trace_key(data):
    _, schema, seq, _ = data
    _, bert = small_model(seq)
    _, other_bert = small_model(seq)
    key = trace_key(SequenceMaskPrecomputed(schema, "item_ids", transformer=bert))
    assert key == trace_key(SequenceMaskPrecomputed(schema, "item_ids", transformer=bert))
    assert key != trace_key(SequenceMaskPrecomputed(schema, "item_ids", transformer=other_bert))
    assert key != trace_key(SequenceMaskPrecomputed(schema, "item_ids", mask_column="m", transformer=bert))
    assert trace_key(mm.SequenceMaskRandom(schema=seq, target="item_ids", transformer=bert)) is None
    assert trace_key(None) is None
