"""The spec's retry policy as Airflow 3 task arguments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pipelines_core.spec import RetryPolicy


def retry_args(policy: RetryPolicy) -> dict[str, Any]:
    """Keyword arguments for ``@task(...)`` (or ``default_args``).

    Since Airflow 3.2 ``retry_exponential_backoff`` takes the multiplier itself; Airflow
    adds a deterministic jitter of up to one more delay, then applies ``max_retry_delay``.
    """
    return {"retries": policy.retries,
            "retry_delay": timedelta(seconds=policy.base_delay_s),
            "retry_exponential_backoff": policy.backoff_factor,
            "max_retry_delay": timedelta(seconds=policy.max_delay_s),
            "execution_timeout": timedelta(seconds=policy.timeout_s)}
