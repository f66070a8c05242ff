"""Wait for a late bronze export: poke until it is there, give up after a timeout."""

from __future__ import annotations

import time
from datetime import date
from typing import Callable

from pipelines_core.config import WorkbenchConfig
from pipelines_core.errors import ExportNotReady
from pipelines_core.steps.etl import export_ready


def wait_for_export(config: WorkbenchConfig, day: date, *, timeout_s: float, poke_s: float,
                    clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> int:
    """Return the number of pokes it took once ``export_ready(config, day)`` is true; raise
    ``ExportNotReady`` once ``timeout_s`` has passed without it. Look every ``poke_s``."""
    deadline = clock() + timeout_s
    pokes = 0
    while True:
        pokes += 1
        if export_ready(config, day):
            return pokes
        if clock() >= deadline:
            raise ExportNotReady(f"bronze export of {day} not found within {timeout_s:.0f} s")
        sleep(poke_s)
