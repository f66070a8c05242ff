import pytest

from pipelines_core.errors import SpecError
from pipelines_core.spec import (CUSTOMER_DAILY_ETL, LEAD_SCORING_MLOPS, PIPELINES, PipelineSpec,
                                 RetryPolicy, StepSpec, get_pipeline)


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_shipped_pipelines_validate(name):
    PIPELINES[name].validate()


def test_etl_graph_is_the_designed_one():
    assert CUSTOMER_DAILY_ETL.edges() == {
        ("wait_for_export", "ingest_cdc"), ("ingest_cdc", "quality_gate"),
        ("quality_gate", "gold_region_aggregates"), ("gold_region_aggregates", "gold_summary"),
        ("gold_summary", "choose_report"), ("choose_report", "monthly_report"),
        ("choose_report", "daily_report"), ("monthly_report", "notify"),
        ("daily_report", "notify")}
    assert CUSTOMER_DAILY_ETL.step("gold_region_aggregates").fan_out == "region"
    assert CUSTOMER_DAILY_ETL.step("choose_report").kind == "branch"
    assert CUSTOMER_DAILY_ETL.schedule == "0 2 * * *"
    assert CUSTOMER_DAILY_ETL.downstream_of("quality_gate") == set(
        CUSTOMER_DAILY_ETL.step_names[3:])
    assert LEAD_SCORING_MLOPS.step("auc_gate").kind == "gate"


def test_retry_delays_back_off_exponentially_up_to_the_cap():
    policy = RetryPolicy(retries=5, base_delay_s=2, backoff_factor=2, max_delay_s=10)
    assert policy.delays() == [2, 4, 8, 10, 10]


@pytest.mark.parametrize("steps, needle", [
    ((StepSpec("a", "pipelines_core.steps.etl:notify", ("b",)),
      StepSpec("b", "pipelines_core.steps.etl:notify", ("a",))), "cycle"),
    ((StepSpec("a", "pipelines_core.steps.etl:notify", ("zzz",)),), "unknown upstream"),
    ((StepSpec("a", "pipelines_core.steps.etl:no_such_step"),), "cannot resolve"),
    ((StepSpec("a", "pipelines_core.steps.etl:notify"),
      StepSpec("a", "pipelines_core.steps.etl:notify")), "repeats"),
    ((StepSpec("a", "pipelines_core.steps.etl:notify", kind="branch"),
      StepSpec("b", "pipelines_core.steps.etl:notify", ("a",))), "two downstream"),
])
def test_invalid_specs_are_rejected(steps, needle):
    with pytest.raises(SpecError, match=needle):
        PipelineSpec("p", "d", steps).validate()


def test_inconsistent_retry_policy_and_unknown_pipeline():
    with pytest.raises(SpecError):
        RetryPolicy(base_delay_s=5, max_delay_s=1)
    with pytest.raises(SpecError, match="known: customer_daily_etl"):
        get_pipeline("nope")
