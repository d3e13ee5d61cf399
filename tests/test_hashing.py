"""The counter-based hash: array and scalar forms agree, and keys have the promised invariances."""
import numpy as np
import pandas as pd
import pytest

from merlin_mlm_ops.masking import hashing
from merlin_mlm_ops.adapters import pandas_lists

from oracle import content_key


def test_array_mix_equals_scalar_mix():
    z = np.array([0, 1, 2**63, 2**64 - 1, 12345678901234567], dtype=np.uint64)
    assert [int(x) for x in hashing.mix64(z)] == [hashing.mix64_int(int(x)) for x in z]


def test_int32_and_int64_ids_hash_alike():
    ids = np.array([-5, 0, 7, 2**31 - 1])
    assert np.array_equal(hashing.as_uint64(ids.astype(np.int32)), hashing.as_uint64(ids.astype(np.int64)))


def test_stream_keys_of_neighbouring_seeds_and_epochs_differ():
    keys = {hashing.stream_key(s, e) for s in range(20) for e in range(20)}
    assert len(keys) == 400
    assert hashing.stream_key(1, 0) != hashing.stream_key(0, 1)


def test_content_keys_match_the_plain_python_formula():
    rows = [[3, 4, 5], [], [9], [3, 4, 5]]
    values = np.array([v for r in rows for v in r], dtype=np.int64).view(np.uint64)
    offsets = np.array([0, 3, 3, 4, 7], dtype=np.int64)
    keys = hashing.content_row_keys(values, offsets)
    assert [int(k) for k in keys] == [content_key(r, i) for i, r in enumerate(rows)]
    assert keys[0] != keys[3]  # the same sequence twice in a partition still gets two keys


def test_string_keys_depend_on_every_byte_and_on_length():
    names = ["a", "b", "ab", "ba", "", "é", "session-0001", "session-0002", "a\x00"]
    kind, data, offsets = pandas_lists.row_keys(pd.Series(names), "k", "Op")
    assert kind == "str"
    keys = hashing.string_row_keys(data, offsets)
    assert len({int(k) for k in keys}) == len(names)


def test_string_keys_do_not_depend_on_neighbouring_rows():
    _, data, offsets = pandas_lists.row_keys(pd.Series(["x", "yy", "zzz"]), "k", "Op")
    _, data2, offsets2 = pandas_lists.row_keys(pd.Series(["zzz", "q"]), "k", "Op")
    assert hashing.string_row_keys(data, offsets)[2] == hashing.string_row_keys(data2, offsets2)[0]


@pytest.mark.parametrize("n_rows", [0, 1, 5])
def test_segment_sums_wrap_modulo_2_64(n_rows):
    terms = np.full(n_rows * 3, 2**63 + 1, dtype=np.uint64)
    offsets = np.arange(0, n_rows * 3 + 1, 3, dtype=np.int64)
    sums = hashing.segment_sum_u64(terms, offsets)
    assert all(int(s) == (3 * (2**63 + 1)) % 2**64 for s in sums)
