"""cuDF partitions (the fake_cudf double) get the same last-item rows and 80/10/10 input ids as pandas."""
import numpy as np
import pandas as pd
import pytest
from merlin.dag import ColumnSelector

import fake_cudf
from merlin_mlm_ops import MaskRandom

ROWS = [[3, 1, 4], None, [], [1, 5, 9, 2, 6], [5], None, [3, 5], [8, 9, 7, 9, 3, 2], [], [3, 8, 4, 6]]


@pytest.fixture(autouse=True)
def cudf(monkeypatch):
    return fake_cudf.install(monkeypatch)


@pytest.mark.parametrize("start,stop", [(0, 10), (1, 10), (3, 7), (2, 2)])
@pytest.mark.parametrize("ids", [np.int32, np.int64])
def test_bert_options_on_cudf_slices_equal_pandas(start, stop, ids):
    index = pd.RangeIndex(50, 60)
    keys = list(range(1000, 1010))
    gdf = fake_cudf.DataFrame({"item_ids": fake_cudf.list_series(ROWS, dtype=ids, index=index).iloc[start:stop],
                               "session_id": fake_cudf.scalar_series(keys, index=index).iloc[start:stop]})
    rows = pd.Series([None if r is None else np.array(r, dtype=ids) for r in ROWS], index=index, dtype=object)
    pdf = pd.DataFrame({"item_ids": rows, "session_id": keys}, index=index).iloc[start:stop]
    op = MaskRandom(prob=0.5, seed=3, key="session_id", last_ratio=0.3, replace=(0.4, 0.4, 0.2), vocab=(1, 10))
    gpu = op.transform(ColumnSelector(["item_ids"]), gdf)
    cpu = op.transform(ColumnSelector(["item_ids"]), pdf)
    assert gpu["item_ids_mask"].to_pylist() == [None if m is None else [bool(x) for x in m] for m in cpu["item_ids_mask"]]
    assert gpu["item_ids_input"].to_pylist() == [None if r is None else [int(x) for x in r] for r in cpu["item_ids_input"]]
    assert gpu["item_ids_input"].dtype == fake_cudf.ListDtype(ids)
