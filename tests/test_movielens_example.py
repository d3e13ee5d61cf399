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


def foreign_in_graph_checkpoint(tmp_path):
    """The small ratings file and an in-graph checkpoint made with another configuration (dim 99)."""
    tiny_ratings(tmp_path / "r.inter")
    state = tmp_path / "cache" / "checkpoints" / "movielens-bert4rec" / "in-graph" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text('{"epoch": 1, "config": {"dim": 99}}')


def test_resuming_with_another_configuration_is_refused(example, tmp_path):
    foreign_in_graph_checkpoint(tmp_path)
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


def study_data(example, tmp_path):
    tiny_ratings(tmp_path / "r.inter")
    args = example.parse(["--inter", str(tmp_path / "r.inter"), "--cache", str(tmp_path / "cache"),
                          "--max-len", "8", "--min-count", "1", "--study"])
    return args, example.prepare(args)


def cells(frame, column):
    return [list(map(int, row)) for row in frame[column]]


def test_each_study_variant_changes_only_its_own_rule(example, tmp_path):
    args, data = study_data(example, tmp_path)
    assert args.variants.split(",") == list(example.STUDY)
    assert args.checkpoint_dir.endswith(os.path.join("checkpoints", "movielens-study"))
    base = example.training_set(data, args, 3, "etl").to_ddf().compute()
    ids, mask = cells(base, "item_ids"), cells(base, "item_ids_mask")

    # windows: rows of at most --max-len training movies are the baseline's rows with its masks;
    # longer histories become windows of exactly --max-len ending at the last training movie
    win = example.training_set(data, args, 3, "etl-windows").to_ddf().compute()
    frame, _ = example.training_rows(data, args, "etl-windows")
    assert len(frame) > len(base) and all(len(r) <= 8 for r in frame["item_ids"])
    by_row = {tuple(r): m for r, m in zip(cells(win, "item_ids"), cells(win, "item_ids_mask"))}
    short = [i for i, r in enumerate(ids) if len(r) < 8]
    assert short and all(by_row[tuple(ids[i])] == mask[i] for i in short)
    users, values, offsets = data["ratings"]
    for u in range(len(users)):
        history = values[offsets[u]:offsets[u + 1] - 2].tolist()
        mine = frame.loc[frame["user_id"] == users[u], "item_ids"].map(list).tolist()
        assert mine[-1] == history[-8:] and sorted(set(sum(mine, []))) == sorted(set(history))

    # last-item copies: a row keeps the baseline's mask or masks its last movie only
    last = cells(example.training_set(data, args, 3, "etl-last").to_ddf().compute(), "item_ids_mask")
    only_last = [m == [0] * (len(m) - 1) + [1] for m in last]
    assert any(only_last) and all(o or m == b for o, m, b in zip(only_last, last, mask))

    # 80/10/10: the same masks; the input ids are [MASK] (0), a movie id (>= 3) or the movie itself
    rep = example.training_set(data, args, 3, "etl-replace").to_ddf().compute()
    assert cells(rep, "item_ids_mask") == mask and cells(rep, "item_ids") == ids
    seen = cells(rep, "item_ids_input")
    for r, m, s in zip(ids, mask, seen):
        assert all(x == y for x, y, k in zip(r, s, m) if not k)
        assert all(y == 0 or 3 <= y < data["cardinality"] for y, k in zip(s, m) if k)
    kinds = [0 if y == 0 else 1 if y != x else 2 for rr, ss, mm in zip(ids, seen, mask)
             for x, y, k in zip(rr, ss, mm) if k]
    assert kinds.count(0) > kinds.count(1) and kinds.count(0) > kinds.count(2)


def test_the_reseeded_baseline_moves_every_seed_and_nothing_else(example, tmp_path):
    args, data = study_data(example, tmp_path)
    base, again = example.Variant("etl", data, args), example.Variant("etl-reseed", data, args)
    moved = {k: (v, again.config()[k]) for k, v in base.config().items() if again.config()[k] != v}
    assert moved == {"seed": (args.seed, args.seed + 1), "mask_seed": (args.mask_seed, args.mask_seed + 1)}
    assert again.eval_args is args  # scored on the same validation and test negatives as the others
    one = example.training_set(data, base.args, 3, "etl").to_ddf().compute().sort_values("user_id")
    two = example.training_set(data, again.args, 3, "etl-reseed").to_ddf().compute().sort_values("user_id")
    assert cells(one, "item_ids") == cells(two, "item_ids")
    assert cells(one, "item_ids_mask") != cells(two, "item_ids_mask")


def test_the_study_trains_every_variant_and_writes_its_own_block(example, tmp_path):
    tiny_ratings(tmp_path / "r.inter")
    (tmp_path / "movielens.md").write_text("# doc\n\n## Results\n\n<!-- movielens-table:begin -->\nkept\n"
                                           "<!-- movielens-table:end -->\n")
    results = run(example, tmp_path, "--study", "--epochs", "1", "--write", "--bootstrap", "50")
    assert list(results) == ["most popular"] + [example.VARIANTS[k] for k in example.STUDY]
    doc = open(tmp_path / "movielens.md").read()
    assert "kept" in doc and example.STUDY_SECTION in doc
    for key in example.STUDY[1:]:
        assert f"{key} minus etl, test split, seen excluded (paired bootstrap over 24 users" in doc
    assert "At the baseline's 2 optimizer steps (3 per epoch against 2) etl-windows was at epoch 1" in doc
    assert os.path.getsize(tmp_path / "movielens-study-curve.png") > 1000
    for key in example.STUDY:
        assert (tmp_path / "cache" / "checkpoints" / "movielens-study" / key / "state.json").exists()


def test_jobs_train_each_variant_in_a_process_of_its_own_and_score_them_here(example, tmp_path, capsys):
    tiny_ratings(tmp_path / "r.inter")
    results = run(example, tmp_path, "--epochs", "1", "--jobs", "2", "--write", "--bootstrap", "50",
                  "--log", str(tmp_path / "run.log"))
    assert [epochs for epochs, _ in results.values()] == [0, 1, 1]
    log = open(tmp_path / "run.log").read()
    assert log.count("etl epoch 1 ") == 1 and log.count("in-graph epoch 1 ") == 1
    for key in ("etl", "in-graph"):  # each worker had its own ETL folder
        assert (tmp_path / "cache" / "movielens-etl" / key / "etl").is_dir()
    assert "resumed at epoch 1" in capsys.readouterr().out  # this process scored the workers' checkpoints
    assert "ETL minus in-graph masks" in open(tmp_path / "movielens.md").read()


def test_a_failing_jobs_worker_fails_the_run_naming_its_variant(example, tmp_path):
    foreign_in_graph_checkpoint(tmp_path)
    with pytest.raises(SystemExit, match="training variant in-graph failed"):
        run(example, tmp_path, "--epochs", "1", "--jobs", "2", "--resume")
