"""The spec's retry policy as a Dagster RetryPolicy, and the delays Dagster really waits."""

from __future__ import annotations

from dagster import Backoff, RetryPolicy

from pipelines_core.spec import RetryPolicy as SpecRetryPolicy


def retry_policy(policy: SpecRetryPolicy) -> RetryPolicy:
    """The closest Dagster ``RetryPolicy``: count, base delay, exponential backoff, no jitter.

    Dagster has no backoff factor and no ceiling: those parts of the spec are not expressible.
    """
    return RetryPolicy(max_retries=policy.retries, delay=policy.base_delay_s,
                       backoff=Backoff.EXPONENTIAL)


def dagster_delays(policy: SpecRetryPolicy) -> list[float]:
    """Dagster's exponential backoff waits ``(2**n - 1) * delay`` before retry ``n``."""
    return [(2 ** n - 1) * policy.base_delay_s for n in range(1, policy.retries + 1)]
