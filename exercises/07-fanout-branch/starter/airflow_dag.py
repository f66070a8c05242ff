"""The middle of customer_daily_etl in Airflow 3: fan out per region, fan in, then branch to
the monthly or the daily report, and join."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import TriggerRule, dag, get_current_context, task  # noqa: F401

from pipelines_core.runtime import run_step
from pipelines_core.steps.etl import regions

PIPELINE = "customer_daily_etl"


def run(step: str, region: str | None = None, **inputs) -> dict:
    """One attempt of a core step for this run's logical date."""
    context = get_current_context()
    return run_step(PIPELINE, step, context["logical_date"].date(),
                    attempt=context["ti"].try_number, map_key=region, inputs=inputs,
                    orchestrator="airflow")


@dag(dag_id="exercise_fanout_branch", schedule="0 2 * * *", catchup=False,
     start_date=datetime(2026, 10, 1, tzinfo=timezone.utc), tags=["exercise"])
def exercise_fanout_branch():
    @task
    def quality_gate() -> dict:
        return run("quality_gate")

    # TODO 1: one mapped task instance per region (dynamic task mapping), not a loop.
    @task
    def gold_region_aggregates(checked: dict) -> list[dict]:
        return [run("gold_region_aggregates", region=r) for r in regions()]

    @task
    def gold_summary(per_region: list[dict]) -> dict:
        return run("gold_summary")

    # TODO 2: a branch: return the task id the core's result names in "next_step", so only
    # that report runs and the other one is skipped.
    @task
    def choose_report(summary: dict) -> dict:
        return run("choose_report")

    @task
    def monthly_report() -> dict:
        return run("monthly_report")

    @task
    def daily_report() -> dict:
        return run("daily_report")

    # TODO 3: notify must run after whichever report ran (the other one is skipped).
    @task
    def notify() -> dict:
        return run("notify")

    choice = choose_report(gold_summary(gold_region_aggregates(quality_gate())))
    reports = [monthly_report(), daily_report()]
    choice >> reports
    reports >> notify()


exercise_fanout_branch()
