"""
### customer_daily_etl

Daily customer ETL, 02:00 UTC: wait for the bronze CDC export of the logical date (a sensor
in reschedule mode), resolve it into silver customers (which updates the `silver_customers`
Asset and so schedules `lead_scoring_mlops`), stop on a data-quality violation, aggregate gold
metrics per region (dynamic task mapping), combine them, then write the monthly report on
the 1st of a month or the daily report otherwise (branch) and notify.

Every task is named as its step in `pipelines_core.spec` and only calls
`pipelines_core.runtime.run_step`; retries, backoff, max delay and timeout come from the spec.
"""

from __future__ import annotations

from airflow.sdk import PokeReturnValue, TriggerRule, dag, get_current_context, task

from pipelines_core.config import config_for
from pipelines_core.spec import get_pipeline
from pipelines_core.steps.etl import export_partition, export_ready, regions
from workbench_airflow.common import (GOLD_SUMMARY, ORCHESTRATOR, RUN_PARAMS,
                                      SILVER_CUSTOMERS, data_date, deadline, default_args,
                                      emit_partition, publish_quality_checks, run, run_config,
                                      start_date, step_args)

SPEC = get_pipeline("customer_daily_etl")
CONFIG = config_for(ORCHESTRATOR)


@dag(
    dag_id=SPEC.name,
    description=SPEC.description,
    doc_md=__doc__,
    schedule=SPEC.schedule,
    start_date=start_date(SPEC),
    catchup=SPEC.catchup,
    max_active_runs=4,
    default_args=default_args(SPEC, CONFIG),
    params=RUN_PARAMS,
    tags=[*SPEC.tags, "workbench"],
    deadline=deadline(SPEC),
)
def customer_daily_etl():
    @task.sensor(**step_args(SPEC, "wait_for_export"), mode="reschedule",
                 poke_interval=CONFIG.sensor_poke_s, timeout=CONFIG.sensor_timeout_s)
    def wait_for_export() -> PokeReturnValue:
        context = get_current_context()
        day = data_date(context)
        if not export_ready(run_config(context), day):
            return PokeReturnValue(is_done=False)
        # Found: the step's attempt goes through the core (ledger, faults) like every other.
        run(SPEC, "wait_for_export")
        return PokeReturnValue(is_done=True, xcom_value=str(export_partition(CONFIG, day).path))

    @task(**step_args(SPEC, "ingest_cdc"), outlets=[SILVER_CUSTOMERS])
    def ingest_cdc(export: str) -> dict:
        result = run(SPEC, "ingest_cdc", inputs={"wait_for_export": export})
        # The date rides on the asset event as its partition key: the ML DAG gets one run
        # per date (asset-triggered runs have no logical date).
        emit_partition(SILVER_CUSTOMERS, get_current_context(), rows=result["rows_out"])
        return result

    @task(**step_args(SPEC, "quality_gate"))
    def quality_gate(silver: dict) -> dict:
        try:
            return run(SPEC, "quality_gate", inputs={"ingest_cdc": silver})
        finally:
            publish_quality_checks(get_current_context())

    @task(**step_args(SPEC, "gold_region_aggregates"), map_index_template="{{ region }}")
    def gold_region_aggregates(region: str, checked: dict) -> dict:
        get_current_context()["region"] = region  # names the mapped instance in the UI
        return run(SPEC, "gold_region_aggregates", map_key=region,
                   inputs={"quality_gate": checked})

    @task(**step_args(SPEC, "gold_summary"), outlets=[GOLD_SUMMARY])
    def gold_summary(per_region: list[dict]) -> dict:
        result = run(SPEC, "gold_summary", inputs={"gold_region_aggregates": list(per_region)})
        emit_partition(GOLD_SUMMARY, get_current_context(), rows=result["rows_out"],
                       outputs=result["outputs"])
        return result

    @task.branch(**step_args(SPEC, "choose_report"))
    def choose_report(summary: dict) -> str:
        result = run(SPEC, "choose_report", inputs={"gold_summary": summary})
        get_current_context()["ti"].xcom_push(key="step_result", value=result)
        return result["next_step"]

    @task(**step_args(SPEC, "monthly_report"))
    def monthly_report() -> dict:
        return run(SPEC, "monthly_report")

    @task(**step_args(SPEC, "daily_report"))
    def daily_report() -> dict:
        return run(SPEC, "daily_report")

    # The join runs after whichever report ran; the other one is skipped, not failed.
    @task(**step_args(SPEC, "notify"), trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def notify() -> dict:
        return run(SPEC, "notify")

    checked = quality_gate(ingest_cdc(wait_for_export()))
    per_region = gold_region_aggregates.partial(checked=checked).expand(region=regions())
    branch = choose_report(gold_summary(per_region))
    reports = [monthly_report(), daily_report()]
    branch >> reports
    reports >> notify()


customer_daily_etl()
