"""The README stays short, and its NVTabular example runs as written."""
import re

from helpers import ROOT

README = (ROOT / "README.md").read_text()


def test_the_readme_is_short_and_links_the_docs_index():
    assert len(README.splitlines()) <= 150
    assert "(docs/README.md)" in README


def test_the_workflow_example_runs_and_outputs_the_mask_next_to_the_unchanged_columns(sessions_df):
    from merlin.io import Dataset

    block = re.findall(r"```python\n(.*?)```", README, flags=re.S)[0]
    namespace = {}
    exec(block, namespace)  # noqa: S102 - the README's own example
    out = namespace["wf"].fit_transform(Dataset(sessions_df, cpu=True)).to_ddf().compute()
    assert sorted(out.columns) == ["category", "item_ids", "item_ids_mask", "session_id"]
    assert [len(m) for m in out["item_ids_mask"]] == [len(i) for i in out["item_ids"]]
    assert "mlm_mask" in namespace["wf"].output_schema["item_ids_mask"].tags
