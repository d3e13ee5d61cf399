"""The cuDF path of mask_random / mask_last, against tests/fake_pylibcudf.py (cuDF needs a GPU to import).

The same rows as a pyarrow table must give the same masks, for sliced frames (offset != 0, base
children kept), null rows, null rows spanning values, string and integer keys.
"""
import numpy as np
import pyarrow as pa
import pytest

import fake_pylibcudf
from helpers import as_mask_lists, expected_masks, session_rows

from merlin_mlm_ops import MaskInputError, mask_last, mask_random

ROWS = session_rows(50, seed=9)
NAMES = [f"s{i}" for i in range(50)]
ARGS = dict(prob=0.35, seed=3, epoch=4, min_masked=1, max_masked=None, pad_id=0)


@pytest.fixture
def gdf(monkeypatch):
    cudf = fake_pylibcudf.install(monkeypatch)
    table = pa.table({"sid": np.arange(50, dtype=np.int32), "name": NAMES,
                      "item_ids": pa.array(ROWS, type=pa.list_(pa.int32()))})
    return cudf.DataFrame.from_arrow(table)


def test_masks_equal_the_masking_core_with_and_without_keys(gdf):
    out = mask_random(gdf, "item_ids", key="name", **ARGS)
    assert as_mask_lists(out["item_ids_mask"].to_pylist()) == expected_masks(ROWS, keys=NAMES, **ARGS)
    out = mask_random(gdf, "item_ids", key="sid", **ARGS)
    assert as_mask_lists(out["item_ids_mask"].to_pylist()) == expected_masks(ROWS, keys=list(range(50)), **ARGS)
    out = mask_random(gdf, "item_ids", **ARGS)
    assert as_mask_lists(out["item_ids_mask"].to_pylist()) == expected_masks(ROWS, **ARGS)
    assert as_mask_lists(mask_last(gdf, "item_ids")["item_ids_mask"].to_pylist()) == expected_masks(ROWS, kind="last")


def test_an_unsliced_column_lends_its_offsets_and_bitmask_to_the_mask(gdf):
    out = mask_last(gdf, "item_ids")
    source, mask = gdf["item_ids"].to_pylibcudf()[0], out["item_ids_mask"].to_pylibcudf()[0]
    assert mask.child(0) is source.child(0) and mask.null_mask() is source.null_mask()
    assert list(out.columns) == ["sid", "name", "item_ids", "item_ids_mask"] and out.index is gdf.index


@pytest.mark.parametrize("start, stop", [(0, 20), (13, 50), (5, 6), (7, 7)])
def test_sliced_frames_give_the_masks_of_their_own_rows(gdf, start, stop):
    part = gdf.slice(start, stop)
    assert part["item_ids"].to_pylibcudf()[0].offset() == start  # base buffers, as cuDF slices
    rows, names = ROWS[start:stop], NAMES[start:stop]
    out = mask_random(part, "item_ids", key="name", **ARGS)
    assert as_mask_lists(out["item_ids_mask"].to_pylist()) == expected_masks(rows, keys=names or None, **ARGS)
    assert as_mask_lists(mask_random(part, "item_ids", **ARGS)["item_ids_mask"].to_pylist()) == expected_masks(rows, **ARGS)


def test_null_rows_spanning_values_are_masked_as_empty(monkeypatch):
    cudf = fake_pylibcudf.install(monkeypatch)
    arr = pa.ListArray.from_arrays(pa.array([0, 2, 5, 6], type=pa.int32()), pa.array([1, 2, 3, None, 4, 5]),
                                   mask=pa.array([False, True, False]))
    out = mask_random(cudf.DataFrame.from_arrow(pa.table({"item_ids": arr})), "item_ids", **ARGS)
    assert as_mask_lists(out["item_ids_mask"].to_pylist()) == expected_masks([[1, 2], None, [5]], **ARGS)


def test_bad_input_names_the_column_and_row(monkeypatch):
    cudf = fake_pylibcudf.install(monkeypatch)
    frame = cudf.DataFrame.from_arrow(pa.table({"x": pa.array([[1], [2, None]], type=pa.list_(pa.int64())),
                                                "y": [[1], [2]], "k": [1, None], "f": [[1.5], [2.5]], "n": [3, 4]}))
    with pytest.raises(MaskInputError, match=r"column 'x', row 1: null item id at position 1"):
        mask_last(frame, "x")
    with pytest.raises(MaskInputError, match=r"column 'k', row 1: key is null"):
        mask_random(frame, "y", key="k", seed=1)
    with pytest.raises(MaskInputError, match=r"holds float64 values"):
        mask_last(frame, "f")
    with pytest.raises(MaskInputError, match=r"column 'n': is not a list column"):
        mask_last(frame, "n")
