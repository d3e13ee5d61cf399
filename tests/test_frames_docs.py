"""docs/frames.md: every python block runs as it stands and prints the text block under it.

A block whose library is missing here is skipped; the cuDF block runs against tests/fake_pylibcudf.py.
"""
import contextlib
import importlib.util
import io
import re
from pathlib import Path

import pytest

import fake_pylibcudf

DOC = Path(__file__).resolve().parents[1] / "docs" / "frames.md"
PAIRS = re.findall(r"```python\n(.*?)```\n```text\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def _library(code):
    return re.search(r"^import (\w+)", code, re.M).group(1)


def test_the_doc_has_one_example_per_frame_kind_then_the_options_and_windows():
    libraries = [_library(code) for code, _ in PAIRS]
    assert libraries[:6] == ["pandas", "pandas", "pyarrow", "polars", "dask", "cudf"]
    assert libraries[6:] == ["pyarrow", "pandas"]  # the BERT4Rec options, sliding_windows


@pytest.mark.parametrize("code, output", PAIRS, ids=[f"{k}-{_library(c)}" for k, (c, _) in enumerate(PAIRS)])
def test_each_example_prints_what_the_doc_shows(code, output, monkeypatch):
    library = _library(code)
    if library == "cudf":
        fake_pylibcudf.install(monkeypatch)
    elif importlib.util.find_spec(library) is None:
        pytest.skip(f"{library} is not installed here")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, f"docs/frames.md ({library} block)", "exec"), {})
    assert printed.getvalue() == output
