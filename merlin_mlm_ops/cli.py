"""Moved to :mod:`merlin_mlm_ops.job.cli`; kept for ``merlin-mlm`` scripts installed before the move."""
from merlin_mlm_ops.job.cli import main  # noqa: F401
