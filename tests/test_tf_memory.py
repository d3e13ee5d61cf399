"""Flat memory over many epochs (issue 16), at CI size: benchmarks/train_memory.py's training
loop on tiny data, RSS after epoch 3 against after epoch 15, both protocols."""
import importlib.util
import os
import types

import pytest

from helpers import ROOT


def load_benchmark():
    spec = importlib.util.spec_from_file_location("train_memory", os.path.join(ROOT, "benchmarks", "train_memory.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("protocol", ["one fit", "fit per epoch"])
def test_rss_does_not_grow_with_epochs_fresh_masks_and_validation(protocol):
    bench = load_benchmark()
    args = types.SimpleNamespace(epochs=15, every=3, sessions=128, items=30, dim=8, batch_size=64)
    rss = {}
    train_traces, val_traces, metrics = bench.train(protocol, args, lambda epoch, mb: rss.__setitem__(epoch, mb))
    assert sorted(rss) == list(range(1, 16))
    # one retrace of this model costs ~50-90 MB here; allocator noise is a few MB
    assert rss[15] - rss[3] < 25, rss
    assert train_traces <= 2 and val_traces <= 2, (train_traces, val_traces)
    assert set(metrics) >= {"recall_at_10", "ndcg_at_10"} or set(metrics) >= {"val_recall_at_10", "val_ndcg_at_10"}
