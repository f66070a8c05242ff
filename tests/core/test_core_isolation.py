"""pipelines_core never imports an orchestrator: proven in an environment where none is installed."""

import importlib.util
import pkgutil
import subprocess
import sys

import pipelines_core

ORCHESTRATORS = ("airflow", "prefect", "dagster", "luigi")


def test_no_orchestrator_is_installed_here():
    assert [m for m in ORCHESTRATORS if importlib.util.find_spec(m)] == []


def test_every_core_module_imports_without_an_orchestrator():
    modules = [m.name for m in pkgutil.walk_packages(pipelines_core.__path__, "pipelines_core.")]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"bad = [m for m in sys.modules if m.split('.')[0] in {ORCHESTRATORS!r}]\n"
            "print(len(sys.modules), bad)\n"
            "sys.exit(1 if bad else 0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(modules) >= 15
