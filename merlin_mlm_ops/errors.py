"""Every error the package raises on purpose, in one place.

- :class:`MaskInputError`: malformed input to an operator; names the column, and the row where one is at fault;
- :class:`JobError` (and :class:`InputDataError`): the ``merlin-mlm`` job's inputs or environment, one line;
- :class:`DatasetFetchError`: a dataset download failed or is not what was expected.
"""
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


class JobError(Exception):
    """A problem with the job's inputs or environment, reported as one line.

    ``detail`` (optional) holds the full traceback of a failure on a worker, shown by ``--debug``.
    """

    def __init__(self, message, detail=""):
        super().__init__(message, detail)
        self.detail = detail

    def __str__(self):
        return self.args[0]


class InputDataError(JobError):
    """A partition's data could not be read or masked; the message names the file (and row)."""


class DatasetFetchError(RuntimeError):
    """The data could not be downloaded, or what was downloaded is not what was expected."""
