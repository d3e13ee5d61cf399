"""One ``fit``, a fresh precomputed mask every epoch.

:class:`EpochMasks` is a merlin-dataloader TF ``Loader`` over several datasets, one per
epoch (the ``epoch_0000/``, ``epoch_0001/``, ... folders of ``merlin-mlm mask --epochs E``,
or ``MaskRandom(epoch=k)`` outputs): Keras iterates it once per epoch and calls its
``on_epoch_end``, where it switches to the next epoch's dataset.  The batches keep their
structure, so ``fit`` traces its train step once for all epochs::

    loader = EpochMasks(epoch_datasets("out/masked"), batch_size=128, shuffle=True)
    model.fit(loader, epochs=20, pre=SequenceMaskPrecomputed(loader.input_schema, "item_ids",
                                                              transformer=bert))
"""
from __future__ import annotations

from typing import Sequence

from merlin.dataloader.tensorflow import Loader


class EpochMasks(Loader):
    """A ``Loader`` that serves ``datasets[k]`` during the k-th epoch of one ``model.fit``.

    Parameters
    ----------
    datasets : sequence of merlin.io.Dataset
        One dataset per epoch, the same sessions with a different mask in each (e.g.
        :func:`merlin_mlm_ops.jobs.epoch_datasets`).  They must have the same columns with the
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
        _check_same_columns(datasets)
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


def _check_same_columns(datasets):
    first = {c.name: c.dtype.name for c in datasets[0].schema}
    for k, ds in enumerate(datasets[1:], start=1):
        cols = {c.name: c.dtype.name for c in ds.schema}
        for name in sorted(set(first) ^ set(cols)):
            where = "epoch 0" if name in first else f"epoch {k}"
            raise ValueError(f"column '{name}' is only in {where}'s dataset: every epoch needs the same columns")
        for name, dtype in first.items():
            if cols[name] != dtype:
                raise ValueError(f"column '{name}' is {dtype} in epoch 0 but {cols[name]} in epoch {k}")
