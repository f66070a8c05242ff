"""``python -m workbench_luigi.service``: luigid up, inspected, crashed, restarted and stopped
through the command line, as the benchmark and ``make ui`` drive it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipelines_core.procs import free_port, group_alive, port_open

from conftest import IMPL_ROOT, clean_env, scheduler

pytestmark = pytest.mark.luigid


@pytest.fixture
def service(workbench_env, tmp_path):
    home, port = tmp_path / "luigi-home", free_port()

    def run(*args: str) -> dict:
        proc = subprocess.run([sys.executable, "-m", "workbench_luigi.service", "--home",
                               str(home), "--json", *args], cwd=IMPL_ROOT,
                              env=clean_env(workbench_env), capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    run.home, run.port = home, port
    try:
        yield run
    finally:
        run("down")


def luigid(status: dict) -> dict:
    [row] = status["components"]
    assert row["name"] == "luigid"
    return row


def test_up_status_kill_restart_down(service):
    up = service("--port", str(service.port), "up")
    assert up["healthy"] and up["url"] == f"http://127.0.0.1:{service.port}"
    status = service("status")  # finds the port luigid was started on
    row = luigid(status)
    assert row["health"] == "healthy" and row["port"] == service.port
    assert row["pid"] == row["pgid"] and group_alive(row["pgid"])
    assert status["info"]["settings"]["scheduler.retry_delay"] == "1"
    assert status["info"]["settings"]["scheduler.record_task_history"] == "true"
    assert "scheduler.disable_window" not in status["info"]["settings"]  # Luigi's default
    assert (service.home / "luigi.cfg").exists()
    assert scheduler(up["url"]).task_list("", "") == {}  # its API answers

    killed = luigid(service("kill", "luigid"))
    assert killed["health"] == "down" and killed["pid"] == row["pid"]
    assert not group_alive(row["pgid"]) and not port_open(service.port)

    back = luigid(service("restart", "luigid"))
    assert back["health"] == "healthy" and back["port"] == service.port
    assert back["pid"] != row["pid"]
    assert scheduler(up["url"]).task_list("", "") == {}

    down = luigid(service("down"))
    assert down["health"] == "down" and down["pid"] is None
    assert not group_alive(back["pgid"]) and not port_open(service.port)


def test_fresh_state_forgets_what_luigid_saved(service):
    """luigid saves its state at a clean stop and loads it at start; ``--fresh-state``
    deletes it first (the task history is kept)."""
    url = f"http://127.0.0.1:{service.port}"

    def tasks() -> set[str]:
        return set(scheduler(url).task_list("", ""))

    service("--port", str(service.port), "up")
    scheduler(url).add_task(worker="test", task_id="kept_task", status="PENDING")
    assert tasks() == {"kept_task"}
    service("down")
    assert (service.home / "luigid-state.pickle").exists()

    service("--port", str(service.port), "up")
    assert tasks() == {"kept_task"}
    service("down")

    fresh = service("--port", str(service.port), "--fresh-state", "up")
    assert fresh["info"]["fresh_state"] is True
    assert tasks() == set()
