"""``python -m workbench_prefect.service up|down|status|kill C|restart C``: Prefect's server and
a process worker over one ``PREFECT_HOME``, started as Prefect's docs start them, with both
flows deployed on the worker's pool.

Components, in start order: ``server`` (``prefect server start``; healthy when ``/api/health``
answers) and ``worker`` (``prefect worker start --pool workbench-process --type process``;
healthy when the pool lists it ONLINE with a heartbeat sent since it started). ``up`` deploys
both flows once both are healthy (``python -m workbench_prefect deploy``); the worker creates
its pool when it does not exist yet, so it needs nothing deployed to start.

Plain Python (no Prefect import), so ``status`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines_core.http import HttpClient
from pipelines_core.service import (GENERATED, Component, Service, ServiceError, env_file,
                                    hide_password, main)

from workbench_prefect import IMPL_DIR, ORCHESTRATOR, POOL

PREFECT = str(Path(sys.executable).with_name("prefect"))

#: Prefect settings every process of the workbench gets, besides its home and API URL,
#: natively and in the compose stack (``docker/prefect/prefect.env`` is written from them).
SETTINGS = {
    "PREFECT_SERVER_METRICS_ENABLED": "true",  # Prometheus metrics at /api/metrics
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    # The core's `workbench` logger is shipped to Prefect's run logs.
    "PREFECT_LOGGING_EXTRA_LOGGERS": "workbench",
    # A run held back by a concurrency limit is looked at again after this many seconds
    # (default 30), and the worker polls for runs this often (default 10): shorter, so a
    # bounded backfill does not idle between runs.
    "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "5",
    "PREFECT_WORKER_QUERY_SECONDS": "2",
}
WORKER_PREFETCH_S = 5

#: Prefect 3.8's crash detection. Flow runs send a heartbeat event every
#: ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds (default 180, at least 30), but a self-hosted
#: server acts on a missing one only through an automation, which it does not have by
#: default: a run whose process died stays Running. ``--detection tuned`` does what Prefect's
#: docs ("Detect zombie flows") say: heartbeats every 30 s and their automation, which marks
#: a flow run Crashed 90 s after its last heartbeat when no heartbeat or end state came.
ZOMBIE_AUTOMATION = "Crash zombie flows"
ZOMBIE_WITHIN_S = 90
DETECTION_DEFAULTS = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "180",
                      "automation": "none (a silent run stays Running)"}
DETECTION_TUNED = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
                   "automation": f"'{ZOMBIE_AUTOMATION}': Crashed {ZOMBIE_WITHIN_S} s after "
                                 f"the last heartbeat"}


def zombie_automation() -> dict[str, Any]:
    """The docs' "Crash zombie flows" automation, as the REST API takes it."""
    return {
        "name": ZOMBIE_AUTOMATION,
        "description": "Marks a flow run Crashed when its heartbeats stop.",
        "enabled": True,
        "trigger": {
            "type": "event", "posture": "Proactive",
            "after": ["prefect.flow-run.heartbeat"],
            "expect": ["prefect.flow-run.heartbeat", "prefect.flow-run.Completed",
                       "prefect.flow-run.Failed", "prefect.flow-run.Cancelled",
                       "prefect.flow-run.Crashed"],
            "match": {"prefect.resource.id": ["prefect.flow-run.*"]},
            "for_each": ["prefect.resource.id"], "threshold": 1, "within": ZOMBIE_WITHIN_S},
        "actions": [{"type": "change-flow-run-state", "state": "CRASHED",
                     "message": "Flow run marked as crashed due to missing heartbeats."}],
    }
DEFAULTS = {"worker_limit": 4, "ml_trigger": True}


class PrefectService(Service):
    """``prefect server start`` and one process worker over ``<home>``: its database is SQLite
    inside the home on the default profile, Postgres on the production profile."""

    orchestrator = ORCHESTRATOR
    default_port = 4200
    port_component = "server"
    option_defaults = {**Service.option_defaults, **DEFAULTS}
    detection_defaults = DETECTION_DEFAULTS
    detection_tuned = DETECTION_TUNED

    @classmethod
    def add_options(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--worker-limit", type=int, default=None,
                            help="flow runs the worker runs at once (its --limit; default: "
                                 f"what the last `up` used, else {DEFAULTS['worker_limit']})")
        parser.add_argument("--ml-trigger", action=argparse.BooleanOptionalAction,
                            default=None,
                            help="deploy lead_scoring_mlops with its event trigger on fresh "
                                 "silver customers enabled or disabled (default: what the "
                                 "last `up` used, else enabled)")

    @property
    def worker_limit(self) -> int:
        return int(self.option("worker_limit"))

    @property
    def ml_trigger(self) -> bool:
        return bool(self.option("ml_trigger"))

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def client(self) -> HttpClient:
        """The server's REST API; a 503 (its SQLite database busy, the transaction rolled
        back) is asked again."""
        return HttpClient(self.api_url, retry_on={503}, tries=5)

    # --- settings ------------------------------------------------------------------------

    def settings(self, component: str | None = None) -> dict[str, str]:
        """Every Prefect setting ``component`` (both when None) runs with that differs from
        Prefect's default: any ``PREFECT_*`` the caller set, then the workbench's own (on the
        production profile, the server's database on the workbench's PostgreSQL)."""
        callers = {k: v for k, v in os.environ.items() if k.startswith("PREFECT_")}
        ours = {**SETTINGS, "PREFECT_HOME": str(self.home)}
        database = self.database_url("postgresql+asyncpg")
        if database and component in (None, "server"):
            ours["PREFECT_API_DATABASE_CONNECTION_URL"] = database
        if component in (None, "server"):
            # The UI asks the API at PREFECT_UI_API_URL, which follows the port setting and
            # not --port: point it at this server, or the UI shows another server's runs.
            ours["PREFECT_UI_API_URL"] = self.api_url
        if component != "server":
            ours["PREFECT_API_URL"] = self.api_url
            if self.tuned:  # the worker's flow runs send the heartbeats
                ours["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"] = \
                    DETECTION_TUNED["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"]
        return {**callers, **ours}

    def env(self, component: str | None = None) -> dict[str, str]:
        """A component's environment: the caller's, the configuration's ``WORKBENCH_*``
        variables, the Prefect settings, and this folder on the import path (the flows'
        package is not installed)."""
        path = [str(IMPL_DIR)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH")
                                  else [])
        return {**super().env(), **self.settings(component),
                "PYTHONPATH": os.pathsep.join(path)}

    def info(self) -> dict[str, Any]:
        return {"api_url": self.api_url, "work_pool": POOL, "worker_limit": self.worker_limit,
                "worker_prefetch_s": WORKER_PREFETCH_S, "ml_trigger": self.ml_trigger,
                "settings": {k: hide_password(v) for k, v in sorted(self.settings().items())}}

    @classmethod
    def compose_files(cls) -> dict[str, str]:
        return {"docker/prefect/prefect.env": env_file(SETTINGS, GENERATED.format(
            source="prefect_impl/workbench_prefect/service.py (SETTINGS)"))}

    # --- components ----------------------------------------------------------------------

    def components(self) -> list[Component]:
        return [
            Component("server", [PREFECT, "server", "start", "--host", "127.0.0.1",
                                 "--port", str(self.port)],
                      port=self.port, healthy=lambda: self.client().ok("/health"),
                      env=self.env("server"), cwd=IMPL_DIR),
            Component("worker", [PREFECT, "worker", "start", "--pool", POOL, "--type",
                                 "process", "--limit", str(self.worker_limit),
                                 "--prefetch-seconds", str(WORKER_PREFETCH_S)],
                      healthy=self.worker_online, env=self.env("worker"), cwd=IMPL_DIR,
                      ready_timeout_s=120.0),
        ]

    def worker_online(self) -> bool:
        """Whether the pool lists a worker ONLINE whose last heartbeat came after this
        worker process started (a killed worker stays ONLINE in the pool for a while)."""
        rec = self.record("worker")
        if rec is None:
            return False
        workers = self.client().request("POST", f"/work_pools/{POOL}/workers/filter", {},
                                        tries=1, timeout_s=5, idempotent=True)
        return any(w.get("status") == "ONLINE" and w.get("last_heartbeat_time")
                   and datetime.fromisoformat(w["last_heartbeat_time"]).timestamp()
                   >= rec.started - 1 for w in workers or [])

    def after_up(self) -> None:
        self.deploy()
        self.reconcile_automation()

    def reconcile_automation(self) -> None:
        """The zombie automation exists (once) when detection is tuned, and not otherwise:
        the server's database outlives a home, so a default ``up`` removes one an earlier
        tuned ``up`` made."""
        api = self.client()
        found = [a for a in api.post("/automations/filter", {}) or []
                 if a.get("name") == ZOMBIE_AUTOMATION]
        keep = found[:1] if self.tuned else []
        for automation in found:
            if automation not in keep:
                api.request("DELETE", f"/automations/{automation['id']}")
        if self.tuned and not keep:
            api.post("/automations/", zombie_automation())

    def deploy(self, timeout_s: float = 300.0) -> dict[str, str]:
        """Create (or update) the work pool and both deployments; their ids by pipeline."""
        cmd = [sys.executable, "-m", "workbench_prefect", "deploy", "--pool", POOL]
        if not self.ml_trigger:
            cmd.append("--no-ml-trigger")
        try:
            out = subprocess.run(cmd, cwd=IMPL_DIR, env=self.env("deploy"), capture_output=True,
                                 text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"prefect deploy did not finish within {timeout_s:.0f} s") from None
        if out.returncode != 0:
            raise ServiceError(f"prefect deploy failed (exit {out.returncode}):\n"
                               f"{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main(PrefectService))
