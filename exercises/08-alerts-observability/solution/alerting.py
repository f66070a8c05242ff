"""Receive the workbench's alerts on a webhook, and read attempts and retry delays back from
the run ledger, as the benchmark's observability probes do."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from pipelines_core.ledger import AttemptRecord


def start_receiver() -> tuple[str, list[dict[str, Any]], Callable[[], None]]:
    """Start an HTTP server on 127.0.0.1 (a free port) that stores every JSON body POSTed to
    it. Return ``(url, received, stop)``."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:  # keep the console quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return f"http://127.0.0.1:{server.server_address[1]}/alerts", received, stop


def attempts_per_task(records: list[AttemptRecord]) -> dict[str, int]:
    """How many attempts each task made: ``{record.task_key: count}``."""
    counts: dict[str, int] = defaultdict(int)
    for r in records:
        counts[r.task_key] += 1
    return dict(counts)


def retry_delays(records: list[AttemptRecord]) -> dict[str, list[float]]:
    """For each task that was retried, the seconds between the end of one attempt and the
    start of the next, in order."""
    by_task: dict[str, list[AttemptRecord]] = defaultdict(list)
    for r in records:
        by_task[r.task_key].append(r)
    out = {}
    for key, recs in by_task.items():
        recs.sort(key=lambda r: r.start)
        gaps = [(datetime.fromisoformat(b.start) - datetime.fromisoformat(a.end)).total_seconds()
                for a, b in zip(recs, recs[1:]) if a.end]
        if gaps:
            out[key] = gaps
    return out
