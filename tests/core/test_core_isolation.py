"""pipelines_core knows nobody: no module of it imports an orchestrator, the benchmark, an
implementation's package or the course kit, at any depth (inside functions too, and through
``importlib.import_module("...")`` or ``__import__("...")``). Proven twice: by reading every
core module's syntax tree, and by importing every core module where no orchestrator is
installed."""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import pipelines_core

ORCHESTRATORS = ("airflow", "prefect", "dagster", "luigi")
FORBIDDEN = (*ORCHESTRATORS, "benchmarks", "course_kit")
FORBIDDEN_PREFIX = "workbench_"  # workbench_airflow ... and the root command line
DYNAMIC = ("import_module", "__import__")
CORE = Path(pipelines_core.__file__).parent


def forbidden(module: str) -> bool:
    top = module.split(".")[0]
    return top in FORBIDDEN or top.startswith(FORBIDDEN_PREFIX)


def _literal_prefix(node: ast.expr) -> str | None:
    """The module name a call's first argument spells, or its literal start (an f-string)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    return None


def imported_modules(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, module) of every absolute import in ``source``, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            literal = _literal_prefix(node.args[0]) if name in DYNAMIC else None
            if literal:
                found.append((node.lineno, literal))
    return found


def findings(source: str, filename: str = "<source>") -> list[str]:
    """``file:line imports module`` for every forbidden import in ``source``."""
    return [f"{filename}:{line} imports {module}"
            for line, module in imported_modules(source, filename) if forbidden(module)]


def core_files() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if ".venv" not in p.parts)


def test_no_core_module_imports_an_orchestrator_the_bench_an_impl_or_the_course():
    files = core_files()
    assert CORE / "cli.py" in files and CORE / "steps" / "__init__.py" in files
    bad = [f for p in files for f in findings(p.read_text(), str(p.relative_to(CORE.parent)))]
    assert bad == []


@pytest.mark.parametrize("source, module", [
    ("import airflow", "airflow"),
    ("from prefect.client import get_client", "prefect.client"),
    ("def f():\n    from benchmarks.cli import run_bench\n", "benchmarks.cli"),
    ("class A:\n    def m(self):\n        if True:\n            import dagster as dg\n", "dagster"),
    ("try:\n    import luigi\nexcept ImportError:\n    pass\n", "luigi"),
    ("import os, workbench_airflow.service", "workbench_airflow.service"),
    ("def f():\n    import importlib\n    importlib.import_module('workbench_dagster')\n",
     "workbench_dagster"),
    ("from importlib import import_module\nimport_module('benchmarks.harness')",
     "benchmarks.harness"),
    ("def f():\n    return __import__('airflow.sdk')\n", "airflow.sdk"),
    ("def f(x):\n    return importlib.import_module(f'workbench_{x}.service')\n",
     "workbench_"),
    ("lambda: __import__('course_kit')", "course_kit"),
    ("from workbench_cli import main", "workbench_cli"),
])
def test_a_nested_or_dynamic_import_is_found(source, module):
    assert findings(source, "m.py") == [f"m.py:{source[:source.find(module)].count(chr(10)) + 1} "
                                        f"imports {module}"]


@pytest.mark.parametrize("source", [
    "from pipelines_core.config import load_config",
    "from . import spark\nfrom .steps import ingest",  # relative: the core's own modules
    "import airflow_helpers_of_my_own",  # a name that only starts like an orchestrator
    "importlib.import_module(name)",  # a name chosen at run time (a step's function)
    "text = 'import airflow'",
])
def test_what_is_not_a_forbidden_import_is_not_reported(source):
    assert findings(source) == []


def test_no_orchestrator_is_installed_here():
    assert [m for m in ORCHESTRATORS if importlib.util.find_spec(m)] == []


def test_every_core_module_imports_without_an_orchestrator():
    modules = [m.name for m in pkgutil.walk_packages(pipelines_core.__path__, "pipelines_core.")]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}\n"
            f"       or m.startswith({FORBIDDEN_PREFIX!r})]\n"
            "print(len(sys.modules), bad)\n"
            "sys.exit(1 if bad else 0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "pipelines_core.cli" in modules and "pipelines_core.service" in modules
    assert len(modules) >= 15
