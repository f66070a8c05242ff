"""The deployments of both flows on a process work pool: a cron schedule at 02:00 for each,
and an event trigger that starts ``lead_scoring_mlops`` when silver customers are written.

A process worker (``prefect worker start --pool workbench-process``) runs each flow run in
its own subprocess; the code is loaded from this folder (``from_source`` with a local path),
so nothing is built or pushed. Prefect has no backfill primitive: :func:`backfill` creates one
deployment run per past date in a work queue whose concurrency limit bounds them.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.events import DeploymentEventTrigger
from prefect.exceptions import ObjectAlreadyExists

from pipelines_core.config import config_for
from pipelines_core.spec import CUSTOMER_DAILY_ETL, LEAD_SCORING_MLOPS, PipelineSpec

from workbench_prefect import IMPL_DIR, ORCHESTRATOR, POOL
from workbench_prefect.etl import SILVER_EVENT, silver_resource

DEPLOYMENT = "daily"
BACKFILL_QUEUE = "backfill"
ENTRYPOINTS = {
    CUSTOMER_DAILY_ETL.name: "workbench_prefect/etl.py:customer_daily_etl",
    LEAD_SCORING_MLOPS.name: "workbench_prefect/ml.py:lead_scoring_mlops",
}


def ensure_pool(pool: str) -> None:
    """Create the process work pool unless it exists."""
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        except ObjectAlreadyExists:
            pass


def ml_trigger(namespace: str, enabled: bool = True) -> DeploymentEventTrigger:
    """Run ``lead_scoring_mlops`` for the date whose silver customers were just written in
    this namespace (the worker's)."""
    return DeploymentEventTrigger(
        name="lead_scoring_mlops on fresh silver customers",
        enabled=enabled,
        expect={SILVER_EVENT},
        match={"prefect.resource.id": silver_resource(namespace)},
        parameters={"day": "{{ event.payload.date }}"},
    )


def deploy_pipeline(spec: PipelineSpec, pool: str, *, triggers: list | None = None,
                    concurrency_limit: int | None = None) -> str:
    """Deploy one flow (schedule from the spec, paused never: catch-up is off because
    Prefect's scheduler only creates runs from now on)."""
    flow: Flow = Flow.from_source(source=str(IMPL_DIR), entrypoint=ENTRYPOINTS[spec.name])
    deployment_id = flow.deploy(
        name=DEPLOYMENT, work_pool_name=pool, build=False, push=False,
        cron=spec.schedule, tags=list(spec.tags), description=flow.description,
        triggers=triggers or [], concurrency_limit=concurrency_limit,
        print_next_steps=False, ignore_warnings=True)
    return str(deployment_id)


def deploy_all(pool: str, *, with_ml_trigger: bool = True) -> dict[str, Any]:
    ensure_pool(pool)
    return {
        CUSTOMER_DAILY_ETL.name: deploy_pipeline(CUSTOMER_DAILY_ETL, pool),
        LEAD_SCORING_MLOPS.name: deploy_pipeline(
            LEAD_SCORING_MLOPS, pool,
            triggers=[ml_trigger(config_for(ORCHESTRATOR).namespace, with_ml_trigger)]),
    }


def backfill(pipeline: str, days: list[date], parallelism: int, *,
             env: Mapping[str, str] | None = None, pool: str = POOL) -> list[str]:
    """One run of ``pipeline``'s deployment per date, in the pool's ``backfill`` work queue
    whose ``concurrency_limit`` is ``parallelism``: the worker takes no more of them at once,
    and other runs of the deployment are not held back. ``env`` reaches the runs' processes
    as the ``env`` job variable. Returns the flow-run ids in date order."""
    with get_client(sync_client=True) as client:
        try:
            client.create_work_queue(BACKFILL_QUEUE, concurrency_limit=parallelism,
                                     work_pool_name=pool)
        except ObjectAlreadyExists:
            queue = client.read_work_queue_by_name(BACKFILL_QUEUE, work_pool_name=pool)
            client.update_work_queue(queue.id, concurrency_limit=parallelism)
        deployment = client.read_deployment_by_name(f"{pipeline}/{DEPLOYMENT}")
        return [str(client.create_flow_run_from_deployment(
            deployment.id, parameters={"day": day.isoformat()}, tags=["backfill"],
            work_queue_name=BACKFILL_QUEUE, job_variables={"env": dict(env)} if env else None,
        ).id) for day in days]
