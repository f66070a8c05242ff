"""Resources: the core's configuration and the core's Spark session provider.

Both are chosen from the environment (``WORKBENCH_*``) in one place, so the same definitions
run in a test (temporary lake), the demo and the benchmark.
"""

from __future__ import annotations

import os
from typing import Any

from dagster import ConfigurableResource

from pipelines_core.config import WorkbenchConfig, config_for
from pipelines_core.faults import ENV_VAR as FAULTS

ORCHESTRATOR = "dagster"


class WorkbenchResource(ConfigurableResource):
    """The workbench configuration (lake, state, scale, Spark mode, retry overrides) and the
    run's fault plan.

    Read from the ``WORKBENCH_*`` environment of the process that runs the step, with the
    run's own ``run_env`` on top; the process environment itself is never changed, so what one
    run sets does not reach the next run of the same process.
    """

    # Run-scoped settings for the steps (a fault plan, ``WORKBENCH_FAULTS``), given in a
    # run's config: ``resources: {workbench: {config: {run_env: {...}}}}``. (Not ``env``: a
    # config default whose only key is ``env`` reads to Dagster as an environment variable.)
    run_env: dict[str, str] = {}

    def settings(self) -> dict[str, str]:
        """The process's environment with the run's ``run_env`` on top."""
        return {**os.environ, **self.run_env}

    def load(self) -> WorkbenchConfig:
        return config_for(ORCHESTRATOR, self.settings())

    def fault_plan(self) -> str | None:
        """This run's fault plan (``WORKBENCH_FAULTS``), None when it has none."""
        return self.settings().get(FAULTS)


class SparkResource(ConfigurableResource):
    """Spark sessions from the core's provider (``local``, ``connect`` or ``remote``).

    The session is created once per process and shared with the core's steps, so a step
    process attached to the workbench's Spark Connect server never starts a JVM.
    """

    def session(self, config: WorkbenchConfig) -> Any:
        from pipelines_core.spark import get_session

        return get_session(config)


def default_resources() -> dict[str, Any]:
    return {"workbench": WorkbenchResource(), "spark": SparkResource()}
