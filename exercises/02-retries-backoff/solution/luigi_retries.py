"""The spec's retry policy in Luigi's terms, and the delays Luigi really waits."""

from __future__ import annotations

from pipelines_core.spec import RetryPolicy


def retry_settings(policy: RetryPolicy) -> dict[str, float]:
    """Luigi's ``retry_count`` counts attempts (failures before the task is disabled), so it
    is retries + 1; ``retry_delay`` is one fixed delay for the whole scheduler."""
    return {"retry_count": policy.retries + 1, "retry_delay": policy.base_delay_s}


def luigi_delays(policy: RetryPolicy) -> list[float]:
    """Luigi has no backoff, no ceiling and no jitter: every retry waits ``retry_delay``."""
    return [policy.base_delay_s] * policy.retries
