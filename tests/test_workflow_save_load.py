"""A saved workflow reloaded in a new process reproduces its masks exactly (seed=None included)."""
import subprocess
import sys
import textwrap

import nvtabular as nvt
from merlin.io import Dataset

from merlin_mlm_ops import MaskLast, MaskRandom

from helpers import mask_lists

RELOAD = textwrap.dedent("""
    import json, sys, warnings
    warnings.filterwarnings("ignore")
    import nvtabular as nvt, pandas as pd
    from merlin.io import Dataset
    wf = nvt.Workflow.load(sys.argv[1])
    df = pd.read_parquet(sys.argv[2])
    out = wf.transform(Dataset(df, cpu=True)).to_ddf().compute()
    print(json.dumps({c: [None if m is None else [bool(x) for x in m] for m in out[c]]
                      for c in ("item_ids_mask", "last")}))
""")


def test_save_then_load_in_a_new_process_gives_identical_masks(sessions_df, tmp_path):
    masked = ["item_ids"] >> MaskRandom(prob=0.3, key="session_id")  # seed drawn at construction
    last = ["category"] >> MaskLast(mask_column="last")
    wf = nvt.Workflow(masked + last)
    ds = Dataset(sessions_df, cpu=True)
    wf.fit(ds)
    here = wf.transform(ds).to_ddf().compute()
    wf.save(str(tmp_path / "wf"))
    sessions_df.to_parquet(tmp_path / "in.parquet")
    import json

    run = subprocess.run([sys.executable, "-c", RELOAD, str(tmp_path / "wf"), str(tmp_path / "in.parquet")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    there = json.loads(run.stdout.strip().splitlines()[-1])
    assert there["item_ids_mask"] == mask_lists(here["item_ids_mask"])
    assert there["last"] == mask_lists(here["last"])


def test_last_item_rows_and_80_10_10_survive_save_and_load_in_a_new_process(sessions_df, tmp_path):
    """The drawn seed, the options and the vocabulary read from the schema all travel with the workflow."""
    import json

    import numpy as np

    cat = ["item_ids"] >> nvt.ops.Categorify()
    op = MaskRandom(prob=0.3, key="session_id", last_ratio=0.2, replace=(0.7, 0.2, 0.1), mask_column="last")
    wf = nvt.Workflow(cat >> op)
    ds = Dataset(sessions_df, cpu=True)
    wf.fit(ds)
    here = wf.transform(ds).to_ddf().compute()
    wf.save(str(tmp_path / "wf"))
    sessions_df.to_parquet(tmp_path / "in.parquet")
    script = RELOAD.replace('("item_ids_mask", "last")', '("item_ids_input", "last")').replace(
        "[bool(x) for x in m]", "[x.item() for x in m]")
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path / "wf"), str(tmp_path / "in.parquet")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    there = json.loads(run.stdout.strip().splitlines()[-1])
    assert there["last"] == mask_lists(here["last"])
    assert there["item_ids_input"] == [[int(x) for x in r] for r in here["item_ids_input"]]
    mask = np.concatenate(here["last"].to_list())
    assert (np.concatenate(here["item_ids_input"].to_list())[mask] == 0).mean() > 0.6  # [MASK] at ~70%+
