"""Errors raised for malformed input: each names the column, and the row where one is at fault."""
from __future__ import annotations


class MaskInputError(ValueError):
    """A selected or key column cannot be masked as given.

    ``column`` is the offending column's name; ``row`` is the index label of the first
    offending row, or None when the problem is not tied to a row.
    """

    def __init__(self, op: str, column: str, problem: str, row=None):
        if type(row).__module__ == "numpy" and hasattr(row, "item"):
            row = row.item()  # NumPy 2 reprs an index label as np.int64(7): name the row as 7
        self.op = op
        self.column = column
        self.row = row
        where = f"column '{column}'" if row is None else f"column '{column}', row {row!r}"
        super().__init__(f"{op}: {where}: {problem}")
