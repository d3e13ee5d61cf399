"""The serving rules, in process: long sessions keep their recent items, empty ones get the
fallback, malformed requests raise RequestError with one line naming the column and row."""
import numpy as np
import pandas as pd
import pytest

from merlin_mlm_ops.serving.client import flat_sessions
from merlin_mlm_ops.serving.ops import RequestError, ValidateSequences, error_reply
from merlin_mlm_ops.serving.sessions import assemble_scores, fit_sessions, keep_recent, popularity_scores


def random_sessions(seed, n=200, longest=40):
    rng = np.random.default_rng(seed)
    return [rng.integers(3, 1000, rng.integers(0, longest)) for _ in range(n)]


@pytest.mark.parametrize("max_items", [0, 1, 5, 39, 40])
def test_keep_recent_keeps_the_last_items_of_every_row(max_items):
    rows = random_sessions(1)
    values, offsets = keep_recent(*flat_sessions(rows), max_items)
    expected = [r[len(r) - min(len(r), max_items):] for r in rows]
    got = [values[offsets[i]:offsets[i + 1]] for i in range(len(rows))]
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def test_fit_sessions_leaves_out_empty_rows_and_cuts_to_max_len_minus_one():
    rows = [np.arange(2000), np.zeros(0, np.int64), np.arange(511), np.arange(512), np.zeros(0, np.int64), [7]]
    values, offsets, scored = fit_sessions(*flat_sessions(rows), max_len=512)
    assert scored.tolist() == [0, 2, 3, 5]
    got = [values[offsets[i]:offsets[i + 1]].tolist() for i in range(len(scored))]
    assert got == [list(range(1489, 2000)), list(range(511)), list(range(1, 512)), [7]]


def test_fit_sessions_of_only_empty_rows_scores_none():
    values, offsets, scored = fit_sessions(np.zeros(0, np.int64), np.zeros(4, np.int32))
    assert len(values) == 0 and offsets.tolist() == [0] and len(scored) == 0


def test_fit_sessions_needs_room_for_one_item_and_the_mask_slot():
    with pytest.raises(ValueError, match="max_len must be >= 2"):
        fit_sessions(np.array([1]), np.array([0, 1]), max_len=1)


def test_assemble_scores_puts_the_fallback_at_the_rows_left_out():
    scores = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    out = assemble_scores(4, np.array([0, 2]), scores, np.array([9.0, 8.0]))
    np.testing.assert_array_equal(out, [[1, 2], [9, 8], [3, 4], [9, 8]])
    np.testing.assert_array_equal(assemble_scores(2, np.zeros(0, int), None, np.array([9.0, 8.0])), [[9, 8], [9, 8]])


def test_popularity_scores_follow_the_categorify_counts(tmp_path):
    import nvtabular as nvt
    from merlin.io import Dataset

    df = pd.DataFrame({"item_ids": [[10, 10, 10, 20], [20, 30, 10], [40]]})
    wf = nvt.Workflow(["item_ids"] >> nvt.ops.Categorify(out_path=str(tmp_path)))
    encoded = wf.fit_transform(Dataset(df, cpu=True)).to_ddf().compute()["item_ids"]
    scores = popularity_scores(wf, "item_ids")
    code = {raw: enc for row, erow in zip(df["item_ids"], encoded) for raw, enc in zip(row, erow)}
    counts = {10: 4, 20: 2, 30: 1, 40: 1}
    total, n = sum(counts.values()), len(scores)
    for raw, count in counts.items():
        assert scores[code[raw]] == pytest.approx(np.log((count + 1) / (total + n)))
    assert scores[:3].max() < scores[3:].min()  # padding, null, out-of-vocabulary come last
    with pytest.raises(ValueError, match="column 'category': no fitted Categorify"):
        popularity_scores(wf, "category")


VALIDATE = ValidateSequences(min_id=0, max_id=1000)
BAD = {
    "empty offsets": ([1, 2], [], "column 'item_ids': offsets must be a 1-D array of batch size + 1 entries, got shape [0]"),
    "empty batch": ([], [0], "column 'item_ids': empty batch (offsets [0])"),
    "offsets past the values": ([1, 2], [0, 1, 3], "offsets must start at 0 and end at the number of values (2), got 0 .. 3"),
    "offsets not from 0": ([1, 2], [1, 2], "offsets must start at 0"),
    "decreasing offsets": ([1, 2, 3], [0, 2, 1, 3], "column 'item_ids', row 1: offsets decrease"),
    "negative id": ([1, 2, -5], [0, 2, 3], "column 'item_ids', row 1: id -5 is out of range [0, 1000]"),
    "id above max_id": ([1, 2000, 5], [0, 1, 3], "column 'item_ids', row 1: id 2000 is out of range [0, 1000]"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_validate_sequences_names_the_column_and_row_in_one_line(case):
    values, offsets, message = BAD[case]
    with pytest.raises(RequestError) as err:
        VALIDATE.check("item_ids", np.array(values, np.int64), np.array(offsets, np.int32))
    assert message in str(err.value) and "\n" not in str(err.value)
    assert error_reply(err.value) == (True, str(err.value))


def test_a_server_fault_is_answered_without_its_message():
    client, message = error_reply(FileNotFoundError("/srv/models/secret.bin"))
    assert not client and message == "internal server error (FileNotFoundError); the server log has the details"
