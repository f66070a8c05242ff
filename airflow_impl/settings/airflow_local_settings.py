"""Airflow local settings of the workbench's services (this folder is on their PYTHONPATH).

The scheduler imports what a step needs to reach Spark once, before its LocalExecutor forks
its workers; each task process is forked from a worker and inherits those modules instead of
importing pyspark's Connect client (pandas, pyarrow, grpc) inside its attempt, about 2.5 s a
task here. The same idea as gunicorn's ``preload_app`` or Dagster's forkserver
``preload_modules``. Only the scheduler does it: the other components never run a task.
"""

from __future__ import annotations

import importlib
import sys

if sys.argv[1:2] == ["scheduler"]:
    from pipelines_core.spark import STEP_PRELOAD

    for _module in STEP_PRELOAD:
        importlib.import_module(_module)
