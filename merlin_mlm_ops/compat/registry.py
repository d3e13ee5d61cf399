"""The one list of fixes this package applies to its dependencies, and their switches.

Each :class:`Fix` says what it fixes, for which versions, how ``apply()`` decides that the
installed version needs it, and when it can be removed.  Every fix module has ``apply()``
(idempotent; True when active), ``undo()`` (puts the dependency's own code back) and
``is_active()``; this module imports none of them, nor merlin, until asked.

One switch turns them all off: ``MERLIN_MLM_OPS_NO_COMPAT=1`` (any value but "" and "0").
:func:`status` reports, fix by fix, whether it is active in this process and why not.
"""
from __future__ import annotations

import importlib
import logging
import os
import sys
from dataclasses import dataclass

#: Set to 1 (or any value but "" and "0") to leave every dependency as installed.
ENV_VAR = "MERLIN_MLM_OPS_NO_COMPAT"

_log = logging.getLogger("merlin_mlm_ops.compat")
_reported = False


def disabled_by_env() -> bool:
    """True when :data:`ENV_VAR` turns every fix off."""
    return os.environ.get(ENV_VAR, "").strip() not in ("", "0")


def version_of(distribution: str):
    """The installed version of ``distribution`` (e.g. ``"merlin-core"``), or None."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def version_matches(distribution: str, prefixes) -> bool:
    """True when ``distribution`` is installed at a version starting with one of ``prefixes``."""
    version = version_of(distribution)
    return version is not None and version.startswith(tuple(prefixes))


@dataclass(frozen=True)
class Fix:
    """One dependency fix.  ``module`` holds its ``apply``/``undo``/``is_active``."""

    name: str
    applied_by: str  #: what applies it without being asked
    versions: str  #: the versions it was written for
    removable: str  #: when it can go
    module: str  #: the module with its apply/undo/is_active
    fixes: str  #: what goes wrong without it
    detected: str  #: how apply() decides it is needed

    def _module(self):
        return importlib.import_module(self.module)

    def apply(self) -> bool:
        """Install the fix where needed and allowed; True when it is active."""
        return bool(self._module().apply())

    def undo(self) -> None:
        """Put the dependency's own code back."""
        self._module().undo()

    def is_active(self) -> bool:
        """True while installed; False (without importing anything) when its module was never loaded."""
        return self.module in sys.modules and bool(self._module().is_active())


_CORE = "merlin-core 23.8.x"
_CORE_GONE = "when merlin-core 23.8 is no longer supported"
_BY_OPERATORS = "importing merlin_mlm_ops.ops (MaskRandom, MaskLast): merlin-mlm and its Dask workers do"

FIXES = (
    Fix("merlin-core-list-columns",
        fixes="merlin-core's pandas list-column paths (flatten_list_column_values, encode_list_column; NVTabular's "
              "Categorify, Normalize, LogOp, HashBucket, Moments and merlin-dataloader use them) loop in Python per "
              "item, and encode_list_column drops the index: rows of partitions not starting at 0 became NaN",
        versions=f"{_CORE}; NVTabular's and merlin-dataloader's names at 23.8.x",
        detected="installed version prefix, and each name still bound to the original function",
        removable=_CORE_GONE, module="merlin_mlm_ops.compat.merlin_core", applied_by=_BY_OPERATORS),
    Fix("parquet-writer-closes-files", versions=_CORE, removable=_CORE_GONE, applied_by=_BY_OPERATORS,
        fixes="merlin-core's CPU Parquet writer leaves the files under its pyarrow writers open: with Python 3.10 / "
              "pyarrow 10 (the Merlin 23.08 containers) Dataset.to_parquet left part_0.parquet empty",
        detected="installed version prefix, and CPUParquetWriter._close_writers not closing data_files",
        module="merlin_mlm_ops.compat.parquet_writer"),
    Fix("schema-deterministic", module="merlin_mlm_ops.compat.schema_any",
        applied_by=_BY_OPERATORS, versions=_CORE, removable=_CORE_GONE,
        fixes="merlin-core packs a column's properties into schema.pbtxt in a different order in every process "
              "(protobuf 3.20): identical or resumed merlin-mlm runs wrote schema files that differed byte for byte",
        detected="installed version prefix, and schema_bp.Any.from_dict present"),
    Fix("merlin-models-pre",
        applied_by="importing merlin_mlm_ops.tf.SequenceMaskPrecomputed (merlin-mlm doctor --tf shows it)",
        versions="merlin-models 23.8.x and 23.12.x on TensorFlow 2.12", detected="installed version prefix",
        fixes="merlin-models' fit/evaluate/predict(pre=...) keep the last pre as a checkpoint dependency (saved with "
              "the model) and retrace their step function on every call (memory grows with every epoch)",
        removable="when merlin-models 23.12 is no longer supported", module="merlin_mlm_ops.tf.merlin_models"),
)


def get(name: str) -> Fix:
    """The :class:`Fix` called ``name``."""
    for fix in FIXES:
        if fix.name == name:
            return fix
    raise KeyError(f"no dependency fix named {name!r}; known: {', '.join(f.name for f in FIXES)}")


def apply_for_operators() -> list:
    """Apply the three merlin-core fixes the operators' workflows need (done on importing
    :mod:`merlin_mlm_ops.ops`); logs once, at INFO, which are active.  Returns their names."""
    global _reported
    active = [fix.name for fix in FIXES[:3] if fix.apply()]
    if not _reported:
        _reported = True
        _log.info("merlin_mlm_ops.compat: %s active (%s=1 turns them off; merlin_mlm_ops.compat.status())",
                  ", ".join(active) or "no fix", ENV_VAR)
    return active


def status() -> list:
    """One dict per fix: ``name``, ``active`` (in this process), ``why`` (when inactive), and its description.

    >>> [s["name"] for s in status()][:2]
    ['merlin-core-list-columns', 'parquet-writer-closes-files']
    """
    rows = []
    for fix in FIXES:
        active = fix.is_active()
        if active:
            why = ""
        elif disabled_by_env():
            why = f"{ENV_VAR} is set"
        elif fix.module not in sys.modules:
            why = f"not applied in this process (applied by {fix.applied_by})"
        else:
            why = f"not needed or not supported here ({fix.versions} expected)"
        rows.append({"name": fix.name, "active": active, "why": why, "fixes": fix.fixes, "versions": fix.versions,
                     "detected": fix.detected, "removable": fix.removable, "applied_by": fix.applied_by})
    return rows


def status_lines() -> list:
    """:func:`status` as printable lines (``merlin-mlm doctor``)."""
    return [f"  {'active  ' if s['active'] else 'inactive'}  {s['name']}" + (f": {s['why']}" if s["why"] else "")
            for s in status()]
