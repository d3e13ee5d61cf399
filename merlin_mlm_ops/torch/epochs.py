"""One training run, a fresh precomputed mask every epoch (PyTorch; the twin of ``merlin_mlm_ops.tf.EpochMasks``).

PyTorch training loops, HuggingFace's and Transformers4Rec's ``Trainer`` among them, iterate the
train loader once per epoch. :class:`EpochLoaders` serves ``datasets[k]`` on its k-th iteration,
through a loader built by a function of the dataset, so the same loop trains on another mask in
every epoch.
"""
from __future__ import annotations

from typing import Callable, Sequence

from merlin_mlm_ops.data.epochs import check_same_columns

__all__ = ["EpochLoaders"]


class EpochLoaders:
    """An iterable of batches whose k-th pass is ``make_loader(datasets[k % len(datasets)])``.

    Parameters
    ----------
    datasets : sequence of merlin.io.Dataset
        One dataset per epoch, the same sessions with a different mask in each (e.g.
        :func:`merlin_mlm_ops.data.epochs.epoch_datasets`, or ``MaskRandom(epoch=k)`` outputs); same columns
        and dtypes in each. Beyond ``len(datasets)`` epochs, epoch k uses ``datasets[k % len(datasets)]``.
    make_loader : callable
        Builds an epoch's loader from its dataset, e.g. ``lambda ds: Loader(ds, batch_size=64)``
        (``merlin.dataloader.torch``) or Transformers4Rec's ``MerlinDataLoader.from_schema(schema, ds,
        64, max_sequence_length=20)``. Called once per epoch; only the current epoch's loader is kept.
    epoch : int, default 0
        The epoch the next pass serves (pass the epoch to resume from).

    ``len()`` is the number of batches of the next pass (what training loops read before iterating), and
    any other attribute is that of the next pass's loader (T4R's ``Trainer`` reads ``_batch_size``).
    Give it to Transformers4Rec's ``Trainer(..., train_dataloader=loaders)``: its ``train()`` then
    trains epoch k on ``datasets[k]``.

    Example
    -------
    >>> loaders = EpochLoaders(["mask 0", "mask 1"], make_loader=lambda ds: [ds + ", batch 0", ds + ", batch 1"])
    >>> [list(loaders) for _ in range(3)]
    [['mask 0, batch 0', 'mask 0, batch 1'], ['mask 1, batch 0', 'mask 1, batch 1'], ['mask 0, batch 0', 'mask 0, batch 1']]
    >>> loaders.epoch
    3
    """

    def __init__(self, datasets: Sequence, make_loader: Callable, epoch: int = 0):
        datasets = list(datasets)
        if not datasets:
            raise ValueError("EpochLoaders needs at least one dataset (one per epoch)")
        if not callable(make_loader):
            raise TypeError(f"make_loader must be callable (dataset -> loader), got {type(make_loader).__name__}")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        if all(hasattr(ds, "schema") for ds in datasets):
            check_same_columns(datasets)
        self.datasets, self.make_loader, self.epoch = datasets, make_loader, epoch
        self._loader, self._loader_epoch = None, None

    def loader(self, epoch: int):
        """The loader of ``epoch`` (built on first use; the previous epoch's is dropped)."""
        k = epoch % len(self.datasets)
        if self._loader_epoch != k:
            self._loader, self._loader_epoch = None, None  # free the old one first
            self._loader, self._loader_epoch = self.make_loader(self.datasets[k]), k
        return self._loader

    def __getattr__(self, name):
        # only for names not found on self; the guard keeps copy/pickle (no __dict__ yet) from recursing
        if name.startswith("__") or "_loader_epoch" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.loader(self.epoch), name)

    def __len__(self):
        return len(self.loader(self.epoch))

    def __iter__(self):
        epoch = self.epoch
        # advanced when the pass starts, so a pass cut short (max_steps) still moves to the next mask
        self.epoch = epoch + 1
        yield from self.loader(epoch)
