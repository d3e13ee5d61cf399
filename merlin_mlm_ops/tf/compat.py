"""Fixes for the TensorFlow/Keras and merlin-models behaviour our training path trips on.

Checked on TensorFlow/Keras 2.12 and merlin-models 23.12.  Each fix acts only where the
dependency misbehaves, so it is a no-op on a version that behaves (fix 1 drops a dependency
only if it outlived its attribute; fix 2 acts only inside merlin-models' own compile-cache
reset); ``tests/test_tf_compat.py`` compares each against the original behaviour.

1. Keras 2.12: ``del layer.attr`` of a tracked layer attribute removes the object from the
   layer's sublayers but not from its checkpoint dependencies (``Layer.__delattr__`` skips
   ``AutoTrackable.__delattr__``).  merlin-models' ``fit(pre=...)`` sets ``self.train_pre``
   and deletes it afterwards, so the last ``pre`` is still saved with the model and revived by
   ``load_model``.  :func:`forget_attribute` drops such a leftover dependency.
2. merlin-models 23.12: ``fit/evaluate(pre=...)`` discard the model's compiled train, test
   and predict functions on every call (``_reset_compile_cache``), so every call traces its
   step again, and the discarded graphs stay alive (the number of live FuncGraphs grows with
   every call; RSS grows ~85 MB per call for a small BERT4Rec, benchmarks/train_memory.py).  :class:`CompiledFunctions` keeps each
   function with the ``pre`` it was traced with and puts it back when the next call's ``pre``
   traces the same graph (:func:`trace_key`).
"""
from __future__ import annotations

import contextlib
import functools

import tensorflow as tf


#: Class attribute that marks a ``pre`` class (and its subclasses) as stateless for :func:`trace_key`;
#: :class:`~merlin_mlm_ops.tf.SequenceMaskPrecomputed` sets it (so this module need not import it).
STATELESS_PRE = "_mlm_stateless_pre"


@functools.lru_cache(maxsize=None)
def deleted_attributes_stay_tracked() -> bool:
    """True where deleting a Layer's layer-valued attribute leaves a checkpoint dependency."""
    parent = tf.keras.layers.Layer()
    parent.child = tf.keras.layers.Layer()
    del parent.child
    return "child" in parent._unconditional_dependency_names


def forget_attribute(layer, name: str):
    """Drop ``layer``'s checkpoint dependency ``name`` if its attribute is gone (fix 1)."""
    if not hasattr(layer, name) and name in getattr(layer, "_unconditional_dependency_names", ()):
        layer._delete_tracking(name)


def set_untracked(obj, name: str, value):
    """Set an attribute that Keras must not track (nor save with the model)."""
    object.__setattr__(obj, name, value)


def del_untracked(obj, name: str):
    """Remove an attribute set by :func:`set_untracked` (nothing if absent)."""
    if name in vars(obj):
        object.__delattr__(obj, name)


def trace_key(pre):
    """A key equal for two ``pre`` layers whose traced steps are interchangeable, or None.

    Only for ``pre`` classes that hold no state of their own and configure the transformer
    idempotently: :class:`~merlin_mlm_ops.tf.SequenceMaskPrecomputed` and ``mm.SequenceMaskLast``
    (and their subclasses, which must not add state) of the same class, configuration and
    transformer.  Stock ``SequenceMaskRandom.configure_for_train`` creates a new [MASK] variable
    on every call: a function traced before would use the old one, so it gets None.
    """
    import merlin.models.tf as mm

    if not (getattr(type(pre), STATELESS_PRE, False) or isinstance(pre, mm.SequenceMaskLast)):
        return None
    # (not get_config: it holds generated layer names, different for every instance)
    schema = tuple((c.name, c.dtype.name, tuple(sorted(str(t) for t in c.tags))) for c in pre.schema)
    return type(pre), id(pre.transformer), pre.target_name, getattr(pre, "mask_column", None), schema


class CompiledFunctions:
    """Keeps a model's compiled step functions across ``fit``/``evaluate`` calls with equal pres (fix 2).

    ``with CompiledFunctions.reuse(model, "train_function", pre): original_fit(...)`` lets the
    original ``fit`` reset the compile cache as it does, then puts back the train function that
    an earlier call traced for a ``pre`` with the same :func:`trace_key` (if the model was not
    recompiled and its trainable variables are unchanged), and the other functions that were traced
    for a known ``pre``; afterwards it keeps this call's function for the next call.
    """

    _ATTR = "_mlm_compiled_functions"
    enabled = True  # False restores merlin-models' behaviour (benchmarks/train_memory.py compares)

    @classmethod
    def _key(cls, model, pre):
        key = trace_key(pre) if cls.enabled else None
        if key is None:
            return None
        return key, id(model.optimizer), id(getattr(model, "compiled_loss", None)), id(getattr(model, "compiled_metrics", None))

    @classmethod
    def _cache(cls, model) -> dict:
        cache = vars(model).get(cls._ATTR)
        if cache is None:
            cache = {}
            set_untracked(model, cls._ATTR, cache)
        return cache

    @classmethod
    def select(cls, model, function_name, pre):
        """Set ``model.<function_name>`` to the function traced for an equal ``pre``, else None
        (Keras then traces it anew)."""
        key, saved = cls._key(model, pre), cls._cache(model).get(function_name)
        same = key is not None and saved is not None and saved[0] == key and saved[2] == _trainable_ids(model)
        setattr(model, function_name, saved[1] if same else None)

    @classmethod
    def remember(cls, model, function_name, pre):
        """Keep ``model.<function_name>`` as the function traced for ``pre``."""
        key, fn = cls._key(model, pre), getattr(model, function_name, None)
        if key is not None and fn is not None:
            cls._cache(model)[function_name] = (key, fn, _trainable_ids(model))

    @classmethod
    @contextlib.contextmanager
    def reuse(cls, model, function_name, pre):
        if cls._key(model, pre) is None:
            yield
            return
        cache = cls._cache(model)
        original_reset = model._reset_compile_cache

        def reset():
            kept = {name: getattr(model, name, None) for name in _FUNCTIONS if name != function_name}
            original_reset()
            for name, fn in kept.items():  # traced for a known pre, which this call does not change
                if fn is not None and name in cache and cache[name][1] is fn:
                    setattr(model, name, fn)
            cls.select(model, function_name, pre)

        set_untracked(model, "_reset_compile_cache", reset)
        try:
            yield
        finally:
            del_untracked(model, "_reset_compile_cache")
            cls.remember(model, function_name, pre)


_FUNCTIONS = ("train_function", "test_function", "predict_function")


def _trainable_ids(model):
    """The variables a traced train step updates (not Keras' trainable state, whose keys include
    the pre layers attached during each call)."""
    return tuple(id(v) for v in model.trainable_variables)
