"""A 3-partition backfill through Dagster's own machinery, on the services of
``workbench_dagster.service``: the webserver's GraphQL API creates it, the daemon submits one
run per partition to the queue (at most two at once), the code server launches each run, and
every partition's outputs equal the direct runner's."""

from __future__ import annotations

import argparse
import json
from datetime import date

from dagster import DagsterInstance, RunsFilter

from pipelines_core.http import HttpClient
from pipelines_core.ledger import Ledger
from pipelines_core.procs import free_port, poll_until, port_open
from pipelines_core.testing import generate_exports
from pipelines_core.verify import output_checksums

from tests.helpers import step_events
from workbench_dagster.service import LOCATION, REPOSITORY, RUN_CONFIG, DagsterService

ETL = "customer_daily_etl"
LAUNCH = """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""


def test_backfill_through_the_daemon(config, reference, tmp_path):
    days = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]
    keys = [d.isoformat() for d in days]
    cfg = config.replace(namespace="dagster_backfill")  # its own lake: the monthly report
    generate_exports(cfg, days)                          # of 11-01 sees only these dates
    # The queue would take 4 runs at once; the backfill tag's limit holds them to 2.
    service = DagsterService(tmp_path / "dagster_home", free_port(), config=cfg,
                             options=argparse.Namespace(
                                 max_concurrent_runs=4, backfill_runs=2, automation=False,
                                 code_server_port=free_port()))
    # The fault plan travels in the backfill's run config (the workbench resource's run_env).
    run_config = {**RUN_CONFIG["in_process"], "resources": {"workbench": {"config": {
        "run_env": {"WORKBENCH_FAULTS": json.dumps({"ingest_cdc": {
            "kind": "raise", "times": 2, "dates": [keys[1]]}})}}}}}
    try:
        service.up()
        answer = HttpClient(service.url).post("/graphql", {"query": LAUNCH, "variables": {"p": {
            "selector": {"partitionSetName": f"{ETL}_partition_set", "repositorySelector": {
                "repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}},
            "partitionNames": keys, "runConfigData": run_config}}})
        backfill_id = answer["data"]["launchPartitionBackfill"]["backfillId"]
        with DagsterInstance.from_config(str(service.home)) as instance:
            def finished():
                records = instance.get_run_records(
                    RunsFilter(tags={"dagster/backfill": backfill_id}))
                done = len(records) == 3 and all(r.dagster_run.is_finished for r in records)
                return records if done else None

            records = poll_until(finished, timeout_s=900, interval_s=2,
                                 what=f"backfill {backfill_id} finished")
            runs = {r.dagster_run.tags["dagster/partition"]: r for r in records}
            events = {k: step_events(instance, r.dagster_run.run_id) for k, r in runs.items()}
            logs = {k: [e.user_message for e in instance.all_logs(r.dagster_run.run_id)
                        if e.dagster_event is None] for k, r in runs.items()}
    finally:
        service.down()
    assert not port_open(service.port) and not port_open(service.code_server_port)

    assert sorted(runs) == keys
    assert {r.dagster_run.status.value for r in runs.values()} == {"SUCCESS"}
    spans = sorted((r.start_time, r.end_time) for r in runs.values())
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlap == 2  # the dagster/backfill tag's limit, reached and held

    for day in days:
        assert output_checksums(cfg, ETL, day) == reference(ETL, day), day
    # The 1st of the month took the monthly branch, the others the daily one.
    for key, steps in events.items():
        chosen, other = (("monthly", "daily") if key.endswith("-01") else ("daily", "monthly"))
        assert "STEP_SUCCESS" in steps[f"{ETL}__report.{chosen}_report"], key
        assert "STEP_SKIPPED" in steps[f"{ETL}__report.{other}_report"], key
        # The core's log lines are captured into Dagster's event log.
        assert any("ingest_cdc" in m and "succeeded" in m for m in logs[key]), key
    ledger = Ledger(cfg.ledger_path).read_attempts(namespace="dagster_backfill",
                                                   step="ingest_cdc")
    assert sorted((r.date, r.attempt, r.status, r.orchestrator) for r in ledger) == [
        (keys[0], 1, "success", "dagster"), (keys[1], 1, "failed", "dagster"),
        (keys[1], 2, "failed", "dagster"), (keys[1], 3, "success", "dagster"),
        (keys[2], 1, "success", "dagster")]
    retried = events[keys[1]][f"{ETL}__ingest_cdc"]
    assert retried.count("STEP_UP_FOR_RETRY") == 2 and retried.count("STEP_SUCCESS") == 1
