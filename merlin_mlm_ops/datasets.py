"""Moved to :mod:`merlin_mlm_ops.data.movielens`; this name keeps working."""
from merlin_mlm_ops.data.movielens import *  # noqa: F401,F403
