"""The spec's retry policy as Prefect 3 task options."""

from __future__ import annotations

from typing import Any

from pipelines_core.spec import RetryPolicy


def retry_options(policy: RetryPolicy) -> dict[str, Any]:
    """Keyword arguments for ``@task(...)``.

    Prefect's ``exponential_backoff`` has no ceiling, so pass the spec's own capped delays as
    an explicit list; the spec asks for no jitter.
    """
    return {"retries": policy.retries,
            "retry_delay_seconds": policy.delays(),
            "retry_jitter_factor": None,
            "timeout_seconds": policy.timeout_s}
