"""The service command, run as the benchmark runs it (``python -m workbench_airflow.service``
from this folder, a subprocess in this environment) over a temporary home: ``up`` starts the
four components healthy, each its own process group listening on 127.0.0.1 only; ``kill``
crashes one and nothing else; ``restart`` brings it back with the settings ``up`` recorded;
``down`` leaves nothing running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines_core.http import HttpClient
from pipelines_core.procs import free_port, group_alive, group_members, port_open
from pipelines_core.spec import PIPELINES
from workbench_airflow import IMPL_DIR

COMPONENTS = ["api-server", "scheduler", "dag-processor", "triggerer"]


def service(home: Path, env: dict[str, str], *action: str, port: int | None = None) -> dict:
    argv = [sys.executable, "-m", "workbench_airflow.service", "--home", str(home), "--json"]
    argv += ["--port", str(port)] if port else []
    out = subprocess.run(argv + list(action), cwd=IMPL_DIR, env=env, capture_output=True,
                         text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, f"{action}: {out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def rows(status: dict) -> dict[str, dict]:
    return {c["name"]: c for c in status["components"]}


def listening(pgid: int) -> set[str]:
    """The ``address:port`` of every TCP socket the processes of ``pgid`` listen on."""
    inodes = set()
    for pid in group_members(pgid):
        try:
            links = [os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        inodes |= {link[8:-1] for link in links if link.startswith("socket:[")}
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                address, port = fields[1].split(":")
                found.add(f"{address}:{int(port, 16)}")
    return found


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.fixture(scope="module")
def caller(tmp_path_factory) -> dict[str, str]:
    """A caller's environment: no trace of the in-process tests' Airflow home, the workbench
    state in a temporary folder, and one Airflow setting of its own."""
    root = tmp_path_factory.mktemp("service-caller")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WORKBENCH_"))}
    return {**env, "WORKBENCH_STATE_DIR": str(root / "state"),
            "WORKBENCH_LAKE_ROOT": str(root / "lake"), "AIRFLOW__CORE__PARALLELISM": "3"}


@pytest.fixture(scope="module")
def up(tmp_path_factory, caller):
    home, port = tmp_path_factory.mktemp("airflow-service-home"), free_port()
    status = service(home, caller, "up", port=port)
    try:
        yield home, port, status
    finally:
        service(home, caller, "down")


def test_up_starts_four_healthy_components_each_its_own_group_on_localhost(up):
    home, port, status = up
    assert status["healthy"] is True and status["url"] == f"http://127.0.0.1:{port}"
    assert [c["name"] for c in status["components"]] == COMPONENTS
    for row in status["components"]:
        assert row["health"] == "healthy", row
        assert row["pgid"] == row["pid"] and group_alive(row["pgid"]), row
        assert row["port"] == (port if row["name"] == "api-server" else None), row
        assert Path(row["log"]).parent == home / "service" / "logs"
    assert len({c["pgid"] for c in status["components"]}) == 4
    # 0100007F is 127.0.0.1: the api-server listens there and nothing listens anywhere else.
    sockets = set().union(*(listening(c["pgid"]) for c in status["components"]))
    assert sockets == {f"0100007F:{port}"}


def test_status_gives_the_login_and_the_settings_applied(up):
    home, port, _ = up
    info = service(home, os.environ.copy(), "status")["info"]  # no --port: the record's
    token = HttpClient(info["url"]).post("/auth/token", {"username": info["username"],
                                                         "password": info["password"]})
    api = HttpClient(info["url"], headers={"Authorization": f"Bearer {token['access_token']}"})
    assert {d["dag_id"] for d in api.get("/api/v2/dags")["dags"]} == set(PIPELINES)
    settings = info["settings"]
    assert settings["AIRFLOW__CORE__PARALLELISM"] == "3"  # the caller's, over the default
    assert settings["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert settings["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{home / 'airflow.db'}"
    assert settings["AIRFLOW__API_AUTH__JWT_SECRET"] == "***"


def test_kill_crashes_the_scheduler_and_nothing_else(up, caller):
    home, _, before = up
    after = rows(service(home, caller, "kill", "scheduler"))
    assert after["scheduler"]["health"] == "down"
    assert not group_alive(rows(before)["scheduler"]["pgid"])
    for name in ("api-server", "dag-processor", "triggerer"):
        assert after[name]["health"] == "healthy", after[name]
        assert after[name]["pid"] == rows(before)[name]["pid"]


def test_restart_brings_the_scheduler_back_with_the_recorded_settings(up, caller):
    home, _, before = up
    # From a shell that knows none of the settings ``up`` had: they are replayed.
    bare = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WORKBENCH_"))}
    after = rows(service(home, bare, "restart", "scheduler"))
    assert [row["health"] for row in after.values()] == ["healthy"] * 4
    scheduler = after["scheduler"]
    assert scheduler["pid"] != rows(before)["scheduler"]["pid"]
    env = environ(scheduler["pid"])
    assert env["AIRFLOW__CORE__PARALLELISM"] == "3"
    assert env["WORKBENCH_STATE_DIR"] == caller["WORKBENCH_STATE_DIR"]
    assert env["AIRFLOW_HOME"] == str(home)


def test_down_leaves_nothing_running(up, caller):
    home, port, _ = up
    groups = [c["pgid"] for c in service(home, caller, "status")["components"]]
    status = service(home, caller, "down")
    assert [c["health"] for c in status["components"]] == ["down"] * 4
    assert not any(group_alive(g) for g in groups)
    assert not port_open(port)
