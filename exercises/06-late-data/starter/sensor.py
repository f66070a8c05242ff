"""Wait for a late bronze export: poke until it is there, give up after a timeout."""

from __future__ import annotations

import time
from datetime import date
from typing import Callable

from pipelines_core.config import WorkbenchConfig
from pipelines_core.errors import ExportNotReady  # noqa: F401 - raise it on timeout
from pipelines_core.steps.etl import export_ready


def wait_for_export(config: WorkbenchConfig, day: date, *, timeout_s: float, poke_s: float,
                    clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> int:
    """Return the number of pokes it took once ``export_ready(config, day)`` is true; raise
    ``ExportNotReady`` once ``timeout_s`` has passed without it. Look every ``poke_s``.

    Use ``clock()`` and ``sleep()`` (not ``time``) so the check can run it on a fake clock.

    TODO: this looks once and trusts the answer: a late export fails the run at once.
    """
    if not export_ready(config, day):
        raise ExportNotReady(f"no export for {day}")
    return 1
