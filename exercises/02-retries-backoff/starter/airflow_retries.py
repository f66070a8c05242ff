"""The spec's retry policy as Airflow 3 task arguments."""

from __future__ import annotations

from datetime import timedelta  # noqa: F401
from typing import Any

from pipelines_core.spec import RetryPolicy


def retry_args(policy: RetryPolicy) -> dict[str, Any]:
    """Keyword arguments for ``@task(...)`` (or ``default_args``): retries, the first delay,
    the backoff multiplier, the ceiling and the per-attempt timeout.

    TODO: only the count is set; every retry waits Airflow's default 300 s, forever.
    """
    return {"retries": policy.retries}
