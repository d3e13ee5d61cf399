"""The BERT4Rec example runs end to end at a tiny size (its full size is a docs/training.md command)."""
import os
import subprocess
import sys

from helpers import ROOT


def test_bert4rec_example_runs_and_prints_the_table(tmp_path):
    run = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "bert4rec.py"), "--sessions", "300",
                          "--epochs", "2", "--seeds", "2", "--dim", "16", "--layers", "1", "--workdir", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    for line in ("| most popular |", "| BERT4Rec, ETL masks (MaskRandom) |", "| BERT4Rec, in-graph SequenceMaskRandom |",
                 "run-to-run spread"):
        assert line in run.stdout
