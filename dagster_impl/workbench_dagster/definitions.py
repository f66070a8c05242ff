"""The code location: both pipelines' assets, checks, jobs, schedule, sensors and resources.

Load it with ``dagster dev`` / ``dagster definitions validate`` from ``dagster_impl/``
(``pyproject.toml`` names this module).
"""

from __future__ import annotations

from dagster import Definitions

from workbench_dagster import automation, etl, ml
from workbench_dagster.resources import default_resources

defs = Definitions(
    assets=[*etl.assets, *ml.assets],
    asset_checks=[*etl.checks, *ml.checks],
    jobs=automation.jobs,
    schedules=automation.schedules,
    sensors=automation.sensors,
    resources=default_resources(),
)
