"""Version-guarded fixes for the dependencies (see :mod:`merlin_mlm_ops.compat.merlin_core`).

``apply()`` installs them (idempotent, returns True when active), ``undo()`` removes them.
Importing this package imports neither merlin nor NVTabular. Dask workers:
:func:`merlin_mlm_ops.compat.dask.register` (one call per client).
"""
from merlin_mlm_ops.compat.merlin_core import ENV_VAR, apply, is_active, undo

__all__ = ["ENV_VAR", "apply", "is_active", "undo"]
