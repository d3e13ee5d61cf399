"""TensorFlow/Keras side: train on the masks written by MaskRandom.

- :class:`MaskedSequenceEmbedding`, :class:`MaskedItemLoss`, :func:`mlm_targets`: plain Keras.
- :class:`SequenceMaskPrecomputed`: merlin-models (``model.fit(..., pre=...)``), imported on
  first use because it needs merlin-models and HuggingFace transformers.
- :class:`EpochMasks`: a merlin-dataloader ``Loader`` serving the k-th precomputed mask in the
  k-th epoch of one ``model.fit``.
"""
from merlin_mlm_ops.tf.layers import IGNORE_LABEL, MaskedItemLoss, MaskedSequenceEmbedding, mlm_targets

__all__ = ["EpochMasks", "IGNORE_LABEL", "MaskedItemLoss", "MaskedSequenceEmbedding", "SequenceMaskPrecomputed", "mlm_targets"]


def __getattr__(name):
    if name == "SequenceMaskPrecomputed":
        from merlin_mlm_ops.tf.merlin_models import SequenceMaskPrecomputed

        return SequenceMaskPrecomputed
    if name == "EpochMasks":
        from merlin_mlm_ops.tf.epochs import EpochMasks

        return EpochMasks
    raise AttributeError(f"module 'merlin_mlm_ops.tf' has no attribute {name!r}")
