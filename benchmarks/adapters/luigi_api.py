"""Reading what Luigi itself recorded: luigid's JSON API, its task history and ``/metrics``.

The benchmark runs in the root environment, without Luigi, so this reads luigid the way any
client would:

- ``/api/<method>?data=<json>``: luigid's RPC API (``task_list``, ``fetch_error``,
  ``get_task_status_message``, ``re_enable_task``...), the scheduler's live view: states of
  the tasks it still holds.
- luigid's own store of its task history, written with ``[scheduler] record_task_history``
  (SQLAlchemy: a SQLite file on the default profile, the ``luigi`` database on the
  workbench's PostgreSQL on the production profile): one ``tasks`` row per task and its ``task_events`` (PENDING,
  RUNNING, FAILED, DONE) with timestamps. luigid serves it only as HTML pages
  (``/history``), so the history is read from that store, read-only.
- ``/metrics``: the Prometheus collector's counters per task family and date.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipelines_core.http import HttpClient
from pipelines_core.postgres import pg_bin


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
        # a SQLite file, or a postgresql:// URL (kept as text)
        self.history_db: Path | str | None = (
            history_db if isinstance(history_db, str) and "://" in history_db
            else Path(history_db) if history_db else None)
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
        tasks = self._select("SELECT id, task_id, name, host FROM tasks WHERE name LIKE {} "
                             "ORDER BY id", family_prefix + "%")
        if not tasks:
            return []
        ids = ", ".join(str(int(t[0])) for t in tasks)
        pars: dict[int, dict[str, str]] = {}
        for tid, name, value in self._select(
                f"SELECT task_id, name, value FROM task_parameters WHERE task_id IN ({ids})"):
            pars.setdefault(int(tid), {})[name] = value
        events: dict[int, list[tuple[str, datetime]]] = {}
        for tid, event, ts in self._select(
                f"SELECT task_id, event_name, ts FROM task_events WHERE task_id IN ({ids}) "
                "ORDER BY ts, id"):
            events.setdefault(int(tid), []).append((event, _utc(str(ts))))
        out = []
        for rid, task_id, name, host in tasks:
            mine = pars.get(int(rid), {})
            if all(mine.get(k) == v for k, v in params.items()):
                out.append(HistoryTask(int(rid), task_id, name, mine, host,
                                       events.get(int(rid), [])))
        return out

    def _select(self, sql: str, *args: str) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (``{}`` marks a text argument) from the history store, read-only:
        a SQLite file, or a Postgres database (a ``postgresql://`` URL) through ``psql``.
        Nothing when the store does not exist yet."""
        if isinstance(self.history_db, str):
            quoted = ["'" + a.replace("'", "''") + "'" for a in args]
            out = subprocess.run(
                [str(pg_bin() / "psql"), "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                 "-c", "SET default_transaction_read_only = on; " + sql.format(*quoted),
                 self.history_db], capture_output=True, text=True, timeout=60)
            if out.returncode != 0:
                if "does not exist" in out.stderr:  # luigid creates its tables lazily
                    return []
                raise RuntimeError(f"psql on luigid's task history: {out.stderr.strip()}")
            return [tuple(line.split("\t")) for line in out.stdout.splitlines()
                    if line and line != "SET"]
        if self.history_db is None or not self.history_db.exists():
            return []
        con = sqlite3.connect(f"file:{self.history_db}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql.format(*["?"] * len(args)), args).fetchall()
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
