"""The job fits its workflow's schema on a few rows of the first partition (without Categorify)."""
import glob
import os

import pandas as pd
from merlin.dag import ColumnSelector

from merlin_mlm_ops import MaskRandom
from merlin_mlm_ops.job.cli import main
from merlin_mlm_ops.job.run import SCHEMA_SAMPLE_ROWS, schema_sample

from helpers import mask_lists


def test_schema_sample_is_a_few_rows_led_by_the_first_non_empty_list():
    df = pd.DataFrame({"item_ids": [[], None, [], [4, 5]] + [[i] for i in range(200)]})
    got = schema_sample(df, "item_ids")
    assert len(got) == SCHEMA_SAMPLE_ROWS
    assert got.index.tolist()[:4] == [3, 0, 1, 2] and got["item_ids"].iloc[0] == [4, 5]
    assert schema_sample(df.head(2), "item_ids").index.tolist() == [0, 1]  # no non-empty row: as is


def test_schema_sample_of_a_malformed_column_is_the_whole_partition_so_that_the_fit_names_the_row():
    df = pd.DataFrame({"item_ids": [[1], "oops"] * 50})
    assert schema_sample(df, "item_ids") is df


def test_a_first_row_with_an_empty_list_masks_like_the_operator(cluster, tmp_path):
    # NVTabular infers a list column's dtype from the first row: an empty one made the job fail.
    rows = [[], [1, 2, 3], None, [4, 5]] + [[i, i + 1, i + 2] for i in range(6, 60)]
    df = pd.DataFrame({"session_id": range(len(rows)), "item_ids": rows})
    df.to_parquet(tmp_path / "in.parquet", index=False)
    out = str(tmp_path / "masked")
    assert main(["mask", str(tmp_path / "in.parquet"), "-o", out, "-c", "item_ids", "--seed", "3",
                 "--key", "session_id", "--scheduler", cluster[0].scheduler_address, "--no-progress"]) == 0
    got = pd.concat(pd.read_parquet(f) for f in sorted(glob.glob(os.path.join(out, "epoch_0000", "*.parquet"))))
    want = MaskRandom(prob=0.2, seed=3, key="session_id").transform(ColumnSelector(["item_ids"]), df)
    assert got["session_id"].tolist() == df["session_id"].tolist()
    assert got["item_ids"].isna().tolist() == df["item_ids"].isna().tolist()
    assert mask_lists(got["item_ids_mask"]) == mask_lists(want["item_ids_mask"])


def test_url_inputs_are_read_with_the_storage_options_on_the_client_and_on_the_workers(monkeypatch):
    # A local output with s3:// inputs: the sample for the fit and every task read with --storage-options.
    from merlin_mlm_ops.job import run
    from merlin_mlm_ops.job.inputs import CheckedInputs, Partition

    options = {"client_kwargs": {"endpoint_url": "http://127.0.0.1:1"}}
    job = run.MaskJob(inputs=["s3://b/raw"], output="out", columns=["item_ids"], storage_options=options)
    part = Partition("s3://b/raw/a.parquet", (0,), 0, 3)
    seen = {}
    sample = pd.DataFrame({"item_ids": [[1, 2], [3]]})
    monkeypatch.setattr(run, "read_partition", lambda p, cols, gpu, so=None: seen.setdefault("fit", so) and sample)
    monkeypatch.setattr(run, "_fit", lambda workflow, **kw: None)

    class Client:
        def scatter(self, items, **kw):
            return items

        def map(self, fn, *iterables, **kw):
            seen["tasks"] = kw["storage_options"]
            return []

    ctx = run.RunContext(job=job, checked=CheckedInputs(["s3://b/raw/a.parquet"], [part], []), client=Client())
    monkeypatch.setattr("merlin_mlm_ops.compat.dask.register", lambda client: None)
    monkeypatch.setattr(run, "_gather_with_progress", lambda futures, *args: [])
    run._fit_workflow(None, job, ctx.checked, ctx.client, ["item_ids"])
    run.mask_remaining(ctx, kept={}, workflow=None, mask_op=None, read_columns=["item_ids"], root="tmp")
    assert seen == {"fit": options, "tasks": options}
