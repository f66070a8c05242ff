"""The same wait in Luigi's idiom: an external task whose target is the export's marker."""

from __future__ import annotations

import luigi

from pipelines_core.config import load_config
from pipelines_core.steps.etl import export_ready


class ExportTarget(luigi.Target):
    """The bronze export of a date: there once the core says the export is ready."""

    def __init__(self, day) -> None:
        self.day = day

    def exists(self) -> bool:
        return export_ready(load_config(), self.day)


class wait_for_export(luigi.ExternalTask):
    """Luigi never runs an ExternalTask; with ``[worker] retry_external_tasks`` it looks at
    the target again every ``retry_delay`` and the scheduler gives up after
    ``disable_hard_timeout`` seconds."""

    date = luigi.DateParameter()

    @property
    def disable_hard_timeout(self) -> int:
        return int(load_config().sensor_timeout_s)

    def output(self) -> ExportTarget:
        return ExportTarget(self.date)
