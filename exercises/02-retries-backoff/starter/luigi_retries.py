"""The spec's retry policy in Luigi's terms, and the delays Luigi really waits."""

from __future__ import annotations

from pipelines_core.spec import RetryPolicy


def retry_settings(policy: RetryPolicy) -> dict[str, float]:
    """``{"retry_count": ..., "retry_delay": ...}``: the task attribute ``retry_count`` and
    the scheduler setting ``[scheduler] retry_delay`` (seconds).

    TODO: careful, Luigi's retry_count is not a count of retries.
    """
    return {"retry_count": policy.retries, "retry_delay": policy.base_delay_s}


def luigi_delays(policy: RetryPolicy) -> list[float]:
    """The seconds Luigi waits before retry 1, 2, ... with these settings.

    TODO
    """
    return policy.delays()
