"""The alert sink: every orchestrator's failure callback ends here.

Alerts are appended to ``<state_dir>/alerts.jsonl`` (one JSON object a line, under a lock) and,
when ``alert_webhook`` is set, POSTed there as JSON; a webhook failure is recorded in the
alert itself, never raised, so alerting cannot mask the failure it reports.
"""

from __future__ import annotations

import fcntl
import json
import os
from typing import Any

from pipelines_core.config import WorkbenchConfig
from pipelines_core.http import HttpClient, HttpError
from pipelines_core.ledger import utcnow


def send_alert(config: WorkbenchConfig, *, pipeline: str, date: str, step: str | None,
               error: str, orchestrator: str | None = None, kind: str = "failure",
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record one alert and deliver it to the webhook if configured; returns the alert."""
    alert = {
        "time": utcnow().isoformat(), "kind": kind, "pipeline": pipeline, "date": date,
        "step": step, "error": error, "namespace": config.namespace,
        "orchestrator": orchestrator or config.orchestrator, **(extra or {}),
    }
    if config.alert_webhook:
        alert["webhook"] = _post(config.alert_webhook, alert)
    path = config.alerts_path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, (json.dumps(alert, sort_keys=True, default=str) + "\n").encode())
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    return alert


def _post(url: str, payload: dict[str, Any]) -> str:
    try:
        HttpClient(url, timeout_s=5, tries=1).post("", payload, raw=True)
        return "delivered"
    except HttpError as exc:  # any delivery failure is reported, not raised
        return f"not delivered: {exc}"


def read_alerts(config: WorkbenchConfig, **match: Any) -> list[dict[str, Any]]:
    """Alerts recorded so far, filtered by equal fields."""
    path = config.alerts_path
    if not path.exists():
        return []
    alerts = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [a for a in alerts if all(a.get(k) == v for k, v in match.items())]
