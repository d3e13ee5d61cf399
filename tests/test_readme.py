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


def test_the_without_merlin_example_gives_the_operators_masks():
    import pandas as pd
    from merlin.dag import ColumnSelector

    from merlin_mlm_ops import MaskLast, MaskRandom

    block = [b for b in re.findall(r"```python\n(.*?)```", README, flags=re.S) if "mask_random(" in b][0]
    namespace = {}
    exec(block, namespace)  # noqa: S102 - the README's own example
    df = namespace["df"]
    want = MaskRandom(prob=0.2, seed=7, key="session_id", epoch=0).transform(ColumnSelector(["item_ids"]), df)
    assert isinstance(namespace["train"], pd.DataFrame)
    assert [list(m) for m in namespace["train"]["item_ids_mask"]] == [list(m) for m in want["item_ids_mask"]]
    last = MaskLast().transform(ColumnSelector(["item_ids"]), df)
    assert [list(m) for m in namespace["test"]["item_ids_mask"]] == [list(m) for m in last["item_ids_mask"]]
    assert list(namespace["train"].columns) == ["session_id", "item_ids", "item_ids_mask"]
