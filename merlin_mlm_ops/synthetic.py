"""Moved to :mod:`merlin_mlm_ops.data.synthetic`; this name keeps working."""
from merlin_mlm_ops.data.synthetic import make_sessions, session_lengths, zipf_items  # noqa: F401
