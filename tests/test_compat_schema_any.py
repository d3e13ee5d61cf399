"""merlin_mlm_ops.compat.schema_any: column properties are packed into schema.pbtxt deterministically."""
from google.protobuf import json_format
from google.protobuf.any_pb2 import Any as AnyPb2
from google.protobuf.struct_pb2 import Struct
from merlin.schema.io import schema_bp

from merlin_mlm_ops.compat import schema_any

PROPS = {"is_ragged": True, "_dims": [[0, None], [0, None]], "is_list": True, "dtype_item_size": 64.0,
         "zeta": "z", "alpha": {"b": 1.0, "a": 2.0}}


def _unpack(packed):
    struct = Struct()
    message = AnyPb2(type_url=packed.type_url, value=packed.value)
    assert message.Unpack(struct)
    return json_format.MessageToDict(struct)


def test_packed_properties_are_the_deterministic_serialization_and_decode_as_merlin_cores():
    schema_any.undo()
    try:
        theirs = schema_bp.Any().from_dict(dict(PROPS))
    finally:
        assert schema_any.apply() and schema_any.apply()  # active, idempotent
    ours = schema_bp.Any().from_dict(dict(PROPS))
    expected = Struct()
    json_format.ParseDict(PROPS, expected)
    assert ours.value == expected.SerializeToString(deterministic=True)
    assert ours.type_url == theirs.type_url
    assert _unpack(ours) == _unpack(theirs) == PROPS


def test_the_same_properties_in_any_insertion_order_give_the_same_bytes():
    schema_any.apply()
    forward = schema_bp.Any().from_dict(dict(PROPS))
    backward = schema_bp.Any().from_dict(dict(reversed(list(PROPS.items()))))
    assert forward.value == backward.value


def test_a_packed_any_passes_through_unchanged():
    schema_any.apply()
    packed = schema_bp.Any().from_dict({"@type": "type.googleapis.com/google.protobuf.Struct", "value": b"\x01"})
    assert (packed.type_url, packed.value) == ("type.googleapis.com/google.protobuf.Struct", b"\x01")
