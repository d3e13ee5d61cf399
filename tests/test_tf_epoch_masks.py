"""EpochMasks: one model.fit, the k-th precomputed mask in the k-th epoch, one trace."""
import numpy as np
import pytest
import tensorflow as tf

from merlin_mlm_ops.tf import SequenceMaskPrecomputed
from merlin_mlm_ops.tf.epochs import EpochMasks
from merlin_mlm_ops.tf.models import build_bert4rec
from merlin_mlm_ops.data.toy import masked_epochs


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return masked_epochs(tmp_path_factory.mktemp("epochs"), epochs=3)


class RecordingPre(SequenceMaskPrecomputed):
    """Records the mask values of every batch it receives, and how often it is traced."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches, self.traces = [], 0

    def call(self, inputs, targets=None, **kwargs):
        self.traces += 1  # Python runs only while tracing

        def record(values):
            self.batches.append(values.ravel().astype(bool))
            return np.int64(0)

        tf.numpy_function(record, [inputs[self.mask_column + "__values"]], tf.int64)
        return super().call(inputs, targets=targets, **kwargs)


def flat_mask(ds):
    return np.concatenate(ds.to_ddf().compute()["item_ids_mask"].to_numpy()).astype(bool)


def test_epoch_k_of_one_fit_trains_on_mask_k_and_traces_once(data):
    datasets, schema = data
    tf.keras.utils.set_random_seed(0)
    model, bert = build_bert4rec(schema.select_by_name(["item_ids"]), dim=32, layers=1)
    model.compile(optimizer=tf.keras.optimizers.Adam(5e-3))
    loader = EpochMasks(datasets, batch_size=64)
    pre = RecordingPre(schema, "item_ids", transformer=bert)
    losses = model.fit(loader, epochs=4, pre=pre, verbose=0).history["loss"]

    steps = len(loader)
    assert len(pre.batches) == 4 * steps
    for epoch in range(4):  # the fourth epoch starts over with the first mask
        seen = np.concatenate(pre.batches[epoch * steps:(epoch + 1) * steps])
        np.testing.assert_array_equal(seen, flat_mask(datasets[epoch % 3]), err_msg=f"epoch {epoch}")
    assert not np.array_equal(flat_mask(datasets[0]), flat_mask(datasets[1]))
    assert pre.traces <= 2, "the train step was retraced for a later epoch"
    assert loader.epoch == 4, "a further fit goes on with the next mask"
    assert losses[-1] < 0.95 * losses[0], losses


def test_the_epoch_argument_picks_the_first_mask_served(data):
    datasets, _ = data
    loader = EpochMasks(datasets, batch_size=1000, epoch=4)
    assert loader.dataset is datasets[1]
    first = loader.peek()[0]["item_ids_mask__values"].numpy().ravel().astype(bool)
    np.testing.assert_array_equal(first, flat_mask(datasets[1]))
    loader.on_epoch_end()
    assert loader.epoch == 5 and loader.dataset is datasets[2]
    np.testing.assert_array_equal(next(iter(loader))[0]["item_ids_mask__values"].numpy().ravel().astype(bool),
                                  flat_mask(datasets[2]))


def test_datasets_that_differ_in_columns_or_dtypes_are_refused(data):
    datasets, schema = data
    from merlin.io import Dataset
    from merlin.schema import Schema

    df = datasets[1].to_ddf().compute()
    with pytest.raises(ValueError, match="column 'item_ids_mask' is only in epoch 0's dataset"):
        EpochMasks([datasets[0], Dataset(df[["item_ids"]], cpu=True, schema=schema.select_by_name(["item_ids"]))], 8)
    other = Schema([schema["item_ids"], schema["item_ids_mask"].with_dtype("int8")])
    with pytest.raises(ValueError, match="column 'item_ids_mask' is bool in epoch 0 but int8 in epoch 1"):
        EpochMasks([datasets[0], Dataset(df, cpu=True, schema=other)], 8)
    with pytest.raises(ValueError, match="at least one dataset"):
        EpochMasks([], 8)
    with pytest.raises(ValueError, match="epoch must be a non-negative int"):
        EpochMasks(datasets, 8, epoch=-1)
