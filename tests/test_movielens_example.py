"""The MovieLens BERT4Rec example runs end to end on a tiny self-written ratings file, writes its
docs block and curve, and resumes from its checkpoints (the real run is the example's job)."""
import importlib.util
import os

import numpy as np
import pytest

from helpers import ROOT, tiny_ratings


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("movielens_bert4rec",
                                                  os.path.join(ROOT, "examples", "movielens_bert4rec.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(example, tmp_path, *extra):
    return example.main(["--inter", str(tmp_path / "r.inter"), "--cache", str(tmp_path / "cache"),
                         "--max-len", "8", "--dim", "16", "--layers", "1", "--batch-size", "16",
                         "--negatives", "10", "--min-count", "1", "--docs", str(tmp_path / "movielens.md"), "--readme", "",
                         *extra])


def test_the_pipeline_writes_the_table_and_curve_and_resumes(example, tmp_path, capsys):
    tiny_ratings(tmp_path / "r.inter")
    first = run(example, tmp_path, "--epochs", "1", "--write", "--log", str(tmp_path / "run.log"))
    names = ["most popular", example.VARIANTS["etl"], example.VARIANTS["in-graph"]]
    assert list(first) == names
    for name in names[1:]:
        epochs, metrics = first[name]
        assert epochs == 1 and set(metrics) == {"filtered", "full", "sampled"}
        assert all(0.0 <= m <= 1.0 for pair in metrics.values() for m in pair)
    doc = open(tmp_path / "movielens.md").read()
    assert "| BERT4Rec, ETL masks (MaskRandom) | 1 (best 1) |" in doc
    assert "| published BERT4Rec (Petrov & Macdonald 2022) | | 0.2821 | 0.1516 |  |  | 0.6975 | 0.4751 |" in doc
    assert "ETL minus in-graph masks, test split, seen excluded (paired bootstrap over 24 users" in doc
    assert os.path.getsize(tmp_path / "movielens-curve.png") > 1000
    assert open(tmp_path / "run.log").read().count("valid NDCG@10") == 2

    # Same epochs from the checkpoints: nothing trains, the restored models score exactly the same.
    again = run(example, tmp_path, "--epochs", "1", "--resume")
    assert "resumed at epoch 1" in capsys.readouterr().out
    assert again == first

    # More epochs continue from the checkpoint rather than restart.
    more = run(example, tmp_path, "--epochs", "2", "--resume", "--variants", "etl", "--write")
    assert more[example.VARIANTS["etl"]][0] == 2
    # the doc says how far each curve got: steps (2 epochs x ceil(users / 16)) and its last movement
    doc = open(tmp_path / "movielens.md").read()
    assert "etl: 2 epochs = 4 optimizer steps, best validation NDCG@10" in doc
    assert "over its last epoch validation NDCG@10 went" in doc


def test_resuming_with_another_configuration_is_refused(example, tmp_path):
    tiny_ratings(tmp_path / "r.inter")
    state = tmp_path / "cache" / "checkpoints" / "movielens-bert4rec" / "in-graph" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"epoch": 1, "config": {"dim": 99}}')
    with pytest.raises(SystemExit, match="another configuration.*'dim': \\(99, 16\\)"):
        run(example, tmp_path, "--epochs", "1", "--variants", "in-graph", "--resume")


def test_bad_options_are_refused(example, tmp_path):
    with pytest.raises(SystemExit):
        example.parse(["--variants", "etl,bogus", "--cache", str(tmp_path)])
    with pytest.raises(SystemExit):
        example.parse(["--max-len", "1", "--cache", str(tmp_path)])


def hand_made(example):
    """Two users, movies 3..7 (0-2 are Categorify's padding/null/OOV ids); user 0 has seen 3 and 4,
    user 1 has seen 5 and (an impossible case in ML-1M, made on purpose) its own held-out movie 6."""
    args = example.parse(["--negatives", "2", "--cache", "/nonexistent"])
    data = {"n_users": 2, "cardinality": 8, "test": (None, np.array([7, 6])),
            ("seen", "test"): (np.array([0, 0, 1, 1]), np.array([3, 4, 5, 6])),
            "history": (np.array([0, 0, 0, 1, 1, 1]), np.array([3, 4, 7, 5, 6, 6])),
            "popularity": np.array([0, 0, 0, 5, 4, 3, 2, 1])}
    return args, data


def test_seen_movies_never_count_as_hits_and_the_target_is_never_removed(example):
    args, data = hand_made(example)
    #                  pad  null  oov   3    4    5    6    7
    scores = np.array([[9e9, 9e9, 9e9, 0.9, 0.8, 0.1, 0.2, 0.5],    # seen 3, 4 outscore target 7
                       [9e9, 9e9, 9e9, 0.1, 0.2, 0.9, 0.5, 0.3]])   # seen 5 outscores target 6
    r = example.ranks(scores, data, "test", args)
    assert r["full"].tolist() == [2, 1]          # every movie ranked; padding ids never
    assert r["filtered"].tolist() == [0, 0]      # seen movies gone, the target (even user 1's, seen) kept
    m = example.evaluate(scores, data, "test", args)
    assert m["filtered"] == (1.0, 1.0)
    # the sampled negatives are movies the user never rated
    negatives = data[("negatives", "test")]
    assert set(negatives[0]) <= {5, 6} and set(negatives[1]) <= {3, 4, 7}


def test_the_paired_bootstrap_interval_covers_the_difference_and_is_reproducible(example):
    a = np.array([0, 20, 3, 0, 50, 1] * 50)
    b = np.array([20, 0, 3, 5, 50, 1] * 50)
    one = example.paired_bootstrap(a, b, resamples=200, seed=3)
    assert one == example.paired_bootstrap(a, b, resamples=200, seed=3)
    for mean, lo, hi in one.values():
        assert lo <= mean <= hi
    assert one["Recall@10"][0] == 0.0  # users 0 and 1 trade a hit; the others hit (or miss) in both
    same = example.paired_bootstrap(a, a, resamples=50)
    assert all(v == (0.0, 0.0, 0.0) for v in same.values())
