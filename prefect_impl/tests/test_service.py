"""The service command, as `make ui` and the benchmark run it: ``python -m
workbench_prefect.service`` starts Prefect's server and a process worker in their own process
groups, reports each one, kills one without touching the other, restarts it, and stops both."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pipelines_core.http import HttpClient
from pipelines_core.procs import free_port, group_members, pid_alive, port_open

from workbench_prefect import IMPL_DIR


def service(home, port, *action: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "workbench_prefect.service", "--home", str(home),
                          "--port", str(port), "--json", "--worker-limit", "2",
                          "--no-ml-trigger", *action],
                         cwd=IMPL_DIR, capture_output=True, text=True, timeout=600,
                         env={k: v for k, v in os.environ.items()
                              if not k.startswith("PREFECT_")})
    assert out.returncode == 0 or action[0] in ("kill", "status"), out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def components(status: dict) -> dict[str, dict]:
    return {c["name"]: c for c in status["components"]}


def test_up_status_kill_restart_down(tmp_path):
    home, port = tmp_path / "prefect_home", free_port()
    try:
        up = service(home, port, "up")
        assert up["healthy"] is True and up["url"] == f"http://127.0.0.1:{port}"
        status = service(home, port, "status")
        parts = components(status)
        assert list(parts) == ["server", "worker"]
        for part in parts.values():
            assert part["health"] == "healthy"
            assert part["pgid"] == part["pid"] and pid_alive(part["pid"])
        assert parts["server"]["port"] == port and port_open(port)
        assert status["info"]["worker_limit"] == 2 and status["info"]["ml_trigger"] is False
        settings = status["info"]["settings"]
        assert settings["PREFECT_HOME"] == str(home)
        assert settings["PREFECT_SERVER_METRICS_ENABLED"] == "true"
        assert settings["PREFECT_API_URL"] == f"http://127.0.0.1:{port}/api"
        deployments = HttpClient(status["info"]["api_url"]).post("/deployments/filter", {})
        assert sorted((d["name"], d["work_pool_name"]) for d in deployments) == [
            ("daily", "workbench-process")] * 2

        killed = components(service(home, port, "kill", "worker"))
        assert killed["worker"]["health"] == "down"
        assert group_members(parts["worker"]["pgid"]) == []
        assert killed["server"]["health"] == "healthy"
        assert killed["server"]["pid"] == parts["server"]["pid"]

        restarted = service(home, port, "restart", "worker")
        again = components(restarted)
        assert restarted["healthy"] is True
        assert again["worker"]["health"] == "healthy"
        assert again["worker"]["pid"] != parts["worker"]["pid"]
        assert again["server"]["pid"] == parts["server"]["pid"]
    finally:
        down = service(home, port, "down")
    assert [c["health"] for c in down["components"]] == ["down", "down"]
    for part in parts.values():
        assert group_members(part["pgid"]) == []
    assert not port_open(port)
    assert not [p for p in ("server", "worker") if (home / "service" / f"{p}.json").exists()]


def test_run_and_backfill_refuse_a_date_out_of_range_before_any_run(tmp_path):
    """One error line and exit 2, with no server to ask: nothing was created."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{free_port()}/api"  # nothing listens there
    for args, says in [
        (["run", "--pipeline", "customer_daily_etl", "--date", "2026-09-30"],
         "error: 2026-09-30 is before the start date of customer_daily_etl (2026-10-01): "
         "it has no run for that date"),
        (["backfill", "--pipeline", "lead_scoring_mlops", "--start", "2026-09-29",
          "--end", "2026-10-02"], "error: 2026-09-29 is before the start date of "
                                  "lead_scoring_mlops"),
        (["run", "--pipeline", "customer_daily_etl", "--date", "2026-10-x"],
         "error: '2026-10-x' is not a date (YYYY-MM-DD)"),
    ]:
        out = subprocess.run([sys.executable, "-m", "workbench_prefect", *args], cwd=IMPL_DIR,
                             capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == 2 and out.stderr.startswith(says), out.stderr[-2000:]
        assert len(out.stderr.strip().splitlines()) == 1 and out.stdout == ""
