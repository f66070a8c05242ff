"""The export sensor: a run per date whose export is complete, once; a date still missing
after ``sensor_timeout_s`` is alerted once and given up."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

from dagster import build_sensor_context

from pipelines_core.alerts import read_alerts
from pipelines_core.testing import generate_exports

from workbench_dagster.automation import SENSOR_WINDOW_DAYS, customer_export_sensor
from workbench_dagster.common import DAILY
from workbench_dagster.resources import WorkbenchResource


def test_export_sensor_requests_ready_dates_and_times_out(config, instance):
    keys = DAILY.get_partition_keys(
        current_time=datetime.now(timezone.utc) + timedelta(days=1))[-SENSOR_WINDOW_DAYS:]
    oldest, ready, newest = keys
    generate_exports(config, [datetime.fromisoformat(ready).date()])
    resources = {"workbench": WorkbenchResource()}
    # The oldest date has been waited for longer than the timeout already.
    cursor = json.dumps({oldest: time.time() - config.sensor_timeout_s - 1})

    context = build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    result = customer_export_sensor(context)
    assert [(r.partition_key, r.run_key) for r in result.run_requests] == [
        (ready, f"customer_daily_etl:{ready}")]
    state = json.loads(result.cursor)
    assert state[oldest] == "timed_out" and state[ready] == "requested"
    assert isinstance(state[newest], float)  # still waiting, within its timeout
    alerts = read_alerts(config, kind="failure", step="wait_for_export", date=oldest)
    assert len(alerts) == 1 and "not found within" in alerts[0]["error"]

    # The next tick requests nothing again and does not alert twice.
    again = customer_export_sensor(build_sensor_context(
        instance=instance, cursor=result.cursor, resources=resources))
    assert not again.run_requests
    assert len(read_alerts(config, kind="failure", step="wait_for_export", date=oldest)) == 1
