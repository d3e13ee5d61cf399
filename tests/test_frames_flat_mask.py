"""mask_random_flat: mask_random's frame and its mask's flat values, as the job without NVTabular counts them.

The flat values must be exactly what the job computed before from the mask column,
``np.concatenate(list(out[mask].dropna()))``: null rows give nothing, empty rows nothing.
"""
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from merlin_mlm_ops import mask_random
from merlin_mlm_ops.frames.api import mask_random_flat

ROWS = [[5, 6, 7, 8], None, [], [9, 3, 0], [4], None, [], list(range(1, 30))]


def _old_flat(out, name):
    rows = list(out[name].dropna())
    return np.concatenate(rows).astype(bool, copy=False) if rows else np.zeros(0, dtype=bool)


def _frames():
    objects = pd.DataFrame({"session": range(len(ROWS)), "item_ids": [None if r is None else np.array(r) for r in ROWS]})
    arrow = objects.assign(item_ids=pd.Series(pd.arrays.ArrowExtensionArray(pa.array(ROWS, pa.list_(pa.int64())))))
    return {"object lists": objects, "ArrowDtype lists": arrow}


@pytest.mark.parametrize("kind", ["object lists", "ArrowDtype lists"])
@pytest.mark.parametrize("options", [dict(), dict(key="session", prob=0.5), dict(pad_id=None, epoch=3),
                                     dict(key="session", last_ratio=0.5, replace=(0.6, 0.3, 0.1), vocab=(1, 40))],
                         ids=["defaults", "key", "no pad", "bert options"])
def test_the_flat_mask_is_the_old_concatenation_of_the_non_null_rows(kind, options):
    frame = _frames()[kind]
    out, flat = mask_random_flat(frame, "item_ids", seed=7, **options)
    assert flat.dtype == bool
    np.testing.assert_array_equal(flat, _old_flat(out, "item_ids_mask"))
    assert len(flat) == sum(len(r) for r in ROWS if r is not None)
    want = mask_random(frame, "item_ids", seed=7, **options)
    pd.testing.assert_frame_equal(out, want)  # the frame is mask_random's


def test_only_null_and_empty_rows_give_an_empty_bool_mask():
    frame = pd.DataFrame({"item_ids": [None, np.array([], dtype=np.int64), None]})
    out, flat = mask_random_flat(frame, "item_ids", seed=1, mask_column="m")
    assert flat.dtype == bool and flat.shape == (0,) and _old_flat(out, "m").shape == (0,)


def test_other_kinds_are_refused():
    with pytest.raises(TypeError, match="takes a pandas DataFrame, got pyarrow"):
        mask_random_flat(pa.table({"item_ids": [[1, 2]]}), "item_ids", seed=1)


def test_the_plain_job_counts_the_mask_the_old_expression_gave():
    from merlin_mlm_ops.job.plain import PlainTransform

    frame = _frames()["object lists"].assign(session=[f"s{i}" for i in range(len(ROWS))])
    mask = dict(prob=0.4, min_masked=1, max_masked=None, pad_id=0, last_ratio=0.0, replace=None, vocab=None, seed=11)
    for window in (None, (4, 2)):
        transform = PlainTransform(["item_ids"], "session", window, mask)
        epoch_frame, eligible, offsets = transform.epoch_frames(frame, ["item_ids"])
        for epoch in range(2):
            out, flat = epoch_frame(epoch)
            np.testing.assert_array_equal(flat, _old_flat(out, "item_ids_mask"))
            assert flat.shape == eligible.shape and len(offsets) == len(out) + 1
