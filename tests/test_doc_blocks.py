"""doc_blocks rewrites exactly the text between one block's markers, and every --write script uses it."""
import re

import pytest

from merlin_mlm_ops.doc_blocks import read_block, replace_block, replace_text_block

from helpers import ROOT


def test_replacing_a_block_that_is_one_newline_changes_nothing_else():
    # The serve_load defect: the old block was "\n", and str.replace rewrote every newline of the doc.
    text = "# T\n\nline one\nline two\n<!-- b:begin -->\n<!-- b:end -->\nline three\n"
    new = replace_text_block(text, "b", "| x |")
    assert new == "# T\n\nline one\nline two\n<!-- b:begin -->\n| x |\n<!-- b:end -->\nline three\n"


def test_replacing_twice_is_idempotent_and_reads_back():
    text = "a\n<!-- b:begin -->\nold\nold\n<!-- b:end -->\nz\n"
    once = replace_text_block(text, "b", "\nnew 1\nnew 2\n")
    assert replace_text_block(once, "b", "new 1\nnew 2") == once
    assert read_block(once, "b") == "new 1\nnew 2"
    assert once.startswith("a\n") and once.endswith("\nz\n")


def test_an_empty_body_leaves_the_markers_on_their_own_lines():
    assert replace_text_block("<!-- b:begin -->\nx\n<!-- b:end -->", "b", "") == "<!-- b:begin -->\n<!-- b:end -->"


@pytest.mark.parametrize("text, message", [
    ("no markers here\n", "found 0 and 0"),
    ("<!-- b:begin -->\n<!-- b:end -->\n<!-- b:begin -->\n<!-- b:end -->\n", "found 2 and 2"),
    ("<!-- b:end -->\n<!-- b:begin -->\n", "comes before"),
    ("<!-- b:begin -->\n", "found 1 and 0"),
])
def test_missing_repeated_or_swapped_markers_raise(text, message):
    with pytest.raises(ValueError, match=message):
        replace_text_block(text, "b", "body")


def test_other_blocks_with_a_common_prefix_are_untouched():
    text = "<!-- b:begin -->\n1\n<!-- b:end -->\n<!-- bb:begin -->\n2\n<!-- bb:end -->\n"
    assert replace_text_block(text, "bb", "3") == "<!-- b:begin -->\n1\n<!-- b:end -->\n<!-- bb:begin -->\n3\n<!-- bb:end -->\n"


def test_replace_block_appends_a_section_only_when_asked(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("# Doc\n\ntext\n")
    with pytest.raises(ValueError):
        replace_block(doc, "t", "x")
    assert doc.read_text() == "# Doc\n\ntext\n"
    replace_block(doc, "t", "x", section="## Table")
    replace_block(doc, "t", "y", section="## Table")
    assert doc.read_text() == "# Doc\n\ntext\n\n## Table\n\n<!-- t:begin -->\ny\n<!-- t:end -->\n"
    assert [p.name for p in tmp_path.iterdir()] == ["doc.md"]


def test_every_doc_has_each_block_once_and_no_repeated_table():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text()
        for name in set(re.findall(r"<!-- ([\w.-]+):begin -->", text)):
            read_block(text, name)  # raises unless exactly one begin and one end, in order
        headers = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
        tables = re.findall(r"((?:^\|.*\n)+)", text, flags=re.M)
        assert len(tables) == len(set(tables)), f"{doc.name} repeats a table"
        assert headers is not None


def test_every_write_script_rewrites_docs_through_doc_blocks():
    scripts = [p for d in ("benchmarks", "examples") for p in sorted((ROOT / d).glob("*.py"))
               if "--write" in p.read_text()]
    assert scripts
    for script in scripts:
        source = script.read_text()
        assert "replace_block" in source, f"{script.name} writes docs without doc_blocks.replace_block"
        assert not re.search(r"re\.sub\(re\.escape\(BEGIN|text\.replace\(block", source), script.name


def test_generated_blocks_live_in_docs_and_every_write_script_finds_its_block_there():
    assert not re.findall(r"<!-- ([\w.-]+):begin -->", (ROOT / "README.md").read_text())
    docs = "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    names = set()
    for script in [p for d in ("benchmarks", "examples") for p in (ROOT / d).glob("*.py")]:
        names |= set(re.findall(r'replace_block\(\s*[\w.]+,\s*"([\w.-]+)"', script.read_text()))
        names |= set(re.findall(r'^BLOCK = "([\w.-]+)"', script.read_text(), flags=re.M))
    assert names
    for name in names:
        read_block(docs, name)  # exactly one begin and one end marker across docs/


def test_relative_links_of_the_readme_and_docs_point_at_files():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to a missing {target}"
