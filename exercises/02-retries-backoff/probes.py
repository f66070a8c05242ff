"""Facts about the learner's retry settings, each in its orchestrator's own environment:
``python probes.py <orchestrator> <work>...``."""

import sys

from course_kit.exercises import probe_main, work_imports
from pipelines_core.spec import RetryPolicy

# a policy whose ceiling matters: 2, 6, then 18 and 54 capped at 10
POLICY = RetryPolicy(retries=4, base_delay_s=2.0, backoff_factor=3.0, max_delay_s=10.0,
                     timeout_s=60.0)


def airflow(work):
    from datetime import datetime, timezone

    from airflow.sdk import DAG, task

    with work_imports(work) as load:
        args = load("airflow_retries").retry_args(POLICY)
    with DAG("exercise_retries", schedule=None,
             start_date=datetime(2026, 10, 1, tzinfo=timezone.utc)):
        op = task(task_id="flaky", **args)(lambda: None)().operator
    seconds = lambda v: v.total_seconds() if v is not None else None  # noqa: E731
    return {"retries": op.retries, "retry_delay": seconds(op.retry_delay),
            "factor": float(op.retry_exponential_backoff or 0),
            "max_delay": seconds(op.max_retry_delay),
            "timeout": seconds(op.execution_timeout)}


def prefect(work):
    from prefect import task

    with work_imports(work) as load:
        opts = load("prefect_retries").retry_options(POLICY)
    t = task(name="flaky", **opts)(lambda: None)
    delays = t.retry_delay_seconds
    return {"retries": t.retries,
            "delays": list(delays) if isinstance(delays, (list, tuple)) else repr(delays),
            "jitter": t.retry_jitter_factor, "timeout": t.timeout_seconds}


def dagster(work):
    from dagster import Backoff

    with work_imports(work) as load:
        mod = load("dagster_retries")
        rp = mod.retry_policy(POLICY)
        claimed = [float(d) for d in mod.dagster_delays(POLICY)]
    real = ([float(rp.calculate_delay(n)) for n in range(1, rp.max_retries + 1)]
            if rp.jitter is None else None)
    return {"max_retries": rp.max_retries, "delay": rp.delay,
            "exponential": rp.backoff is Backoff.EXPONENTIAL, "jitter": str(rp.jitter),
            "real": real, "claimed": claimed}


def luigi(work):
    import luigi as lg

    with work_imports(work) as load:
        mod = load("luigi_retries")
        settings = mod.retry_settings(POLICY)
        claimed = [float(d) for d in mod.luigi_delays(POLICY)]
    task_cls = type("flaky", (lg.Task,), {"retry_count": settings["retry_count"]})
    return {"retry_count": task_cls().retry_count, "retry_delay": settings["retry_delay"],
            "claimed": claimed}


if __name__ == "__main__":
    probe = globals()[sys.argv.pop(1)]
    probe_main(probe)
