"""Checks exercise 08: a real failing run (no-op steps, injected faults) alerts the learner's
webhook, and the learner's probes read the same attempts and delays as the ledger holds."""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import date
from pathlib import Path

from course_kit.exercises import Kit, import_failed, need, short_error, work_imports
from pipelines_core.ledger import Ledger
from pipelines_core.runner import run_pipeline
from pipelines_core.spec import get_pipeline

TITLE = {"en": "Alerting, and reading what the run recorded",
         "es": "Alertas, y leer lo que la ejecución dejó registrado"}

# gold_summary fails twice then recovers; daily_report always fails
PLAN = {"gold_summary": {"kind": "raise", "times": 2},
        "daily_report": {"kind": "permanent"}}


def check(work: Path, kit: Kit):
    reqs = []
    with work_imports(work) as load:
        try:
            mod = load("alerting")
        except Exception as exc:  # noqa: BLE001
            return import_failed("alerting", exc)
        stop = None
        try:
            url, received, stop = mod.start_receiver()
        except Exception as exc:  # noqa: BLE001
            url, received = "", []
            reqs.append(need(False, f"start_receiver fails: {short_error(exc)}",
                             f"start_receiver falla: {short_error(exc)}"))
        cfg = kit.config("ex08", noop=True, alert_webhook=url, retries=2,
                         retry_base_delay_s=0.2, retry_backoff_factor=2.0,
                         retry_max_delay_s=0.3)
        previous = os.environ.get("WORKBENCH_FAULTS")
        os.environ["WORKBENCH_FAULTS"] = json.dumps(PLAN)
        try:
            outcome = run_pipeline(get_pipeline("customer_daily_etl"), date(2026, 11, 2), cfg)
        finally:
            if previous is None:
                os.environ.pop("WORKBENCH_FAULTS", None)
            else:
                os.environ["WORKBENCH_FAULTS"] = previous
            if stop is not None:
                stop()
        assert outcome.failed_step == "daily_report", outcome.steps
        if url:
            got = [a for a in received if isinstance(a, dict)]
            failures = [a for a in got if a.get("kind") == "failure"]
            reqs.append(need(len(failures) == 1 and failures[0].get("step") == "daily_report",
                             "the webhook must receive the failure alert of daily_report "
                             f"(one); it received {len(got)} JSON bodies",
                             "el webhook debe recibir la alerta de fallo de daily_report "
                             f"(una); recibió {len(got)} cuerpos JSON"))
        recs = Ledger(cfg.ledger_path).read_attempts()
        truth = dict(Counter(r.task_key for r in recs))
        try:
            mine = mod.attempts_per_task(recs)
            wrong = sorted(k for k in set(truth) | set(mine) if mine.get(k) != truth.get(k))
            reqs.append(need(not wrong,
                             "attempts_per_task must count every task's attempts as the ledger "
                             f"holds them (gold_summary 3, daily_report 3); wrong for {wrong}",
                             "attempts_per_task debe contar los intentos de cada tarea como "
                             "los guarda el registro (gold_summary 3, daily_report 3); "
                             f"incorrecto para {wrong}"))
        except Exception as exc:  # noqa: BLE001
            reqs.append(need(False, f"attempts_per_task fails: {short_error(exc)}",
                             f"attempts_per_task falla: {short_error(exc)}"))
        try:
            delays = mod.retry_delays(recs)
            # the runner sleeps the configured delay between attempts: 0.2 s, then 0.3 s
            # (0.4 s capped); an observed gap can only be longer, never shorter
            ok = (sorted(delays) == ["daily_report", "gold_summary"]
                  and all(len(v) == 2 and v[0] >= 0.2 and v[1] >= 0.3 and v[0] < 30
                          for v in delays.values()))
            reqs.append(need(ok,
                             "retry_delays must give, for gold_summary and daily_report only, "
                             "the two gaps between attempts (at least the configured 0.2 s and "
                             f"0.3 s); it gave {delays}",
                             "retry_delays debe dar, solo para gold_summary y daily_report, "
                             "las dos pausas entre intentos (al menos los 0.2 s y 0.3 s "
                             f"configurados); dio {delays}"))
        except Exception as exc:  # noqa: BLE001
            reqs.append(need(False, f"retry_delays fails: {short_error(exc)}",
                             f"retry_delays falla: {short_error(exc)}"))
    return reqs
