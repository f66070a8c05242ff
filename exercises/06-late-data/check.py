"""Checks exercise 06: the poking sensor on a fake clock, and the Luigi external task."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pipelines_core.errors import ExportNotReady
from course_kit.exercises import Kit, import_failed, need, short_error, work_imports
from pipelines_core.steps.etl import export_partition

TITLE = {"en": "Waiting for late data", "es": "Esperar a datos que llegan tarde"}
PROBES = {"luigi": "probe_luigi.py"}


class FakeTime:
    """A clock that only moves when the sensor sleeps; it can make the export appear."""

    def __init__(self, on_sleep=None) -> None:
        self.now, self.sleeps, self.on_sleep = 1000.0, 0, on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.sleeps > 10_000:
            raise RuntimeError("the sensor never stops sleeping")
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(self.sleeps)


def check(work: Path, kit: Kit):
    cfg = kit.config("ex06")
    day = date(2026, 11, 3)
    marker = export_partition(cfg, day).path / "_SUCCESS"
    reqs = []
    with work_imports(work) as load:
        try:
            sensor = load("sensor")
        except Exception as exc:  # noqa: BLE001
            return import_failed("sensor", exc)

        def arrive(n: int) -> None:
            if n == 3:  # the export lands during the third wait
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.touch()

        fake = FakeTime(arrive)
        try:
            pokes = sensor.wait_for_export(cfg, day, timeout_s=60, poke_s=5,
                                           clock=fake.clock, sleep=fake.sleep)
            ok = pokes == 4 and fake.sleeps == 3
        except Exception as exc:  # noqa: BLE001
            ok, pokes = False, short_error(exc)
        reqs.append(need(ok, "an export that lands 15 s late (third wait of 5 s) must be "
                             f"found on the 4th poke, after 3 sleeps; got {pokes!r}",
                         "una exportación que llega 15 s tarde (tercera espera de 5 s) debe "
                         f"encontrarse en el 4.º sondeo, tras 3 esperas; se obtuvo {pokes!r}"))
        marker.unlink(missing_ok=True)
        fake = FakeTime()
        outcome = "returned"
        try:
            sensor.wait_for_export(cfg, day, timeout_s=30, poke_s=5, clock=fake.clock,
                                   sleep=fake.sleep)
        except ExportNotReady:
            outcome = "timeout"
        except Exception as exc:  # noqa: BLE001
            outcome = short_error(exc)
        waited = fake.now - 1000.0
        reqs.append(need(outcome == "timeout" and 30 <= waited <= 35,
                         "an export that never comes must raise ExportNotReady after the "
                         f"30 s timeout, not before and not much later (waited {waited:.0f} s, "
                         f"outcome: {outcome})",
                         "una exportación que nunca llega debe lanzar ExportNotReady al "
                         f"cumplirse los 30 s, ni antes ni mucho después (esperó {waited:.0f} s, "
                         f"resultado: {outcome})"))
    lf = kit.probe("luigi")
    if "error" in lf:
        reqs.append(need(False, f"luigi_sensor.py: {lf['error']}",
                         f"luigi_sensor.py: {lf['error']}"))
        return reqs
    reqs.append(need(lf["external"], "Luigi: wait_for_export must be a luigi.ExternalTask "
                                     "(Luigi checks its target, never runs it)",
                     "Luigi: wait_for_export debe ser un luigi.ExternalTask (Luigi comprueba "
                     "su target, nunca lo ejecuta)"))
    reqs.append(need(lf["before"] is False and lf["after"] is True,
                     "Luigi: the task must be complete exactly when the export's _SUCCESS "
                     f"marker exists (complete before/after: {lf['before']}/{lf['after']})",
                     "Luigi: la tarea debe estar completa justo cuando existe el marcador "
                     f"_SUCCESS (complete antes/después: {lf['before']}/{lf['after']})"))
    reqs.append(need(lf["hard_timeout"] == lf["sensor_timeout"],
                     f"Luigi: disable_hard_timeout must be the sensor timeout "
                     f"({lf['sensor_timeout']:g} s); it is {lf['hard_timeout']}",
                     f"Luigi: disable_hard_timeout debe ser el timeout del sensor "
                     f"({lf['sensor_timeout']:g} s); es {lf['hard_timeout']}"))
    return reqs
