"""The run ledger: one record per step attempt, the ground truth every orchestrator is checked against.

The file is JSON lines, append-only. An attempt writes a ``start`` event when it begins and an
``end`` event when it finishes, both carrying the attempt's id; ``read_attempts`` folds them
into one record per attempt, so an attempt whose process was killed still shows (status
``lost``). Each event is one ``write`` under an exclusive ``flock``, so writers in separate
processes never interleave lines.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class AttemptRecord:
    """One attempt of one step, as the ledger saw it."""

    attempt_id: str
    pipeline: str
    step: str
    date: str
    namespace: str
    orchestrator: str
    attempt: int
    pid: int
    start: str
    end: str | None = None
    status: str = "running"
    error: str | None = None
    rows: int | None = None
    map_key: str | None = None
    host: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        if self.end is None:
            return None
        return (datetime.fromisoformat(self.end) - datetime.fromisoformat(self.start)).total_seconds()

    @property
    def task_key(self) -> str:
        """The step plus its fan-out key: what an orchestrator calls one task."""
        return f"{self.step}[{self.map_key}]" if self.map_key else self.step

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["duration_s"] = self.duration_s
        return d


class Ledger:
    """Append-only JSON-lines ledger shared by every process of the workbench."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _append(self, event: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(event, sort_keys=True, default=str) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def start(self, *, pipeline: str, step: str, date: str, namespace: str,
              orchestrator: str, attempt: int, map_key: str | None = None) -> AttemptRecord:
        """Record that an attempt began; returns the record to hand to ``finish``."""
        rec = AttemptRecord(
            attempt_id=uuid.uuid4().hex, pipeline=pipeline, step=step, date=date,
            namespace=namespace, orchestrator=orchestrator, attempt=attempt, pid=os.getpid(),
            start=utcnow().isoformat(), map_key=map_key, host=socket.gethostname(),
        )
        self._append({"event": "start", **asdict(rec)})
        return rec

    def finish(self, rec: AttemptRecord, *, status: str, error: str | None = None,
               rows: int | None = None, metrics: dict[str, Any] | None = None) -> AttemptRecord:
        """Record how an attempt ended (``success``, ``failed``, ``skipped``)."""
        rec.end = utcnow().isoformat()
        rec.status = status
        rec.error = error
        rec.rows = rows
        rec.metrics = metrics or {}
        self._append({"event": "end", "attempt_id": rec.attempt_id, "end": rec.end,
                      "status": status, "error": error, "rows": rows, "metrics": rec.metrics})
        return rec

    def events(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with self.path.open() as fh:
            for line in fh:
                line = line.strip()
                if line:
                    yield json.loads(line)

    def read_attempts(self, **match: Any) -> list[AttemptRecord]:
        """One record per attempt, oldest first, filtered by equal fields (``pipeline=...``).

        An attempt that started but never ended is ``running`` while its process lives on
        this host and ``lost`` once it is gone (killed, crashed).
        """
        records: dict[str, AttemptRecord] = {}
        for ev in self.events():
            kind = ev.pop("event")
            if kind == "start":
                records[ev["attempt_id"]] = AttemptRecord(**ev)
            elif kind == "end" and ev["attempt_id"] in records:
                rec = records[ev["attempt_id"]]
                rec.end, rec.status, rec.error = ev["end"], ev["status"], ev["error"]
                rec.rows, rec.metrics = ev.get("rows"), ev.get("metrics") or {}
        out = []
        for rec in records.values():
            if rec.status == "running" and not _alive(rec.pid, rec.host):
                rec.status = "lost"
            if all(getattr(rec, k) == v for k, v in match.items()):
                out.append(rec)
        return sorted(out, key=lambda r: r.start)


def _alive(pid: int, host: str) -> bool:
    """Whether the attempt's process still runs (one on another host is assumed alive)."""
    from pipelines_core.procs import pid_alive

    return True if host and host != socket.gethostname() else pid_alive(pid)


def summarize(records: Iterable[AttemptRecord]) -> list[dict[str, Any]]:
    """Per (orchestrator, pipeline, date): attempts, failures, steps done and step time."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in records:
        g = groups.setdefault((r.orchestrator, r.pipeline, r.date), {
            "orchestrator": r.orchestrator, "pipeline": r.pipeline, "date": r.date,
            "attempts": 0, "failed": 0, "succeeded": 0, "step_s": 0.0, "rows": 0})
        g["attempts"] += 1
        g["failed"] += r.status in ("failed", "lost")
        g["succeeded"] += r.status == "success"
        g["step_s"] += r.duration_s or 0.0
        g["rows"] += r.rows or 0
    return [groups[k] for k in sorted(groups)]
