"""User mistakes give one clear line and a non-zero exit, never a traceback; ``workbench`` is
the core's commands plus the benchmark's and the course's, and the core's own command line
holds only its own."""

import importlib.metadata
import os
import subprocess
import sys

import pytest

from pipelines_core import testing
from pipelines_core.config import PROJECT_ROOT


def cli(*args, env_extra=None, path=None, module="pipelines_core.cli"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env.update(env_extra or {})
    if path is not None:
        env["PATH"] = path
        env.pop("JAVA_HOME", None)
    return subprocess.run([sys.executable, "-m", module, *args], env=env,
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, needle", [
    (["run", "--pipeline", "nope", "--date", "2026-11-01"], "unknown pipeline 'nope'"),
    (["run", "--pipeline", "customer_daily_etl", "--date", "2026-11-31"], "malformed date"),
    (["backfill", "--pipeline", "customer_daily_etl", "--start", "2026-11-05",
      "--end", "2026-11-01"], "before start date"),
    (["generate", "--date", "2026-11-01", "--spark-mode", "remote", "--spark-url", "sc://x"],
     "malformed Spark URL"),
    (["run", "--pipeline", "customer_daily_etl", "--date", "2026-11-01", "--scale", "5"],
     "scale"),
])
def test_mistakes_print_one_line(args, needle, tmp_path):
    out = cli(*args, env_extra={"WORKBENCH_STATE_DIR": str(tmp_path)})
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], out.stderr


def test_unreachable_spark_url(tmp_path):
    port = testing.free_port()
    out = cli("generate", "--date", "2026-11-01", "--spark-mode", "remote",
              "--spark-url", f"sc://127.0.0.1:{port}",
              env_extra={"WORKBENCH_LAKE_ROOT": str(tmp_path)})
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: no Spark Connect server answers at sc://127.0.0.1:{port}"


def test_missing_java(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    out = cli("generate", "--date", "2026-11-01", path=str(bindir),
              env_extra={"WORKBENCH_LAKE_ROOT": str(tmp_path)})
    assert out.returncode == 2
    assert out.stderr.startswith("error: Java was not found") and "Traceback" not in out.stderr


def test_connect_mode_without_a_server_says_how_to_start_one(tmp_path):
    port = testing.free_port()
    out = cli("run", "--pipeline", "customer_daily_etl", "--date", "2026-11-01",
              "--spark-mode", "connect",
              env_extra={"WORKBENCH_SPARK_CONNECT_PORT": str(port),
                         "WORKBENCH_STATE_DIR": str(tmp_path)})
    assert out.returncode == 2
    assert out.stderr.strip() == (f"error: no Spark Connect server answers at "
                                  f"sc://127.0.0.1:{port} (start it with `workbench spark start`)")


def test_spark_status_reports_not_running(tmp_path):
    out = cli("spark", "status", env_extra={"WORKBENCH_STATE_DIR": str(tmp_path),
                                            "WORKBENCH_SPARK_CONNECT_PORT":
                                                str(testing.free_port())})
    assert out.returncode == 1 and "not running" in out.stdout


CORE_COMMANDS = ["check", "spark", "postgres", "generate", "run", "backfill", "ledger"]


def _commands(help_text):
    return help_text.split("{", 1)[1].split("}", 1)[0].split(",")


def test_the_workbench_command_adds_the_bench_and_the_course_to_the_core():
    (script,) = importlib.metadata.entry_points(group="console_scripts", name="workbench")
    assert script.value == "workbench_cli:main"
    full = cli("--help", module="workbench_cli")
    core = cli("--help")
    assert full.returncode == core.returncode == 0
    assert _commands(full.stdout) == CORE_COMMANDS + ["bench", "exercise"]
    assert _commands(core.stdout) == CORE_COMMANDS


def test_bench_and_exercise_reach_their_layers(tmp_path):
    out = cli("bench", "--orchestrators", "airflow,nope", module="workbench_cli",
              env_extra={"WORKBENCH_STATE_DIR": str(tmp_path)})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: unknown orchestrator(s) nope; known: ")
    assert all(n in out.stderr.split("known: ")[1] for n in ("airflow", "prefect", "dagster",
                                                            "luigi"))
    out = cli("exercise", "list", module="workbench_cli", env_extra={"LANG": "C.UTF-8"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1].split()[:2] == ["2", "02-retries-backoff"]
    assert cli("bench", "--preset", "quick").returncode == 2  # not a core command
