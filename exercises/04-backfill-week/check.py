"""Checks exercise 04: a real (no-op) backfill of a week through the core, and the comparison."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

from course_kit.exercises import Kit, need, short_error, work_imports
from pipelines_core.ledger import Ledger

TITLE = {"en": "Backfilling a week, and how the four orchestrators do it",
         "es": "Rellenar una semana hacia atrás (backfill) y cómo lo hacen los cuatro"}

TRUTH = {
    "airflow": {"mechanism": "backfill_create", "bound": "max_active_runs",
                "rerun_skips_done": True},
    "prefect": {"mechanism": "deployment_runs", "bound": "concurrency_limit",
                "rerun_skips_done": False},
    "dagster": {"mechanism": "partition_backfill", "bound": "max_concurrent_runs",
                "rerun_skips_done": False},
    "luigi": {"mechanism": "range_daily", "bound": "workers", "rerun_skips_done": True},
}


def check(work: Path, kit: Kit):
    # WORKBENCH_NOOP: every step records its attempt and returns, the branch still decides;
    # the backfill's shape (dates, order, parallelism, branch) is real, without Spark.
    cfg = kit.config("ex04", noop=True)
    start = date(2026, 10, 29)
    week = [(start + timedelta(days=n)).isoformat() for n in range(7)]
    reqs = []
    with work_imports(work) as load:
        try:
            mod = load("backfill")
            outcomes = mod.backfill_week(cfg, start, parallelism=2)
            dates = sorted(o.date for o in outcomes)
            states = {o.date: o.state for o in outcomes}
        except Exception as exc:  # noqa: BLE001
            return [need(False, f"backfill_week fails: {short_error(exc)}",
                         f"backfill_week falla: {short_error(exc)}")]
    reqs.append(need(dates == week and set(states.values()) == {"success"},
                     f"backfill_week must run the 7 dates {week[0]}..{week[-1]}; it ran "
                     f"{dates or 'none'}",
                     f"backfill_week debe ejecutar las 7 fechas {week[0]}..{week[-1]}; "
                     f"ejecutó {dates or 'ninguna'}"))
    recs = Ledger(cfg.ledger_path).read_attempts(pipeline="customer_daily_etl")
    monthly = sorted({r.date for r in recs if r.step == "monthly_report"})
    reqs.append(need(monthly == ["2026-11-01"],
                     "the week crosses a month: only 2026-11-01 must write the monthly report "
                     f"(the ledger shows it on {monthly or 'no date'})",
                     "la semana cruza un mes: solo el 2026-11-01 debe escribir el informe "
                     f"mensual (el registro lo muestra en {monthly or 'ninguna fecha'})"))
    # how many dates were in flight at once, from each date's first start to its last end
    span = defaultdict(lambda: [None, None])
    for r in recs:
        s = span[r.date]
        s[0] = r.start if s[0] is None else min(s[0], r.start)
        s[1] = r.end if s[1] is None else max(s[1], r.end or r.start)
    events = sorted([(s[0], 1) for s in span.values()] + [(s[1], -1) for s in span.values()],
                    key=lambda e: (e[0], e[1]))
    live = peak = 0
    for _, d in events:
        live += d
        peak = max(peak, live)
    threads = {r.pid for r in recs}
    reqs.append(need(len(span) == 7 and peak <= 2 and len(threads) == 1,
                     "the seven dates must run at most 2 at a time, in this one process (the "
                     f"core's backfill with parallelism=2); the ledger shows {len(span)} "
                     f"date(s), at most {peak} at once",
                     "las siete fechas deben ejecutarse como mucho de 2 en 2, en este mismo "
                     "proceso (el backfill del núcleo con parallelism=2); el registro muestra "
                     f"{len(span)} fecha(s), como mucho {peak} a la vez"))
    try:
        answers = json.loads((work / "answers.json").read_text())
    except Exception as exc:  # noqa: BLE001
        reqs.append(need(False, f"answers.json is not valid JSON: {short_error(exc)}",
                         f"answers.json no es JSON válido: {short_error(exc)}"))
        return reqs
    for orch, truth in TRUTH.items():
        mine = answers.get(orch) or {}
        wrong = [k for k, v in truth.items() if mine.get(k) != v]
        reqs.append(need(not wrong,
                         f"answers.json, {orch}: {', '.join(wrong)} not right yet (see the "
                         f"table of choices in the README and {orch}_impl/README.md)",
                         f"answers.json, {orch}: {', '.join(wrong)} aún no es correcto (mira "
                         f"las opciones en el README y {orch}_impl/README.md)"))
    return reqs
