"""The package without Merlin: `import merlin_mlm_ops` and the dataframe API load, the operators refuse in one
clear error, and the metadata says so (base dependencies without Merlin, extras for each use)."""
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pip vendors the same parser
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
BLOCK = "import sys\nfor name in ('nvtabular', 'merlin', 'merlin.core', 'merlin.dag'):\n    sys.modules[name] = None\n"


def _python(code):
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_the_package_and_the_dataframe_api_load_without_merlin_or_pandas():
    # (pandas itself cannot be blocked: pyarrow's own shim imports it where installed; our pandas modules can)
    done = _python("import pyarrow as pa, merlin_mlm_ops\n"
                   "from merlin_mlm_ops import mask_last\n"
                   "out = mask_last(pa.table({'item_ids': [[5, 6, 0], [7]]}), 'item_ids')\n"
                   "print(out.column('item_ids_mask').to_pylist())\n"
                   "print(sorted(m for m in sys.modules if m.endswith(('pandas_lists', '_pandas'))))\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[[False, True, False], [True]]", "[]"]


def test_importing_an_operator_without_nvtabular_is_one_error_that_says_what_to_install():
    for statement in ("from merlin_mlm_ops import MaskRandom", "import merlin_mlm_ops.ops"):
        done = _python(statement)
        assert done.returncode == 1
        assert done.stderr.count("Traceback") == 1 and "During handling" not in done.stderr, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("ImportError: merlin_mlm_ops.MaskRandom / MaskLast are NVTabular operators"), last
        assert "pip install 'merlin-mlm-ops[nvtabular]'" in last and "mask_random" in last


def test_the_base_install_names_no_merlin_and_the_extras_say_what_each_use_needs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {Requirement(r).name for r in project["dependencies"]}
    assert base == {"numpy", "pyarrow", "numba"}
    python = SpecifierSet(project["requires-python"])
    assert all(python.contains(v) for v in ("3.10", "3.11", "3.12", "3.13"))
    extras = {name: {Requirement(r).name for r in reqs} for name, reqs in project["optional-dependencies"].items()}
    assert extras["polars"] == {"polars"} and extras["pandas"] == {"pandas"} and "dask" in extras["dask"]
    for name in ("nvtabular", "merlin", "tf", "serving", "torch"):
        assert {"nvtabular", "merlin-core"} <= extras[name], name
    # The job runs without Merlin (job/plain.py): its extra names what it needs there, Dask uncapped;
    # the cap that NVTabular 23.8 needs belongs to the extras that install NVTabular.
    assert {"dask", "distributed", "pandas", "pyarrow"} <= extras["cli"] and not extras["cli"] & {
        "nvtabular", "merlin-core"}, extras["cli"]
    cli = {Requirement(r).name: Requirement(r).specifier for r in project["optional-dependencies"]["cli"]}
    assert cli["dask"].contains("2026.8.0") and cli["distributed"].contains("2026.8.0") and "tqdm" not in cli
    for name in ("nvtabular", "merlin"):
        caps = {Requirement(r).name: Requirement(r).specifier for r in project["optional-dependencies"][name]}
        assert not caps["dask"].contains("2025.1.0") and caps["dask"].contains("2024.1.1"), name
