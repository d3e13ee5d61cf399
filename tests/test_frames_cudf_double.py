"""The cuDF path of mask_random / mask_last, against tests/fake_pylibcudf.py (cuDF needs a GPU to import).

The same rows as a pyarrow table must give the same masks, for sliced frames (offset != 0, base
children kept), null rows, null rows spanning values, string and integer keys.
"""
import numpy as np
import pyarrow as pa
import pytest

import fake_pylibcudf
from helpers import as_mask_lists, expected_masks, session_rows

from merlin_mlm_ops import MaskInputError, mask_last, mask_random, sliding_windows

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


# ---- sliding_windows on cuDF: the pandas path's output, column for column ------------------------

WINDOW_ROWS = [list(range(1, 8)), [8, 9], [], None, list(range(10, 30)), [31, 32, 33, 34], list(range(40, 49))]


def _window_table(keys=None):
    n = len(WINDOW_ROWS)
    return pa.table({
        "session_id": pa.array(keys or [100 + i for i in range(n)]),
        "user": [f"u{i}" for i in range(n)],
        "item_ids": pa.array(WINDOW_ROWS, pa.list_(pa.int64())),
        # a null item in a cut column: kept, as pandas keeps it
        "weights": pa.array([None if r is None else [None if x == 5 else x / 2 for x in r] for r in WINDOW_ROWS],
                            pa.list_(pa.float64())),
        "tags": pa.array([[i % 3] * 2 for i in range(n)], pa.list_(pa.int32())),  # not listed: repeated whole
        "score": pa.array([None if i == 1 else i * 1.5 for i in range(n)]),
    })


def _pandas_windows(table, index, columns, **args):
    """The pandas path (ArrowDtype columns, the cuDF frame's index labels) as an Arrow table, and its index."""
    import pandas as pd

    frame = table.to_pandas(types_mapper=pd.ArrowDtype)
    frame.index = index
    out = sliding_windows(frame, columns, **args)
    return pa.Table.from_pandas(out, preserve_index=False), out.index


def _assert_same_windows(out, table, index, columns, **args):
    want, want_index = _pandas_windows(table, index, columns, **args)
    assert list(out.columns) == want.column_names
    for name in want.column_names:
        got = fake_pylibcudf.to_arrow(out[name].to_pylibcudf()[0])
        assert got.equals(want.column(name).combine_chunks()), name  # types, values, nulls
    for name in columns:  # the rows' offsets themselves (a column passed unchanged keeps its slice's)
        col = out[name].to_pylibcudf()[0]
        offsets = np.asarray(col.child(0).data())[col.offset():col.offset() + col.size() + 1]
        assert (offsets - offsets[0]).tolist() == want.column(name).combine_chunks().offsets.to_pylist(), name
    assert out.index.tolist() == want_index.tolist()  # each window keeps its row's label


@pytest.mark.parametrize("columns", [["item_ids"], ["item_ids", "weights"]])
@pytest.mark.parametrize("keys", [None, [f"s{i}" for i in range(7)]], ids=["int keys", "str keys"])
def test_cudf_windows_equal_the_pandas_path(monkeypatch, columns, keys):
    cudf = fake_pylibcudf.install(monkeypatch)
    table = _window_table(keys)
    gdf = cudf.DataFrame.from_arrow(table)
    args = dict(max_len=4, step=2, key="session_id")
    out = sliding_windows(gdf, columns, **args)
    assert len(out) == 3 + 1 + 1 + 1 + 9 + 1 + 4  # empty and null rows stay one window each
    _assert_same_windows(out, table, gdf.index, columns, **args)


@pytest.mark.parametrize("start, stop", [(0, 4), (1, 7), (4, 6), (3, 4), (2, 2)])
def test_sliced_cudf_frames_give_the_windows_of_their_own_rows(monkeypatch, start, stop):
    cudf = fake_pylibcudf.install(monkeypatch)
    table = _window_table()
    part = cudf.DataFrame.from_arrow(table).slice(start, stop)
    out = sliding_windows(part, ["item_ids", "weights"], max_len=3, step=1, key="session_id", window_key="wk")
    _assert_same_windows(out, table.slice(start, stop - start), part.index, ["item_ids", "weights"],
                         max_len=3, step=1, key="session_id", window_key="wk")


def test_null_rows_spanning_items_are_one_null_window_on_cudf(monkeypatch):
    cudf = fake_pylibcudf.install(monkeypatch)
    items = pa.ListArray.from_arrays(pa.array([0, 5, 9, 15, 15], type=pa.int32()), pa.array(range(15), pa.int64()),
                                     mask=pa.array([False, True, False, False]))
    table = pa.table({"session_id": [7, 8, 9, 10], "item_ids": items})
    gdf = cudf.DataFrame.from_arrow(table)
    out = sliding_windows(gdf, "item_ids", max_len=4, step=3, key="session_id")
    assert out["item_ids"].to_pylist() == [[0, 1, 2, 3], [1, 2, 3, 4], None, [9, 10, 11, 12], [11, 12, 13, 14], []]
    _assert_same_windows(out, table, gdf.index, ["item_ids"], max_len=4, step=3, key="session_id")


def test_rows_no_longer_than_max_len_pass_unchanged_on_cudf(monkeypatch):
    cudf = fake_pylibcudf.install(monkeypatch)
    table = _window_table()
    gdf = cudf.DataFrame.from_arrow(table)
    out = sliding_windows(gdf, ["item_ids", "weights"], max_len=20, key="session_id")
    for name in table.column_names:  # the same columns, not copies
        assert out[name].to_pylibcudf()[0] is gdf[name].to_pylibcudf()[0]
    assert out.index is gdf.index
    _assert_same_windows(out, table, gdf.index, ["item_ids", "weights"], max_len=20, key="session_id")


def test_bad_cudf_window_input_names_the_column(monkeypatch):
    from merlin_mlm_ops.frames import _cudf_windows

    cudf = fake_pylibcudf.install(monkeypatch)
    gdf = cudf.DataFrame.from_arrow(_window_table())
    with pytest.raises(MaskInputError, match=r"column 'tags', row 0: row lengths differ from column 'item_ids'"):
        sliding_windows(gdf, ["item_ids", "tags"], max_len=4, key="session_id")
    with pytest.raises(MaskInputError, match=r"column 'score': is not a list column"):
        sliding_windows(gdf, ["item_ids", "score"], max_len=4, key="session_id")
    with pytest.raises(MaskInputError, match=r"column 'user', row 1: key is null"):
        sliding_windows(cudf.DataFrame.from_arrow(_window_table().set_column(
            1, "user", pa.array(["a", None] + ["b"] * 5))), "item_ids", max_len=4, key="user")
    monkeypatch.setattr(_cudf_windows, "MAX_ITEMS", 10)
    with pytest.raises(MaskInputError, match=r"column 'item_ids': the windows hold 70 items, more than a cuDF"):
        sliding_windows(gdf, "item_ids", max_len=4, key="session_id")
