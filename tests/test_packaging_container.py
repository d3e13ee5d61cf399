"""The package installs into the NVIDIA Merlin 23.08 containers without changing them.

`ci/merlin-tensorflow-23.08-pypi.txt` holds the container's package versions that PyPI can
resolve (derived from the measured list in shared/notes, every dropped line commented). The
metadata (pyproject.toml) must name only ranges that hold the container and both CI environments,
and never a package the container supplies in another form; pip's resolver, run with that file as
constraints, must pick every pinned package at the container's version.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from helpers import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (the container's): pip vendors the same parser
    from pip._vendor import tomli as tomllib

CONTAINER = ROOT / "ci" / "merlin-tensorflow-23.08-pypi.txt"
SOURCE_NAME = "merlin-tensorflow-23.08-constraints.txt"
# Supplied by the containers in another form: NVIDIA's TensorFlow build (named tensorflow) and
# their own Triton server. Installing any of these would put a second copy beside them.
SUPPLIED_BY_CONTAINER = {
    "tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel", "tf-nightly",
    "nvidia-pytriton", "tritonserver", "cudf", "cudf-cu11", "cudf-cu12", "rmm", "dask-cudf",
}
PIN = re.compile(r"^\s*(#\s*)?([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(==\s*([^\s#]+))?")


def read_pins(path, commented=False):
    """{canonical name: version} of a pip constraints file's `name==version` lines.

    commented: also read lines that are commented out (`# name==version`), as the dropped lines
    of the derived file and the unenforced tier C lines of the source are.
    """
    pins = {}
    for line in Path(path).read_text().splitlines():
        m = PIN.match(line)
        if not m or (m.group(1) and not commented) or not m.group(5):
            continue
        pins[canonicalize_name(m.group(2))] = m.group(5)
    return pins


def project_requirements():
    """Every Requirement of pyproject.toml: dependencies and all extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return [Requirement(r) for r in reqs]


def source_file():
    """The measured list in shared/notes (beside the clone in CI), or None where it is absent."""
    for base in (ROOT.parent, ROOT.parent.parent, Path("/work")):
        path = base / "shared" / "notes" / SOURCE_NAME
        if path.is_file():
            return path
    return None


def test_metadata_names_no_package_the_container_supplies_in_another_form():
    named = {canonicalize_name(r.name) for r in project_requirements()}
    assert not named & SUPPLIED_BY_CONTAINER, named & SUPPLIED_BY_CONTAINER


def test_metadata_states_ranges_not_exact_pins():
    pinned = [str(r) for r in project_requirements() if any(s.operator in ("==", "===") for s in r.specifier)]
    assert not pinned, f"exact pins belong in requirements/constraints files, not in pyproject.toml: {pinned}"


@pytest.mark.parametrize("env_file", [
    "constraints.txt", "constraints-merlin2308.txt", "ci/merlin-tensorflow-23.08-pypi.txt", "constraints-torch.txt",
    "requirements-torch.txt",
])
def test_every_range_holds_the_tested_environments_and_the_container(env_file):
    pins = read_pins(ROOT / env_file)
    outside = [
        f"{r.name}{r.specifier} excludes {pins[canonicalize_name(r.name)]}"
        for r in project_requirements()
        if canonicalize_name(r.name) in pins
        and not r.specifier.contains(Version(pins[canonicalize_name(r.name)]), prereleases=True)
    ]
    assert not outside, f"{env_file}: {outside}"


def test_tritonclient_range_holds_both_builds_the_container_may_have():
    (req,) = [r for r in project_requirements() if r.name == "tritonclient"]
    for version in ("2.36.0", "2.37.0.9383150"):
        assert req.specifier.contains(version), version


def test_derived_container_file_agrees_with_the_measured_list():
    source = source_file()
    if source is None:
        pytest.skip(f"shared/notes/{SOURCE_NAME} not found beside the checkout")
    measured = read_pins(source, commented=True)
    kept = read_pins(CONTAINER)
    everything = read_pins(CONTAINER, commented=True)
    changed = {n: (v, measured.get(n)) for n, v in kept.items() if measured.get(n) != v}
    assert not changed, f"kept pins differ from the measured list: {changed}"
    # every measured package appears, kept or commented out with a reason
    missing = [n for n in measured if n not in everything]
    assert not missing, missing
    text = CONTAINER.read_text()
    for name in set(everything) - set(kept):
        (line,) = [ln for ln in text.splitlines() if re.match(rf"#\s*{re.escape(name)}\b", ln, re.I)]
        assert line.count("#") >= 2, f"dropped line without a reason: {line!r}"


@pytest.mark.slow
@pytest.mark.skipif(sys.version_info[:2] != (3, 10),
                    reason="the container's Python is 3.10 (numba 0.56.4 has no wheel for later ones): "
                           "runs in the merlin2308 environment (ci/env-merlin2308.sh), a CI leg")
def test_installing_with_the_container_constraints_changes_none_of_its_packages(tmp_path):
    # One real resolve against the index, as `pip install` in the container would do, with no
    # installed packages taken into account and no cache: what pip picks for a fresh install.
    # constraints-merlin2308.txt (the second environment's resolved set, which holds the same
    # container pins) is a hint for packages the container file does not pin: without it pip
    # backtracks through ~20 dask-cuda and ~15 matplotlib releases, downloading each wheel (the
    # index here serves no separate metadata files), ~6 min instead of ~1; the verdict on the
    # container's packages is the same (measured both ways, docs/environment.md).
    # --no-build-isolation: the merlin packages are sdists whose metadata pip must build; this
    # environment's setuptools/wheel/packaging do it instead of six fresh isolated installs (the
    # same report, half the CPU time).
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-cache-dir",
           "--disable-pip-version-check", "--no-build-isolation", "--quiet", "--report", str(report),
           f"{ROOT}[tf,serving,cli]", "-c", str(CONTAINER), "-c", str(ROOT / "constraints-merlin2308.txt")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-4000:]
    picked = {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"]
              for i in json.loads(report.read_text())["install"]}
    assert "merlin-mlm-ops" in picked
    container = read_pins(CONTAINER)
    changed = {n: (container[n], v) for n, v in picked.items()
               if n in container and Version(v) != Version(container[n])}
    assert not changed, f"would change container packages (container, picked): {changed}"
    assert not set(picked) & SUPPLIED_BY_CONTAINER, set(picked) & SUPPLIED_BY_CONTAINER
    # everything the container holds that the package needs is picked at the container's version
    needed = {"merlin-core", "nvtabular", "merlin-models", "merlin-dataloader", "merlin-systems", "numpy",
              "pandas", "pyarrow", "numba", "protobuf", "dask", "distributed", "transformers", "tritonclient"}
    assert needed <= set(picked), needed - set(picked)


def test_ci_runs_the_suite_in_both_environments_with_the_container_versions():
    run = (ROOT / ".ci" / "run").read_text()
    assert "bash ci/test.sh" in run and "bash ci/test-merlin2308.sh" in run
    assert "MLM_PYTHON_VERSION=3.10" in (ROOT / "ci" / "env-merlin2308.sh").read_text()
    pins = read_pins(ROOT / "constraints-merlin2308.txt")
    stated = {"tensorflow-cpu": "2.12.0", "merlin-core": "23.8.0", "merlin-models": "23.8.0", "nvtabular": "23.8.0",
              "merlin-dataloader": "23.8.0", "merlin-systems": "23.8.0", "numpy": "1.22.4", "pandas": "1.5.2",
              "protobuf": "3.20.3", "dask": "2023.1.1", "distributed": "2023.1.1", "transformers": "4.26.0",
              "numba": "0.56.4", "pyarrow": "10.0.1"}
    assert {n: pins.get(n) for n in stated} == stated
