"""benchmarks/object_store.py runs end to end on a few sessions (its figures are in docs/object-storage.md)."""
import os
import subprocess
import sys

import pytest

from helpers import ROOT

pytest.importorskip("s3fs")
pytest.importorskip("moto")


def test_the_object_store_benchmark_runs_both_outputs_and_prints_the_ratios(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "object_store.py"), "--sessions", "120000",
                           "--chunk", "60000", "--part-size", "1KB", "--dir", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 worker(s): local disk" in proc.stdout and "S3/local time" in proc.stdout
    assert "requests per partition" in proc.stdout
