"""examples/torch_t4r_masks.py runs end to end on a tiny self-written ratings file and writes its block."""
import importlib.util
import os

from torch_support import require

require("torch", "transformers4rec.torch")

from helpers import ROOT, tiny_ratings  # noqa: E402


def test_both_variants_train_over_two_seeds_and_the_table_is_written(tmp_path):
    spec = importlib.util.spec_from_file_location("torch_t4r_masks", os.path.join(ROOT, "examples", "torch_t4r_masks.py"))
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    tiny_ratings(tmp_path / "r.inter")
    (tmp_path / "README.md").write_text("# x\n\n<!-- t4r-table:begin -->\n<!-- t4r-table:end -->\n")
    results = example.main(["--inter", str(tmp_path / "r.inter"), "--cache", str(tmp_path / "cache"), "--max-len", "8",
                            "--dim", "16", "--layers", "1", "--batch-size", "16", "--negatives", "10", "--min-count", "1",
                            "--epochs", "2", "--seeds", "0,1", "--write", "--docs", str(tmp_path / "torch.md"),
                            "--readme", str(tmp_path / "README.md")])
    assert list(results) == ["most popular", *example.VARIANTS.values()]
    for name in example.VARIANTS.values():
        assert len(results[name]) == 2
        assert all(0.0 <= m <= 1.0 for run in results[name] for pair in run.values() for m in pair)
    doc = (tmp_path / "torch.md").read_text()
    assert "## Transformers4Rec: ETL masks against in-model masking" in doc
    assert "| T4R BERT4Rec, ETL masks (MaskRandom) | " in doc and " ± " in doc and "over 2 seeds (0, 1)" in doc
    assert "| T4R BERT4Rec, ETL masks (MaskRandom) | " in (tmp_path / "README.md").read_text()
