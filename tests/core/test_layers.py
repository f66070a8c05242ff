"""The other two arrows of the layers: ``benchmarks`` reaches no implementation's code (no
import, no ``sys.path`` edit naming an ``*_impl`` folder, no module loaded by file path),
and no ``*_impl`` folder (its tests included) imports ``benchmarks`` or another
implementation. Read from every module's syntax tree, as the core's isolation test does."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipelines_core.config import PROJECT_ROOT
from tests.core.test_core_isolation import ORCHESTRATORS, imported_modules

IMPLS = {name: PROJECT_ROOT / f"{name}_impl" for name in ORCHESTRATORS}
LOADERS = ("spec_from_file_location", "module_from_spec", "SourceFileLoader")


def py_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if ".venv" not in p.parts)


def impl_reach(source: str, filename: str = "<source>") -> list[str]:
    """Every way ``source`` reaches an implementation's code: an import of a
    ``workbench_<orchestrator>`` package, ``sys.path`` changed with an ``*_impl`` name in the
    statement, or a module loaded from a file path."""
    found = [f"{filename}:{line} imports {module}"
             for line, module in imported_modules(source, filename)
             if module.split(".")[0] in {f"workbench_{o}" for o in ORCHESTRATORS}]
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            target = ast.unparse(func)
            if name in LOADERS:
                found.append(f"{filename}:{node.lineno} loads a module by path ({name})")
            elif target.startswith("sys.path.") and "_impl" in ast.unparse(node):
                found.append(f"{filename}:{node.lineno} edits sys.path with an _impl folder")
    return found


def bench_reach(source: str, impl: str, filename: str = "<source>") -> list[str]:
    """Imports of ``benchmarks`` or of another implementation's package in ``impl``'s code."""
    others = {f"workbench_{o}" for o in ORCHESTRATORS if o != impl}
    return [f"{filename}:{line} imports {module}"
            for line, module in imported_modules(source, filename)
            if module.split(".")[0] in {"benchmarks", *others}]


def test_the_bench_reaches_no_implementation_but_through_its_service_command():
    files = py_files(PROJECT_ROOT / "benchmarks")
    assert PROJECT_ROOT / "benchmarks" / "adapters" / "dagster.py" in files
    bad = [f for p in files for f in impl_reach(p.read_text(), str(p.relative_to(PROJECT_ROOT)))]
    assert bad == []


@pytest.mark.parametrize("impl", ORCHESTRATORS)
def test_an_implementation_imports_neither_the_bench_nor_another_implementation(impl):
    files = py_files(IMPLS[impl])
    assert IMPLS[impl] / f"workbench_{impl}" / "service.py" in files
    assert any("tests" in p.parts for p in files)
    bad = [f for p in files
           for f in bench_reach(p.read_text(), impl, str(p.relative_to(PROJECT_ROOT)))]
    assert bad == []


@pytest.mark.parametrize("source, finding", [
    ("def f():\n    from workbench_prefect.server import POOL\n", "imports workbench_prefect"),
    ("import sys\nsys.path.insert(0, str(ROOT / 'prefect_impl'))\n", "edits sys.path"),
    ("import importlib.util as u\nu.spec_from_file_location('m', IMPL / 'x.py')\n",
     "loads a module by path"),
    ("import importlib\nimportlib.import_module('workbench_dagster.services')\n",
     "imports workbench_dagster"),
])
def test_each_way_into_an_implementation_is_found(source, finding):
    assert [f for f in impl_reach(source) if finding in f], impl_reach(source)


def test_an_implementation_importing_the_bench_or_a_sibling_is_found():
    source = ("from benchmarks.adapters.luigi import LuigiAdapter\n"
              "def f():\n    import workbench_airflow.common\n"
              "import workbench_luigi.settings\n")
    assert bench_reach(source, "luigi") == [
        "<source>:1 imports benchmarks.adapters.luigi", "<source>:3 imports workbench_airflow.common"]
