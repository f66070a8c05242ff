"""The spec's retry policy as a Dagster RetryPolicy, and the delays Dagster really waits."""

from __future__ import annotations

from dagster import Backoff, RetryPolicy  # noqa: F401

from pipelines_core.spec import RetryPolicy as SpecRetryPolicy


def retry_policy(policy: SpecRetryPolicy) -> RetryPolicy:
    """The closest Dagster ``RetryPolicy``: count, base delay, exponential backoff, no jitter.

    TODO
    """
    return RetryPolicy(max_retries=policy.retries)


def dagster_delays(policy: SpecRetryPolicy) -> list[float]:
    """The seconds Dagster waits before retry 1, 2, ... with ``retry_policy(policy)``.
    Read Dagster's formula; it is not the spec's.

    TODO
    """
    return policy.delays()
