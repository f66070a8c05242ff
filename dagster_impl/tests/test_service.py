"""``python -m workbench_dagster.service``: the code server, webserver and daemon up,
inspected, one crashed and restarted, and stopped, through the command line as the benchmark
and ``make ui`` drive it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines_core.http import HttpClient
from pipelines_core.procs import free_port, group_alive, port_open

IMPL = Path(__file__).resolve().parent.parent
COMPONENTS = ["code-server", "webserver", "daemon"]


@pytest.fixture
def service(tmp_path):
    home, port, code_port = tmp_path / "dagster-home", free_port(), free_port()
    env = {**os.environ, "WORKBENCH_STATE_DIR": str(tmp_path / "state"),
           "WORKBENCH_LAKE_ROOT": str(tmp_path / "lake")}

    def run(*args: str) -> dict:
        proc = subprocess.run([sys.executable, "-m", "workbench_dagster.service", "--home",
                               str(home), "--json", *args], cwd=IMPL, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    run.home, run.port, run.code_port = home, port, code_port
    try:
        yield run
    finally:
        run("down")


def rows(status: dict) -> dict[str, dict]:
    assert [c["name"] for c in status["components"]] == COMPONENTS
    return {c["name"]: c for c in status["components"]}


def test_up_status_kill_restart_down(service):
    up = service("--port", str(service.port), "--code-server-port", str(service.code_port),
                 "--max-concurrent-runs", "3", "--no-automation", "up")
    assert up["healthy"] and up["url"] == f"http://127.0.0.1:{service.port}"
    status = service("status")  # finds the ports the components were started on
    first = rows(status)
    assert {n: r["health"] for n, r in first.items()} == dict.fromkeys(COMPONENTS, "healthy")
    assert {n: r["port"] for n, r in first.items()} == {
        "code-server": service.code_port, "webserver": service.port, "daemon": None}
    for row in first.values():
        assert row["pid"] == row["pgid"] and group_alive(row["pgid"])
    assert port_open(service.port) and port_open(service.code_port)
    # the webserver loads the code location from the code server the workspace names
    workspace = (service.home / "workspace.yaml").read_text()
    assert f"port: {service.code_port}" in workspace and "grpc_server" in workspace
    answer = HttpClient(up["url"]).post("/graphql", {"query": "{ workspaceOrError { ... on "
                                                     "Workspace { locationEntries { name "
                                                     "loadStatus } } } }"})
    assert answer["data"]["workspaceOrError"]["locationEntries"] == [
        {"name": "workbench", "loadStatus": "LOADED"}]
    info = status["info"]
    assert info["settings"]["run_coordinator.config.max_concurrent_runs"] == 3
    assert info["settings"]["run_coordinator.config.tag_concurrency_limits"] == [
        {"key": "dagster/backfill", "limit": 3}]
    assert info["settings"]["auto_materialize.enabled"] is False
    assert "auto_materialize.use_sensors" not in info["settings"]  # Dagster's default
    preload = info["run_config"]["multiprocess"]["execution"]["config"]["multiprocess"][
        "start_method"]["forkserver"]["preload_modules"]
    assert preload[0] == "workbench_dagster.definitions"
    assert info["step_names"]["renamed"]["ingest_cdc_quality_gate"] == "quality_gate"

    killed = rows(service("kill", "daemon"))
    assert (killed["daemon"]["health"], killed["daemon"]["pid"]) == ("down", first["daemon"]["pid"])
    assert not group_alive(first["daemon"]["pgid"])
    for name in ("code-server", "webserver"):
        assert killed[name]["health"] == "healthy" and killed[name]["pid"] == first[name]["pid"]

    back = rows(service("restart", "daemon"))
    assert back["daemon"]["health"] == "healthy"
    assert back["daemon"]["pid"] != first["daemon"]["pid"]
    assert {n: r["pid"] for n, r in back.items() if n != "daemon"} == {
        n: r["pid"] for n, r in first.items() if n != "daemon"}
    # the options of `up` hold for what comes later: the daemon runs with the same instance
    assert "max_concurrent_runs: 3" in (service.home / "dagster.yaml").read_text()

    down = rows(service("down"))
    assert {n: (r["health"], r["pid"]) for n, r in down.items()} == dict.fromkeys(
        COMPONENTS, ("down", None))
    for row in (*first.values(), back["daemon"]):
        assert not group_alive(row["pgid"])
    assert not port_open(service.port) and not port_open(service.code_port)
