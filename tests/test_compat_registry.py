"""merlin_mlm_ops.compat's registry: every fix described, one opt-out for all, status() and doctor report them,
and importing the Keras side applies no merlin-core fix."""
import os
import subprocess
import sys

import pytest

from merlin_mlm_ops.compat import registry
from merlin_mlm_ops.job.cli import main

ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3"}


def run_python(code, **env):
    out = subprocess.run([sys.executable, "-c", code], env={**ENV, **env}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_every_fix_says_what_for_which_versions_how_detected_and_when_removable():
    assert len({fix.name for fix in registry.FIXES}) == len(registry.FIXES) == 4
    for fix in registry.FIXES:
        assert all([fix.fixes, fix.versions, fix.detected, fix.removable, fix.applied_by]), fix.name
    with pytest.raises(KeyError, match="known: merlin-core-list-columns"):
        registry.get("nope")


def test_docs_compat_md_lists_every_fix_with_its_versions():
    from helpers import ROOT

    text = (ROOT / "docs" / "compat.md").read_text()
    for fix in registry.FIXES:
        assert f"| `{fix.name}` |" in text and fix.versions in text, fix.name


def test_importing_the_operators_applies_the_merlin_core_fixes_and_status_reports_them():
    names = run_python("import merlin_mlm_ops.ops; from merlin_mlm_ops import compat; "
                       "print(*[s['name'] for s in compat.status() if s['active']])")
    assert names == ["merlin-core-list-columns", "parquet-writer-closes-files", "schema-deterministic"]


def test_applying_them_for_the_operators_is_logged_once_at_info():
    code = ("import logging; logging.basicConfig(level=logging.INFO, format='%(name)s %(message)s'); "
            "import merlin_mlm_ops.ops; from merlin_mlm_ops.compat.registry import apply_for_operators; "
            "apply_for_operators()")
    out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=300)
    lines = [line for line in out.stderr.splitlines() if line.startswith("merlin_mlm_ops.compat ")]
    assert len(lines) == 1 and "merlin-core-list-columns, parquet-writer-closes-files" in lines[0], out.stderr


def test_the_opt_out_leaves_every_dependency_as_installed():
    code = ("import merlin_mlm_ops.ops, merlin_mlm_ops.tf.merlin_models as tm, merlin.models.tf as mm; "
            "import merlin.core.dispatch as d; from merlin.io.parquet import CPUParquetWriter as W; "
            "from merlin.schema.io import schema_bp; from merlin_mlm_ops import compat; "
            "print(sum(s['active'] for s in compat.status()), d.encode_list_column.__module__, "
            "W._close_writers.__module__, schema_bp.Any.from_dict.__module__, tm.is_active())")
    assert run_python(code, MERLIN_MLM_OPS_NO_COMPAT="1") == [
        "0", "merlin.core.dispatch", "merlin.io.parquet", "merlin.schema.io.schema_bp", "False"]
    assert run_python(code, MERLIN_MLM_OPS_NO_COMPAT="0")[0] == "4"


@pytest.mark.parametrize("name", ["parquet-writer-closes-files", "schema-deterministic"])
def test_the_writer_and_schema_fixes_obey_the_opt_out_and_the_version_guard(name, monkeypatch):
    import merlin_mlm_ops.ops  # noqa: F401

    fix = registry.get(name)
    assert fix.is_active()
    fix.undo()
    try:
        assert not fix.is_active()
        monkeypatch.setenv(registry.ENV_VAR, "1")
        assert not fix.apply() and not fix.is_active()
        monkeypatch.delenv(registry.ENV_VAR)
        monkeypatch.setattr(registry, "version_of", lambda dist: "24.1.0")  # a merlin-core it was not written for
        assert not fix.apply() and not fix.is_active()
    finally:
        monkeypatch.undo()
        assert fix.apply() and fix.is_active()


def test_the_merlin_models_fix_has_a_version_guard_an_opt_out_and_an_undo(monkeypatch):
    mm = pytest.importorskip("merlin.models.tf")
    from merlin_mlm_ops.tf import merlin_models as tm

    assert tm.is_active() and registry.get("merlin-models-pre").is_active()
    originals = dict(tm._originals)
    tm.undo()
    try:
        assert not tm.is_active() and all(getattr(mm.Model, name) is originals[name] for name in tm._METHODS)
        monkeypatch.setattr(registry, "version_of", lambda dist: "24.2.0")  # not a version it was written for
        assert not tm.apply() and not tm.is_active()
        # SequenceMaskPrecomputed's own hook (keeping its mask column through fit) is not a fix: it stays
        assert mm.Model._maybe_set_schema is not originals["_maybe_set_schema"]
        monkeypatch.undo()
        monkeypatch.setenv(registry.ENV_VAR, "1")
        assert not tm.apply() and not tm.is_active()
    finally:
        monkeypatch.undo()
        tm.undo()
        assert tm.apply()


def test_importing_the_keras_side_applies_no_merlin_core_fix():
    code = ("import sys, merlin_mlm_ops.tf as t; t.SequenceMaskPrecomputed; t.EpochMasks; "
            "import merlin.core.dispatch as d; from merlin_mlm_ops import compat; "
            "print('merlin_mlm_ops.ops' in sys.modules, d.encode_list_column.__module__, "
            "*[s['name'] for s in compat.status() if s['active']])")
    assert run_python(code) == ["False", "merlin.core.dispatch", "merlin-models-pre"]


def test_doctor_prints_versions_and_each_fix(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("merlin-mlm-ops ") and "merlin-core" in out
    for fix in registry.FIXES:
        assert f" {fix.name}" in out
    assert "active    merlin-core-list-columns" in out


def test_version_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("merlin-mlm-ops 0.")
