"""The fixes this package applies to its dependencies: one registry, one switch, one report.

:data:`~merlin_mlm_ops.compat.registry.FIXES` lists each fix with what it fixes, for which
versions, how it is detected and when it can be removed (docs/compat.md shows the same list).
``MERLIN_MLM_OPS_NO_COMPAT=1`` turns all of them off; :func:`status` (or ``merlin-mlm doctor``)
says which are active in this process.  Importing this package imports neither merlin nor
NVTabular.

``apply()``, ``undo()`` and ``is_active()`` here are those of the merlin-core list-column fix
(:mod:`merlin_mlm_ops.compat.merlin_core`), the one library users apply themselves when they run
Categorify without importing the operators.  Dask workers:
:func:`merlin_mlm_ops.compat.dask.register` (one call per client).
"""
from merlin_mlm_ops.compat.merlin_core import apply, is_active, undo
from merlin_mlm_ops.compat.registry import ENV_VAR, FIXES, Fix, disabled_by_env, status

__all__ = ["ENV_VAR", "FIXES", "Fix", "apply", "disabled_by_env", "is_active", "status", "undo"]
