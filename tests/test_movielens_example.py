"""The MovieLens BERT4Rec example runs end to end on a tiny self-written ratings file, writes its
docs block and curve, and resumes from its checkpoints (the real run is the example's job)."""
import importlib.util
import os

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
        assert epochs == 1 and set(metrics) == {"full", "sampled"}
        assert all(0.0 <= m <= 1.0 for pair in metrics.values() for m in pair)
    doc = open(tmp_path / "movielens.md").read()
    assert "| BERT4Rec, ETL masks (MaskRandom) | 1 |" in doc and "| 0.2821 | 0.1516 | 0.6975 | 0.4751 |" in doc
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
