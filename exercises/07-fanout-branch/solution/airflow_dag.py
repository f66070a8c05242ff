"""The middle of customer_daily_etl in Airflow 3: fan out per region, fan in, then branch to
the monthly or the daily report, and join."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import TriggerRule, dag, get_current_context, task

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

    @task(map_index_template="{{ region }}")
    def gold_region_aggregates(region: str, checked: dict) -> dict:
        get_current_context()["region"] = region  # names the mapped instance in the UI
        return run("gold_region_aggregates", region=region)

    @task
    def gold_summary(per_region: list[dict]) -> dict:
        return run("gold_summary")

    @task.branch
    def choose_report(summary: dict) -> str:
        return run("choose_report")["next_step"]

    @task
    def monthly_report() -> dict:
        return run("monthly_report")

    @task
    def daily_report() -> dict:
        return run("daily_report")

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def notify() -> dict:
        return run("notify")

    per_region = gold_region_aggregates.partial(checked=quality_gate()).expand(region=regions())
    choice = choose_report(gold_summary(per_region))
    reports = [monthly_report(), daily_report()]
    choice >> reports
    reports >> notify()


exercise_fanout_branch()
