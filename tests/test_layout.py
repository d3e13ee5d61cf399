"""The package layout holds: old import paths still work, modules import no circle, tests import no test module."""
import ast
import importlib

import pytest

from helpers import ROOT

MOVED = [  # (old path, name, new path): documented or installed before the job/ and data/ subpackages
    ("merlin_mlm_ops.cli", "main", "merlin_mlm_ops.job.cli"),
    ("merlin_mlm_ops.jobs", "epoch_datasets", "merlin_mlm_ops.data.epochs"),
    ("merlin_mlm_ops.jobs", "run_mask_job", "merlin_mlm_ops.job.run"),
    ("merlin_mlm_ops.datasets", "fetch_ml1m", "merlin_mlm_ops.data.movielens"),
    ("merlin_mlm_ops.datasets", "to_sessions", "merlin_mlm_ops.data.movielens"),
    ("merlin_mlm_ops.synthetic", "make_sessions", "merlin_mlm_ops.data.synthetic"),
]


@pytest.mark.parametrize("old, name, new", MOVED)
def test_an_old_import_path_gives_the_moved_object(old, name, new):
    assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)


def _imports(path):
    """Every module ``path`` imports, also inside functions (``from a import b`` gives a and a.b)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def test_no_two_modules_of_the_package_import_each_other_even_through_others():
    modules = {}
    for path in (ROOT / "merlin_mlm_ops").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph = {m: {t for t in _imports(p) if t in modules and t != m and not m.startswith(t + ".")}
             for m, p in modules.items()}
    for start in graph:  # depth-first from each module: a path back to it is a circle
        stack, seen = [(start, [start])], set()
        while stack:
            module, trail = stack.pop()
            for nxt in graph[module]:
                assert nxt != start, f"import circle: {' -> '.join(trail + [start])}"
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))


def test_no_test_module_imports_another():
    for path in (ROOT / "tests").glob("*.py"):
        assert not [m for m in _imports(path) if m.startswith("test_")], path.name


def test_the_package_holds_no_test_only_hooks():
    """Faults are injected by the tests (tests/faults.py patches the job's one partition-writing
    function), never by switches in the product: no identifier about faults or injection, and no
    environment variable of the tests."""
    import re

    hook = re.compile(r"(?<!de)fault|inject|test_?hook", re.IGNORECASE)
    switch = re.compile(r"MERLIN_MLM_TEST|MLM_TESTS?_|_TEST_", re.IGNORECASE)
    found = []
    for path in sorted((ROOT / "merlin_mlm_ops").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [getattr(node, attr, None) for attr in ("id", "attr", "name", "arg", "asname")]
            found += [f"{path.name}: {name}" for name in names if isinstance(name, str) and hook.search(name)]
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and switch.search(node.value):
                found.append(f"{path.name}: {node.value!r}")
    assert not found
