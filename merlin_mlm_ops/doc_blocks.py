"""Rewrite one generated block of a Markdown file, between its markers, and nothing else.

Every script that puts measured figures into the docs (``benchmarks/*.py --write``,
``examples/*.py --write``) goes through :func:`replace_block`. A block is delimited by two HTML
comments that Markdown does not render::

    <!-- cpu-benchmark:begin -->
    ...generated text...
    <!-- cpu-benchmark:end -->

Only the text strictly between the two markers changes. The markers must each occur exactly once
and in order; anything else raises ``ValueError`` rather than guessing (a ``str.replace`` of the
old block once rewrote every newline of a doc whose block was a single newline).

>>> text = "# Title\\n\\n<!-- t:begin -->\\n<!-- t:end -->\\n\\nafter\\n"
>>> print(replace_text_block(text, "t", "| a |\\n|---|"))
# Title
<BLANKLINE>
<!-- t:begin -->
| a |
|---|
<!-- t:end -->
<BLANKLINE>
after
<BLANKLINE>
"""
import os

from merlin_mlm_ops.data.files import write_atomic

__all__ = ["markers", "replace_text_block", "read_block", "replace_block"]


def markers(name):
    """The ``(begin, end)`` marker lines of block ``name``."""
    if not name or any(c in name for c in "<>\n") or "--" in name:
        raise ValueError(f"invalid block name {name!r}")
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def _span(text, name):
    begin, end = markers(name)
    n_begin, n_end = text.count(begin), text.count(end)
    if n_begin != 1 or n_end != 1:
        raise ValueError(f"block {name!r}: expected one {begin} and one {end}, found {n_begin} and {n_end}")
    start = text.index(begin) + len(begin)
    stop = text.index(end)
    if stop < start:
        raise ValueError(f"block {name!r}: {end} comes before {begin}")
    return start, stop


def read_block(text, name):
    """The text between the markers of block ``name`` (without the newlines next to them)."""
    start, stop = _span(text, name)
    return text[start:stop].strip("\n")


def replace_text_block(text, name, body):
    """``text`` with the content of block ``name`` replaced by ``body`` (one line per marker)."""
    start, stop = _span(text, name)
    body = body.strip("\n")
    return text[:start] + "\n" + (body + "\n" if body else "") + text[stop:]


def replace_block(path, name, body, *, section=None):
    """Rewrite block ``name`` of the file at ``path`` with ``body``; returns the new text.

    ``section``: a Markdown heading (e.g. ``"## Scale"``). When given and the file lacks the block,
    the heading and an empty block are appended first (a missing file is created); when ``None``
    (the default) a missing block is an error. The file is replaced atomically.
    """
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    begin, end = markers(name)
    if section is not None and begin not in text and end not in text:
        text = (text.rstrip("\n") + "\n\n" if text else "") + f"{section}\n\n{begin}\n{end}\n"
    new = replace_text_block(text, name, body)
    write_atomic(path, new.encode("utf-8"))
    return new
