"""PyTorch side: train on the masks written by MaskRandom (needs ``pip install -r requirements-torch.txt``).

- :class:`MaskedSequenceEmbedding`, :class:`MaskedItemLoss`, :func:`mlm_targets`: plain PyTorch, fed by
  ``merlin.dataloader.torch.Loader``; the same semantics as :mod:`merlin_mlm_ops.tf`'s layer and loss.
- :class:`EpochLoaders`: the k-th epoch's loader in the k-th pass of one training run.
- :mod:`merlin_mlm_ops.torch.t4r`: Transformers4Rec's masked-LM trained on the ETL mask (imported on
  its own: it needs transformers4rec).

``import merlin_mlm_ops`` never imports torch; this package does.
"""
from merlin_mlm_ops.torch.epochs import EpochLoaders
from merlin_mlm_ops.torch.layers import (IGNORE_LABEL, EmbeddedSequence, MaskedItemLoss, MaskedSequenceEmbedding,
                                         mlm_targets)

__all__ = ["EpochLoaders", "EmbeddedSequence", "IGNORE_LABEL", "MaskedItemLoss", "MaskedSequenceEmbedding",
           "mlm_targets"]
