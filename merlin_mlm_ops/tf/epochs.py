"""One ``fit``, a fresh precomputed mask every epoch.

:class:`EpochMasks` is a merlin-dataloader TF ``Loader`` over several datasets, one per
epoch (the ``epoch_0000/``, ``epoch_0001/``, ... folders of ``merlin-mlm mask --epochs E``,
or ``MaskRandom(epoch=k)`` outputs): Keras iterates it once per epoch and calls its
``on_epoch_end``, where it switches to the next epoch's dataset.  The batches keep their
structure, so ``fit`` traces its train step once for all epochs::

    loader = EpochMasks(epoch_datasets("out/masked"), batch_size=128, shuffle=True)
    schema = loader.input_schema.select_by_name(["item_ids", "item_ids_mask"])
    model.fit(loader, epochs=20, pre=SequenceMaskPrecomputed(schema, "item_ids", transformer=bert))
"""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf
from merlin.dataloader.tensorflow import Loader

from merlin_mlm_ops.data.epochs import check_same_columns
from merlin_mlm_ops.tf.compat import CompiledFunctions, del_untracked, set_untracked


class EpochMasks(Loader):
    """A ``Loader`` that serves ``datasets[k]`` during the k-th epoch of one ``model.fit``.

    Parameters
    ----------
    datasets : sequence of merlin.io.Dataset
        One dataset per epoch, the same sessions with a different mask in each (e.g.
        :func:`merlin_mlm_ops.data.epochs.epoch_datasets`).  They must have the same columns with the
        same dtypes.  When training runs longer than ``len(datasets)`` epochs, epoch k uses
        ``datasets[k % len(datasets)]``.
    batch_size : int
        Rows per batch, as for ``Loader``.
    epoch : int, default 0
        The epoch the next iteration serves; pass fit's ``initial_epoch`` when resuming.
    **loader_kwargs
        Any other ``Loader`` argument (``shuffle``, ``seed_fn``, ``drop_last``, ...), applied
        to every epoch.

    Example
    -------
    ``model.fit(EpochMasks([ds0, ds1, ds2], batch_size=64), epochs=3, pre=...)`` trains on
    ``ds0``'s masks in epoch 0, ``ds1``'s in epoch 1 and ``ds2``'s in epoch 2.
    """

    def __init__(self, datasets: Sequence, batch_size: int, epoch: int = 0, **loader_kwargs):
        datasets = list(datasets)
        if not datasets:
            raise ValueError("EpochMasks needs at least one dataset (one per epoch)")
        if not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        check_same_columns(datasets)
        self.epoch_datasets = datasets
        super().__init__(datasets[epoch % len(datasets)], batch_size, **loader_kwargs)
        self.epoch = epoch

    @property
    def epoch(self) -> int:
        """The epoch the current (or next) iteration serves."""
        return self._epoch

    @epoch.setter
    def epoch(self, value: int):
        self._epoch = value
        dataset = self.epoch_datasets[value % len(self.epoch_datasets)]
        if dataset is not self.dataset:
            # The chunk queue captured the old dataset's iterator: drop it (it is rebuilt lazily).
            self._set_epochs(self._epochs)
            self.dataset = dataset
            self.indices = self._array_lib.arange(dataset.npartitions)

    def on_epoch_end(self):
        """Called by Keras after each epoch: stop, and serve the next epoch's dataset."""
        super().on_epoch_end()
        self.epoch = self._epoch + 1


class ValidationPre(tf.keras.callbacks.Callback):
    """Use ``pre`` for the validation runs of one ``fit`` (``validation_data=``, ``validation_freq=``).

    merlin-models' ``fit`` takes a ``pre`` for training only; a BERT4Rec validation needs its own
    (``mm.SequenceMaskLast``).  Calling ``evaluate(pre=...)`` from a callback would discard the
    compiled train function mid-fit; this callback instead sets the test ``pre`` for the whole
    ``fit`` (untracked, so it is not saved with the model), so the validation step is traced once
    per ``fit`` and reused at every validation.

    Parameters
    ----------
    pre : Layer
        The ``pre`` for validation, e.g. ``mm.SequenceMaskLast(schema, "item_ids", transformer=bert)``.

    Example
    -------
    ``model.fit(EpochMasks(datasets, 128), epochs=50, pre=SequenceMaskPrecomputed(...),
    validation_data=Loader(valid, 128), validation_freq=5, callbacks=[ValidationPre(mask_last)])``
    puts ``val_recall_at_10`` etc. into the history every 5 epochs.
    """

    def __init__(self, pre):
        super().__init__()
        self.pre = pre

    def on_train_begin(self, logs=None):
        configure = getattr(self.pre, "configure_for_test", None)
        if configure is not None:
            configure()
        set_untracked(self.model, "test_pre", self.pre)
        # a test function traced for another pre must not be used; one for an equal pre is
        CompiledFunctions.select(self.model, "test_function", self.pre)

    def on_train_end(self, logs=None):
        CompiledFunctions.remember(self.model, "test_function", self.pre)
        del_untracked(self.model, "test_pre")
