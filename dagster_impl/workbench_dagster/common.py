"""What every asset shares: the daily partitions, the spec's retry policy in Dagster's terms,
and the one helper that turns a Dagster context into a ``run_step`` call."""

from __future__ import annotations

from typing import Any

from dagster import (AssetKey, Backoff, DailyPartitionsDefinition, Failure, MetadataValue,
                     Output, RetryPolicy)

from pipelines_core.config import parse_date
from pipelines_core.errors import GateFailed
from pipelines_core.runtime import run_step
from pipelines_core.spec import PIPELINES, get_pipeline, retry_policy

from workbench_dagster.resources import ORCHESTRATOR, SparkResource, WorkbenchResource

ETL = "customer_daily_etl"
ML = "lead_scoring_mlops"

# One partition per data date; every pipeline starts on the same date in the spec.
START_DATES = {p.start_date for p in PIPELINES.values()}
assert len(START_DATES) == 1, "both pipelines share one daily partitions definition"
DAILY = DailyPartitionsDefinition(start_date=min(START_DATES).isoformat())

KINDS = {"spark", "python"}


def key(pipeline: str, step: str) -> AssetKey:
    """Asset key of a step: ``<pipeline>/<step>`` (both pipelines have a ``notify``)."""
    return AssetKey([pipeline, step])


def dagster_retry_policy(pipeline: str, config=None) -> RetryPolicy:
    """The spec's retry policy as a Dagster ``RetryPolicy``.

    Dagster's exponential backoff waits ``(2**n - 1) * delay`` before retry ``n`` and has no
    cap, so the spec's ``backoff_factor`` (2.0) and ``max_delay_s`` are not expressible: with
    the spec's two retries the waits are ``base`` then ``3 * base`` (the spec says ``base``,
    ``2 * base``, capped). The spec declares no jitter, so none is set.
    """
    if config is None:
        config = WorkbenchResource().load()
    policy = retry_policy(get_pipeline(pipeline), config)
    return RetryPolicy(max_retries=policy.retries, delay=policy.base_delay_s,
                       backoff=Backoff.EXPONENTIAL if policy.backoff_factor > 1 else None)


def max_runtime_s(pipeline: str, config=None) -> int:
    """Run-level ceiling for ``dagster/max_runtime``: every step's every attempt at its timeout.

    Dagster has no per-attempt timeout; run monitoring (in the daemon, when it is on: the
    service's ``--detection tuned``) cancels a run that outlives this tag, which is the
    closest native bound.
    """
    if config is None:
        config = WorkbenchResource().load()
    spec = get_pipeline(pipeline)
    policy = retry_policy(spec, config)
    return int(policy.timeout_s * (policy.retries + 1) * len(spec.steps))


def run_core_step(context: Any, workbench: WorkbenchResource, spark: SparkResource,
                  pipeline: str, step: str, *, map_key: str | None = None,
                  inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one attempt of ``step`` for the run's partition and return the core's result.

    The partition key is the data date; Dagster's ``retry_number`` (0-based) is the attempt.
    A failure propagates, so Dagster's retry policy and failure handling take over; a broken
    input is a ``Failure`` that allows no retry.
    """
    config = workbench.load()
    # The core opens its Spark session lazily, inside the attempt, from the same provider
    # ``spark`` wraps: so the step Dagster times is the attempt the ledger times, and a floor
    # run (noop), which touches no data, opens none.
    try:
        return run_step(pipeline, step, parse_date(context.partition_key), config=config,
                        attempt=context.retry_number + 1, map_key=map_key, inputs=inputs,
                        orchestrator=ORCHESTRATOR, fault_plan=workbench.fault_plan())
    except GateFailed as exc:
        if get_pipeline(pipeline).step(step).kind == "gate":
            raise  # the gate's asset check turns it into a failed check
        # a broken input (ContractViolation) in an ordinary step: a verdict on the data,
        # which Dagster's retry policy must not retry
        raise Failure(description=str(exc), allow_retries=False) from exc


def result_metadata(result: dict[str, Any]) -> dict[str, Any]:
    """Row counts, output paths and metrics of a core result, as materialisation metadata."""
    meta: dict[str, Any] = {"rows_in": MetadataValue.int(int(result.get("rows_in") or 0)),
                            "rows_out": MetadataValue.int(int(result.get("rows_out") or 0))}
    outputs = result.get("outputs") or []
    if outputs:
        # not "path": the IO manager records its own pickle's path under that label
        meta["lake_path"] = MetadataValue.path(outputs[0])
    if len(outputs) > 1:
        meta["paths"] = MetadataValue.json(outputs)
    for name, value in (result.get("metrics") or {}).items():
        if isinstance(value, bool):
            meta[name] = MetadataValue.bool(value)
        elif isinstance(value, int):
            meta[name] = MetadataValue.int(value)
        elif isinstance(value, float):
            meta[name] = MetadataValue.float(value)
        elif isinstance(value, str):
            meta[name] = MetadataValue.text(value)
        else:
            meta[name] = MetadataValue.json(value)
    return meta


def output(result: dict[str, Any], output_name: str = "result") -> Output:
    """The core's result as the asset's value (passed downstream) with its metadata."""
    return Output(result, output_name=output_name, metadata=result_metadata(result))
