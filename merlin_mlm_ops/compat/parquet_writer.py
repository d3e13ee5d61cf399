"""Version-guarded fix: merlin-core's CPU Parquet writer closes the files it opened.

merlin-core 23.8's ``CPUParquetWriter._close_writers`` closes the pyarrow writers but not the
fsspec files under them (its GPU writer closes both). The bytes then reach the disk only when
the file objects are garbage-collected: with Python 3.10 / pyarrow 10 / dask 2023.1.1 (the Merlin
23.08 container's versions) they stay referenced and ``Dataset.to_parquet`` leaves
``part_0.parquet`` empty ("Parquet magic bytes not found"); with newer versions the collection
happened to come first. :func:`apply` wraps ``_close_writers`` to also close those files; closing
a closed file does nothing, so the wrapper is harmless where a release closes them itself.

    from merlin_mlm_ops.compat import parquet_writer
    parquet_writer.apply()   # done on importing merlin_mlm_ops.ops
"""
from __future__ import annotations

import sys

from merlin_mlm_ops.compat.registry import disabled_by_env, version_matches

_MARK = "_merlin_mlm_ops_closes_files"


def _needs_fix(writer_cls):
    """True when the writer keeps the files it opens (``data_files``) and does not close them."""
    import inspect

    try:
        source = inspect.getsource(writer_cls._close_writers)
    except (OSError, TypeError):
        return False
    return "data_files" not in source


def apply():
    """Wrap ``merlin.io.parquet.CPUParquetWriter._close_writers`` (idempotent).

    Returns True when the fix is active; False when this merlin-core needs none, is not 23.8.x,
    or ``MERLIN_MLM_OPS_NO_COMPAT`` is set.
    """
    if disabled_by_env() or not version_matches("merlin-core", ("23.8.",)):
        return False
    from merlin.io.parquet import CPUParquetWriter

    original = CPUParquetWriter._close_writers
    if getattr(original, _MARK, False):
        return True
    if not _needs_fix(CPUParquetWriter):
        return False

    def _close_writers(self):
        try:
            return original(self)
        finally:
            for f in getattr(self, "data_files", ()):
                f.close()

    setattr(_close_writers, _MARK, True)
    _close_writers.__wrapped__ = original
    CPUParquetWriter._close_writers = _close_writers
    return True


def is_active():
    """True while merlin-core's ``_close_writers`` is wrapped (False when merlin.io.parquet was never imported)."""
    module = sys.modules.get("merlin.io.parquet")
    return module is not None and getattr(module.CPUParquetWriter._close_writers, _MARK, False)


def undo():
    """Restore merlin-core's own ``_close_writers`` (tests compare against it)."""
    from merlin.io.parquet import CPUParquetWriter

    current = CPUParquetWriter._close_writers
    if getattr(current, _MARK, False):
        CPUParquetWriter._close_writers = current.__wrapped__
