"""Reading what Luigi itself recorded: luigid's JSON API, its task history and ``/metrics``.

The benchmark runs in the root environment, without Luigi, so this reads luigid the way any
client would:

- ``/api/<method>?data=<json>``: luigid's RPC API (``task_list``, ``fetch_error``,
  ``get_task_status_message``, ``re_enable_task``...), the scheduler's live view: states of
  the tasks it still holds.
- luigid's own store of its task history, written with ``[scheduler] record_task_history``
  (SQLAlchemy, here SQLite): one ``tasks`` row per task and its ``task_events`` (PENDING,
  RUNNING, FAILED, DONE) with timestamps. luigid serves it only as HTML pages
  (``/history``), so the history is read from that store, read-only.
- ``/metrics``: the Prometheus collector's counters per task family and date.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipelines_core.http import HttpClient


@dataclass
class HistoryAttempt:
    """One attempt as luigid's history shows it: a RUNNING event and the event that ended it."""

    number: int
    state: str  # success | failed | running
    start: datetime
    end: datetime | None = None

    @property
    def duration_s(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.end else None


@dataclass
class HistoryTask:
    """One task of luigid's history with its events, oldest first."""

    record_id: int
    task_id: str
    family: str
    params: dict[str, str]
    host: str | None
    events: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return self.family.rpartition(".")[0]

    @property
    def step(self) -> str:
        return self.family.rpartition(".")[2]

    def attempts(self, since: datetime | None = None) -> list[HistoryAttempt]:
        """Attempts: each RUNNING event opens one, the next FAILED or DONE closes it.

        A DONE without a RUNNING before it is a task found already complete, not an attempt.
        A RUNNING followed by PENDING stays ``running`` here: either the task yielded dynamic
        dependencies (the worker's log says so) or its worker died.
        """
        out: list[HistoryAttempt] = []
        current: HistoryAttempt | None = None
        for name, ts in self.events:
            if since and ts < since:
                continue
            if name == "RUNNING":
                current = HistoryAttempt(len(out) + 1, "running", ts)
                out.append(current)
            elif name in ("FAILED", "DONE") and current is not None:
                current.state = "success" if name == "DONE" else "failed"
                current.end = ts
                current = None
        return out


def _utc(value: str) -> datetime:
    # luigid stamps events with its local time (it runs with TZ=UTC in the workbench)
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


class LuigidClient:
    """A luigid at ``url`` (``http://127.0.0.1:8082``) and, optionally, its history database."""

    def __init__(self, url: str, history_db: Path | str | None = None, timeout_s: float = 10):
        self.url = url.rstrip("/")
        self.history_db = Path(history_db) if history_db else None
        self.http = HttpClient(self.url, timeout_s=timeout_s)

    # --- the RPC API --------------------------------------------------------------------
    def rpc(self, method: str, **args: Any) -> Any:
        """One RPC; luigid takes every call (reads and changes alike) as a GET."""
        return self.http.get(f"/api/{method}", data=json.dumps(args))["response"]

    def task_list(self, status: str = "", upstream_status: str = "",
                  search: str | None = None) -> dict[str, dict[str, Any]]:
        """The scheduler's tasks (``task_id -> state``), optionally filtered by status."""
        args: dict[str, Any] = {"status": status, "upstream_status": upstream_status}
        if search:
            args["search"] = search
        return self.rpc("task_list", **args)

    def fetch_error(self, task_id: str) -> str:
        """The last error (traceback) a worker reported for the task."""
        return self.rpc("fetch_error", task_id=task_id).get("error") or ""

    # --- /metrics -----------------------------------------------------------------------
    def metrics_text(self) -> str:
        return self.http.request("GET", "/metrics", raw=True)

    def metrics(self) -> dict[tuple[str, frozenset], float]:
        """``{(metric name, frozenset of label pairs): value}`` from ``/metrics``."""
        return parse_prometheus(self.metrics_text())

    # --- the task history store ---------------------------------------------------------
    def history(self, family_prefix: str = "", **params: str) -> list[HistoryTask]:
        """Tasks in the history whose family starts with ``family_prefix`` and whose
        parameters equal ``params`` (e.g. ``date="2026-10-01"``)."""
        if self.history_db is None or not self.history_db.exists():
            return []
        con = sqlite3.connect(f"file:{self.history_db}?mode=ro", uri=True, timeout=10)
        try:
            rows = con.execute("SELECT id, task_id, name, host FROM tasks WHERE name LIKE ? "
                               "ORDER BY id", (family_prefix + "%",)).fetchall()
            tasks = []
            for rid, task_id, name, host in rows:
                pars = dict(con.execute("SELECT name, value FROM task_parameters "
                                        "WHERE task_id = ?", (rid,)).fetchall())
                if any(pars.get(k) != v for k, v in params.items()):
                    continue
                events = [(e, _utc(ts)) for e, ts in con.execute(
                    "SELECT event_name, ts FROM task_events WHERE task_id = ? "
                    "ORDER BY ts, id", (rid,)).fetchall()]
                tasks.append(HistoryTask(rid, task_id, name, pars, host, events))
            return tasks
        finally:
            con.close()


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line.strip())
        if match:
            labels = frozenset(_LABEL.findall(match.group(2) or ""))
            out[(match.group(1), labels)] = float(match.group(3))
    return out
