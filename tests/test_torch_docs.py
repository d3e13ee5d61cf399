"""The code blocks of docs/torch.md run as they are, in order, in one namespace (as a reader would paste them)."""
import os
import re

from torch_support import require

from helpers import ROOT

require("torch", "transformers4rec.torch")


def test_every_python_block_of_docs_torch_md_runs(tmp_path, monkeypatch):
    text = open(os.path.join(ROOT, "docs", "torch.md"), encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 5
    monkeypatch.chdir(tmp_path)  # the Trainer's output_dir and Categorify's categories/ land here
    namespace = {}
    for k, block in enumerate(blocks):
        exec(compile(block, f"docs/torch.md python block {k + 1}", "exec"), namespace)
    assert namespace["loaders"].epoch == 3
