"""Merlin's names for a list column taken apart into two flat arrays, spelled once.

merlin-dataloader, merlin-models, merlin-systems and Triton requests carry a list column ``col``
as ``col__values`` (the items of every row, end to end) and ``col__offsets`` (where each row
starts, then the end)::

    >>> values_name("item_ids"), offsets_name("item_ids")
    ('item_ids__values', 'item_ids__offsets')
    >>> is_part_name("item_ids__offsets"), is_part_name("item_ids")
    (True, False)
"""
from __future__ import annotations

VALUES_SUFFIX = "__values"
OFFSETS_SUFFIX = "__offsets"
#: Both suffixes, for ``str.endswith``; a column of our own must not end with either.
SUFFIXES = (VALUES_SUFFIX, OFFSETS_SUFFIX)
#: How error messages name the suffixes.
SUFFIXES_TEXT = f"'{VALUES_SUFFIX}' or '{OFFSETS_SUFFIX}' (merlin's ragged-tensor suffixes)"


def values_name(col: str) -> str:
    """The name of ``col``'s flat values: ``col__values``."""
    return f"{col}{VALUES_SUFFIX}"


def offsets_name(col: str) -> str:
    """The name of ``col``'s row offsets: ``col__offsets``."""
    return f"{col}{OFFSETS_SUFFIX}"


def is_part_name(name: str) -> bool:
    """True for a name that ends with one of the suffixes (one half of a list column)."""
    return name.endswith(SUFFIXES)
