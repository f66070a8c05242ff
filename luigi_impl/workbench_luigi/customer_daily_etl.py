"""Daily customer ETL: wait for the bronze CDC export of the date, resolve it into silver
customers, stop on a data-quality violation, aggregate gold metrics per region, then write
the monthly (1st of the month) or daily report and notify.

Luigi tasks in namespace ``customer_daily_etl``, one per spec step. Build the last one and
Luigi schedules the rest through ``requires()``; the report the branch chooses is a dynamic
dependency of ``notify`` (see there)::

    luigi --module workbench_luigi.customer_daily_etl customer_daily_etl.notify \\
        --date 2026-10-05
    luigi --module workbench_luigi.customer_daily_etl RangeDaily \\
        --of customer_daily_etl.notify --start 2026-10-01 --stop 2026-10-04
"""

from __future__ import annotations

import luigi

from pipelines_core import lake
from pipelines_core.config import config_for
from pipelines_core.spec import get_pipeline
from pipelines_core.steps import etl

from workbench_luigi.base import RegionTask, StepTask
from workbench_luigi.settings import ORCHESTRATOR, retry_delay_s

PIPELINE = "customer_daily_etl"
SPEC = get_pipeline(PIPELINE)


class wait_for_export(luigi.ExternalTask):
    """Wait until the bronze CDC export of the date exists (with a timeout).

    An ExternalTask: Luigi never runs it, it checks the export's ``_SUCCESS`` marker. The
    worker re-checks it every ``retry_delay`` (``retry_external_tasks``) and the scheduler
    gives up ``disable_hard_timeout`` (the sensor timeout) after the first miss.
    """

    task_namespace = PIPELINE
    date = luigi.DateParameter(description="The logical (data) date of the run.")

    @property
    def step(self) -> str:
        return type(self).__name__

    @property
    def map_key(self) -> None:
        return None

    @property
    def retry_count(self) -> int:
        # enough checks to cover the timeout; disable_hard_timeout ends the wait on time
        config = config_for(ORCHESTRATOR)
        return int(config.sensor_timeout_s / retry_delay_s(config)) + 2

    @property
    def disable_hard_timeout(self) -> int:
        return max(1, int(round(config_for(ORCHESTRATOR).sensor_timeout_s)))

    def output(self) -> "ExportTarget":
        return ExportTarget(self.date)


class ExportTarget(luigi.Target):
    """The bronze export of a date: there once the core's ``export_ready`` says so."""

    def __init__(self, day) -> None:
        self.day = day

    @property
    def path(self) -> str:
        return str(etl.export_partition(config_for(ORCHESTRATOR), self.day).path / "_SUCCESS")

    def exists(self) -> bool:
        return etl.export_ready(config_for(ORCHESTRATOR), self.day)


class ingest_cdc(StepTask):
    """Resolve CDC events by operation time into silver customers."""

    task_namespace = PIPELINE
    writes = (("silver", etl.SILVER_TABLE),)

    def requires(self):
        return wait_for_export(date=self.date)


class quality_gate(StepTask):
    """Nulls, duplicate keys, row-count bounds, referential checks; a violation stops the run."""

    task_namespace = PIPELINE
    writes = (("quality", etl.SILVER_TABLE),)

    def requires(self):
        return ingest_cdc(date=self.date)

    def run(self) -> None:
        try:
            super().run()
        finally:  # the verdict is shown whether the gate passed or stopped the run
            message = quality_message(config_for(ORCHESTRATOR), self.date)
            if message and self.set_status_message:  # None unless a worker runs the task
                self.set_status_message(message)


def quality_message(config, day) -> str | None:
    """The checks the core's gate recorded for ``day``, as one line for the task's status
    message (luigid keeps it with the task: visualiser, ``/api/get_task_status_message``)."""
    part = lake.Partition(config.namespace_root(), "quality", etl.SILVER_TABLE, day.isoformat())
    if not part.exists():
        return None
    report = lake.read_json(part)
    checks = ", ".join(f"{c['name']} {'ok' if c['passed'] else 'FAILED'} ({c['observed']})"
                       for c in report["checks"])
    return f"quality {'passed' if report['passed'] else 'FAILED'} for {report['date']}: {checks}"


class gold_region_aggregates(RegionTask):
    """Gold metrics of one region (one task per region)."""

    task_namespace = PIPELINE
    writes = (("gold", etl.GOLD_REGION_TABLE),)

    def requires(self):
        return quality_gate(date=self.date)


class gold_summary(StepTask):
    """Fan-in: combine the regions into the daily summary."""

    task_namespace = PIPELINE
    writes = (("gold", etl.GOLD_SUMMARY_TABLE),)

    def requires(self):
        # fan-out: one upstream task per region, from the core's list of regions
        return [gold_region_aggregates(date=self.date, region=r) for r in etl.regions()]


class choose_report(StepTask):
    """Branch: monthly report on the 1st of a month, daily otherwise."""

    task_namespace = PIPELINE

    def requires(self):
        return gold_summary(date=self.date)


class monthly_report(StepTask):
    """Report over the previous month's summaries."""

    task_namespace = PIPELINE
    writes = (("reports", "customer_monthly"),)

    def requires(self):
        return choose_report(date=self.date)


class daily_report(StepTask):
    """Report of the date."""

    task_namespace = PIPELINE
    writes = (("reports", "customer_daily"),)

    def requires(self):
        return choose_report(date=self.date)


REPORTS = {"monthly_report": monthly_report, "daily_report": daily_report}


class notify(StepTask):
    """Tell the sink that the date is done (after whichever report the branch chose)."""

    task_namespace = PIPELINE
    writes = (("reports", f"{PIPELINE}_notifications"),)

    def requires(self):
        # The branch's decision, as choose_report recorded it (ledger and JSON target).
        return choose_report(date=self.date)

    def chosen_report(self) -> StepTask:
        """The report task choose_report's recorded result names."""
        return REPORTS[self.requires().result()["next_step"]](date=self.date)

    def run(self):
        # Which report runs is known only once choose_report has run, so it is a dynamic
        # dependency (Luigi's way for what run time decides): the worker suspends this task,
        # runs the chosen report, then calls run() again, which goes on past the yield once
        # the report is complete. The report not chosen is never scheduled.
        report = self.chosen_report()
        yield report
        self.run_core({report.step: report.result()})


TERMINAL = notify
