"""Checks exercise 02: the learner's retry settings, read back from each orchestrator's own
objects, against the spec's policy (and against what each orchestrator can express)."""

from __future__ import annotations

from pathlib import Path

from course_kit.exercises import Kit, need

TITLE = {"en": "Retries with exponential backoff in all four (and why Luigi differs)",
         "es": "Reintentos con espera exponencial en los cuatro (y por qué Luigi es distinto)"}
PROBES = {o: f"probes.py {o}" for o in ("airflow", "prefect", "dagster", "luigi")}

# the probes' policy: 4 retries, 2 s, factor 3, at most 10 s, 60 s per attempt
SPEC_DELAYS = [2.0, 6.0, 10.0, 10.0]


def _broken(reqs, orchestrator, facts, file):
    if "error" not in facts:
        return False
    reqs.append(need(False, f"{orchestrator}: {file} fails: {facts['error']}",
                     f"{orchestrator}: {file} falla: {facts['error']}"))
    return True


def check(work: Path, kit: Kit):
    reqs = []
    a = kit.probe("airflow")
    if not _broken(reqs, "Airflow", a, "airflow_retries.py"):
        want = {"retries": 4, "retry_delay": 2.0, "factor": 3.0, "max_delay": 10.0,
                "timeout": 60.0}
        wrong = {k: a.get(k) for k, v in want.items() if a.get(k) != v}
        reqs.append(need(not wrong,
                         "Airflow: a task built with retry_args must have retries=4, "
                         "retry_delay=2 s, retry_exponential_backoff=3.0, max_retry_delay=10 s "
                         f"and execution_timeout=60 s; wrong: {wrong}",
                         "Airflow: una tarea creada con retry_args debe tener retries=4, "
                         "retry_delay=2 s, retry_exponential_backoff=3.0, max_retry_delay=10 s "
                         f"y execution_timeout=60 s; incorrecto: {wrong}"))
    p = kit.probe("prefect")
    if not _broken(reqs, "Prefect", p, "prefect_retries.py"):
        reqs.append(need(p["retries"] == 4 and p["delays"] == SPEC_DELAYS,
                         "Prefect: 4 retries waiting 2, 6, 10, 10 s (the ceiling applied: "
                         f"exponential_backoff has none); the task has {p['delays']}",
                         "Prefect: 4 reintentos con esperas de 2, 6, 10 y 10 s (con el tope: "
                         f"exponential_backoff no lo tiene); la tarea tiene {p['delays']}"))
        reqs.append(need(p["jitter"] is None and p["timeout"] == 60.0,
                         "Prefect: no jitter (retry_jitter_factor=None) and timeout_seconds=60 "
                         f"(has jitter {p['jitter']}, timeout {p['timeout']})",
                         "Prefect: sin jitter (retry_jitter_factor=None) y timeout_seconds=60 "
                         f"(tiene jitter {p['jitter']}, timeout {p['timeout']})"))
    d = kit.probe("dagster")
    if not _broken(reqs, "Dagster", d, "dagster_retries.py"):
        reqs.append(need(d["max_retries"] == 4 and d["delay"] == 2.0 and d["exponential"]
                         and d["jitter"] == "None",
                         "Dagster: RetryPolicy(max_retries=4, delay=2, backoff=EXPONENTIAL), no "
                         f"jitter; got max_retries={d['max_retries']}, delay={d['delay']}, "
                         f"exponential={d['exponential']}, jitter={d['jitter']}",
                         "Dagster: RetryPolicy(max_retries=4, delay=2, backoff=EXPONENTIAL), sin "
                         f"jitter; se obtuvo max_retries={d['max_retries']}, delay={d['delay']}, "
                         f"exponential={d['exponential']}, jitter={d['jitter']}"))
        reqs.append(need(d["real"] is not None and d["claimed"] == d["real"],
                         "Dagster: dagster_delays must give the delays Dagster itself computes "
                         f"for that policy ({d['real']}), not the spec's; it gave {d['claimed']}",
                         "Dagster: dagster_delays debe dar las esperas que calcula el propio "
                         f"Dagster para esa política ({d['real']}), no las de la spec; dio "
                         f"{d['claimed']}"))
    lu = kit.probe("luigi")
    if not _broken(reqs, "Luigi", lu, "luigi_retries.py"):
        reqs.append(need(lu["retry_count"] == 5 and lu["retry_delay"] == 2.0,
                         "Luigi: retry_count counts attempts (4 retries = 5) and retry_delay is "
                         f"the base delay (2 s); got {lu['retry_count']} and {lu['retry_delay']}",
                         "Luigi: retry_count cuenta intentos (4 reintentos = 5) y retry_delay es "
                         f"la espera base (2 s); se obtuvo {lu['retry_count']} y "
                         f"{lu['retry_delay']}"))
        reqs.append(need(lu["claimed"] == [2.0] * 4,
                         "Luigi: luigi_delays must say what Luigi really waits: one fixed "
                         f"retry_delay every time (no backoff, no ceiling); it gave {lu['claimed']}",
                         "Luigi: luigi_delays debe decir lo que Luigi espera de verdad: el mismo "
                         f"retry_delay cada vez (sin backoff ni tope); dio {lu['claimed']}"))
    return reqs
