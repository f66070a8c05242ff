"""Receive the workbench's alerts on a webhook, and read attempts and retry delays back from
the run ledger, as the benchmark's observability probes do."""

from __future__ import annotations

from typing import Any, Callable

from pipelines_core.ledger import AttemptRecord


def start_receiver() -> tuple[str, list[dict[str, Any]], Callable[[], None]]:
    """Start an HTTP server on 127.0.0.1 (a free port) that stores every JSON body POSTed to
    it. Return ``(url, received, stop)``: the URL to set as ``alert_webhook``, the list the
    bodies land in (as dicts), and a function that stops the server.

    TODO: use ``http.server`` (``ThreadingHTTPServer`` on port 0) in a background thread.
    """
    raise NotImplementedError("start_receiver is not written yet")


def attempts_per_task(records: list[AttemptRecord]) -> dict[str, int]:
    """How many attempts each task made: ``{record.task_key: count}`` (a mapped step counts
    per region, ``gold_region_aggregates[emea]``).

    TODO
    """
    return {}


def retry_delays(records: list[AttemptRecord]) -> dict[str, list[float]]:
    """For each task that was retried, the seconds between the end of one attempt and the
    start of the next, in order: ``{task_key: [d1, d2, ...]}``. Tasks never retried are left
    out. (``start`` and ``end`` are ISO timestamps.)

    TODO
    """
    return {}
