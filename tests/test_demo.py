"""The main job (ci/demo.sh, docs/job.md) runs end to end on a small size and reports what it wrote."""
import numpy as np
import pandas as pd

from merlin_mlm_ops.job.demo import run_demo
from merlin_mlm_ops.data.synthetic import make_sessions


def test_demo_writes_masked_parquet_and_a_summary(tmp_path, capsys):
    s = run_demo(str(tmp_path / "demo"), n_sessions=2000, n_items=300, partitions=3)
    printed = capsys.readouterr().out
    assert "masked fraction" in printed and "2,000 sessions in 3 partitions" in printed
    assert "Categorify.transform" in printed and "merlin_mlm_ops.compat active" in printed and s["compat"]
    assert abs(s["etl_s"] - (s["fit_s"] + s["transform_s"] + s["save_s"])) < 1e-9
    assert s["rows"] == 2000 and s["items"] > 2000
    assert abs(s["masked_fraction"] - s["expected_masked_fraction"]) < 0.02
    out = pd.concat(pd.read_parquet(f) for f in sorted((tmp_path / "demo" / "data").glob("*.parquet")))
    assert len(out) == 2000
    assert {"session_id", "item_ids", "category", "item_ids_mask"} <= set(out.columns)


def test_synthetic_sessions_have_zipf_popularity_and_varied_lengths():
    df = make_sessions(5000, n_items=1000, mean_length=10, seed=1)
    lengths = df["item_ids"].map(len)
    assert lengths.min() >= 2 and 8 < lengths.mean() < 12 and lengths.nunique() > 10
    counts = np.sort(np.bincount(np.concatenate(df["item_ids"].to_numpy())))[::-1]
    assert counts[0] > 20 * np.median(counts[counts > 0])
    chained = make_sessions(2000, n_items=1000, transition=0.9, seed=1)
    steps = np.concatenate([np.diff(r) for r in chained["item_ids"]])
    assert np.mean(steps == 7) > 0.8  # successor in the catalogue (raw ids step by 7)
