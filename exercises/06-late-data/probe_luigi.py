"""Facts about the learner's Luigi sensor, in Luigi's environment."""

from __future__ import annotations

from datetime import date

import luigi

from pipelines_core.config import load_config
from course_kit.exercises import probe_main, work_imports
from pipelines_core.steps.etl import export_partition


def facts(work):
    with work_imports(work) as load:
        mod = load("luigi_sensor")
        cls = mod.wait_for_export
        day = date(2026, 11, 3)
        task = cls(date=day)
        before = task.complete()
        marker = export_partition(load_config(), day).path / "_SUCCESS"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        try:
            after = task.complete()
        finally:
            marker.unlink()
        return {"external": issubclass(cls, luigi.ExternalTask), "before": before,
                "after": after, "hard_timeout": task.disable_hard_timeout,
                "sensor_timeout": load_config().sensor_timeout_s}


if __name__ == "__main__":
    probe_main(facts)
