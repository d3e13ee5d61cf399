"""merlin-mlm mask --last-ratio: last-item training copies mixed into every epoch, as MaskRandom(last_ratio=...)."""
import glob
import os

import pandas as pd
import pytest
from merlin.dag import ColumnSelector

from merlin_mlm_ops import MaskRandom
from merlin_mlm_ops.data.epochs import epoch_paths
from merlin_mlm_ops.data.parquet import write_partitioned
from merlin_mlm_ops.data.synthetic import make_sessions
from merlin_mlm_ops.job.cli import main

from helpers import mask_lists


@pytest.fixture(scope="module")
def scheduler():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as lc, \
            Client(lc):
        yield lc.scheduler_address


def test_last_ratio_option_writes_the_operators_masks_in_every_epoch(scheduler, tmp_path, capsys):
    raw = tmp_path / "raw"
    df = make_sessions(600, n_items=100, mean_length=8, seed=2)
    write_partitioned(df, str(raw), 2)
    out = str(tmp_path / "masked")
    assert main(["mask", str(raw), "-o", out, "-c", "item_ids", "--seed", "4", "--key", "session_id",
                 "--epochs", "2", "--last-ratio", "0.3", "--scheduler", scheduler, "--no-progress"]) == 0
    for epoch, path in enumerate(epoch_paths(out)):
        files = sorted(glob.glob(os.path.join(path, "*.parquet")))
        got = pd.concat([pd.read_parquet(f) for f in files]).set_index("session_id").loc[df["session_id"]]
        want = MaskRandom(prob=0.2, seed=4, key="session_id", epoch=epoch, last_ratio=0.3).transform(
            ColumnSelector(["item_ids"]), df)
        assert mask_lists(got["item_ids_mask"]) == mask_lists(want["item_ids_mask"])
    capsys.readouterr()
    assert main(["stats", out]) == 0  # the expectation printed accounts for the last-item rows
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("masked fraction"))
    observed, expected = float(line.split()[2]), float(line.split("expected ")[1].split()[0])
    assert abs(observed - expected) < 0.02, line


def test_a_bad_last_ratio_is_a_one_line_error(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_partitioned(make_sessions(50, n_items=20, seed=1), str(raw), 1)
    rc = main(["mask", str(raw), "-o", str(tmp_path / "out"), "-c", "item_ids", "--last-ratio", "2",
               "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "last_ratio must be in [0, 1]" in err[0]
