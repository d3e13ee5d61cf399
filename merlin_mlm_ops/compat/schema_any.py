"""Version-guarded fix: merlin-core writes a column's properties into ``schema.pbtxt`` the same way every time.

merlin-core 23.8's ``merlin.schema.io.schema_bp.Any.from_dict`` packs a column's extra properties
(``_dims``, ``is_list``, ``is_ragged``, ...) as a ``google.protobuf.Struct`` with ``Any.Pack``, whose
serialization of the Struct's map is not deterministic: with protobuf 3.20 (the Merlin 23.08
containers') two processes write the same schema with its properties in different orders, so
two identical ``merlin-mlm mask`` runs (or a resumed and an uninterrupted one) wrote
``schema.pbtxt`` files that differ byte for byte. :func:`apply` packs with
``deterministic=True`` (keys sorted); the content is unchanged, and so is what merlin-core reads back.

    from merlin_mlm_ops.compat import schema_any
    schema_any.apply()   # done on importing merlin_mlm_ops.ops
"""
from __future__ import annotations

import sys

from merlin_mlm_ops.compat.registry import disabled_by_env, version_matches

_MARK = "_merlin_mlm_ops_deterministic"


def apply():
    """Make ``schema_bp.Any.from_dict`` pack deterministically (idempotent).

    Returns True when the fix is active; False where merlin-core has no such method, is not
    23.8.x, or ``MERLIN_MLM_OPS_NO_COMPAT`` is set.
    """
    if disabled_by_env() or not version_matches("merlin-core", ("23.8.",)):
        return False
    try:
        from merlin.schema.io import schema_bp
    except ImportError:
        return False
    original = getattr(schema_bp.Any, "from_dict", None)
    if original is None:
        return False
    if getattr(original, _MARK, False):
        return True

    def from_dict(self, value: dict):
        if "@type" in value:
            return original(self, value)
        from google.protobuf import json_format
        from google.protobuf.any_pb2 import Any as AnyPb2
        from google.protobuf.struct_pb2 import Struct

        packed = AnyPb2()
        packed.Pack(json_format.ParseDict(value, Struct()), deterministic=True)
        self.value = packed.value
        self.type_url = packed.type_url
        return self

    setattr(from_dict, _MARK, True)
    from_dict.__wrapped__ = original
    schema_bp.Any.from_dict = from_dict
    return True


def is_active():
    """True while ``Any.from_dict`` packs deterministically (False when merlin's schema_bp was never imported)."""
    module = sys.modules.get("merlin.schema.io.schema_bp")
    return module is not None and getattr(getattr(module.Any, "from_dict", None), _MARK, False)


def undo():
    """Restore merlin-core's own ``Any.from_dict`` (tests compare against it)."""
    from merlin.schema.io import schema_bp

    current = schema_bp.Any.from_dict
    if getattr(current, _MARK, False):
        schema_bp.Any.from_dict = current.__wrapped__
