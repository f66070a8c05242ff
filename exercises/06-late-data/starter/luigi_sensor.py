"""The same wait in Luigi's idiom: an external task whose target is the export's marker."""

from __future__ import annotations

import luigi

from pipelines_core.config import load_config
from pipelines_core.steps.etl import export_ready  # noqa: F401


class ExportTarget(luigi.Target):
    """The bronze export of a date. TODO: exists() when the core says the export is ready."""

    def __init__(self, day) -> None:
        self.day = day

    def exists(self) -> bool:
        return True


class wait_for_export(luigi.Task):
    """TODO: Luigi must never *run* this task, only check its target (which kind of task is
    that?), and must give up waiting after the configured sensor timeout
    (``disable_hard_timeout``, in seconds, from ``load_config().sensor_timeout_s``)."""

    date = luigi.DateParameter()

    def output(self) -> ExportTarget:
        return ExportTarget(self.date)
