"""Checks exercise 11: the learner's reading of the crash scenario's results. Their code lists
the cases of ``data/crash-results.json``, judges every case (and variants of its evidence) as
the scenario does, and bounds how long each orchestrator takes to show a kill that only a timer
can show: at the defaults, tuned, one setting changed, as each case of the file ran, and
against the time each case measured."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any, Callable

from course_kit.exercises import Kit, import_failed, need, short_error, work_imports

TITLE = {"en": "Reading a crash: who notices a killed step, and when",
         "es": "Leer un fallo brusco: quién nota un paso muerto, y cuándo"}
DATA = Path(__file__).resolve().parent / "data" / "crash-results.json"
FUNCTIONS = ("crash_cases", "verdict", "detection_bound_s", "deciding_setting")
# A measured time may pass a bound by this much: the benchmark reads the orchestrator's record
# about once a second, and a case's restart time is when the service command had it up again.
READ_SLACK_S = 2.0

T_AIRFLOW = "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"
I_AIRFLOW = "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL"
ORPHAN = "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL"
HEALTH = "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD"
ZOMBIE = "'Crash zombie flows': Crashed 90 s after the last heartbeat"
RPC_WAIT = "[core] rpc-retry-wait"
RPC_ATTEMPTS = "[core] rpc-retry-attempts"
UNSEEN = "worker with the step's process"
# Each orchestrator's detection settings as a crash case records them, at the defaults and
# tuned as the service command tunes them; Dagster's also carry the run's maximum-runtime tag
# that the workbench's ETL job sets, and Luigi's the one value its service records (which
# decides nothing here).
DEFAULT = {
    "airflow": {T_AIRFLOW: "300", I_AIRFLOW: "10", ORPHAN: "300", HEALTH: "30"},
    "prefect": {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "180",
                "automation": "none (a silent run stays Running)"},
    "dagster": {"run_monitoring.enabled": "False", "run_monitoring.poll_interval_seconds": "120",
                "run_monitoring.start_timeout_seconds": "180",
                "run_monitoring.max_resume_run_attempts": "0", "dagster/max_runtime": "405"},
    "luigi": {"[scheduler] worker_disconnect_delay": "60"},
}
TUNED = {
    "airflow": {**DEFAULT["airflow"], T_AIRFLOW: "30", ORPHAN: "30"},
    "prefect": {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30", "automation": ZOMBIE},
    "dagster": {**DEFAULT["dagster"], "run_monitoring.enabled": "True",
                "run_monitoring.poll_interval_seconds": "10"},
    "luigi": dict(DEFAULT["luigi"]),
}
# Each kill a timer decides, the component back after (seconds; as in the data: Airflow's
# scheduler about 14 s, luigid about 5 s), and the setting that decides it.
KILLS = {("airflow", "scheduler"): (14.0, ORPHAN), ("airflow", "api-server"): (35.0, T_AIRFLOW),
         ("prefect", UNSEEN): (None, "automation"),
         ("dagster", "code-server"): (16.0, "run_monitoring.enabled"),
         ("luigi", "luigid"): (5.0, RPC_WAIT)}
# A value no default has, for a setting that must move an answer on its own.
MOVED = "10"


MEASURED = object()  # the restart of KILLS


def _kill(label: tuple[str, str], orchestrator: str, target: str, settings: dict[str, Any],
          want: float | None, restarted: Any = MEASURED) -> tuple:
    """A row of a bound table; the component back as KILLS says unless ``restarted`` is given."""
    back = KILLS[(orchestrator, target)][0] if restarted is MEASURED else restarted
    return label, orchestrator, target, settings, back, want


# (what is asked, in English and Spanish; orchestrator; target; settings; restarted after;
# the bound in seconds, or None for never)
AT_DEFAULTS = [
    _kill(("Airflow's scheduler, nothing set", "scheduler de Airflow, nada fijado"),
          "airflow", "scheduler", {}, 314.0),
    _kill(("Airflow's scheduler at the defaults", "scheduler de Airflow por defecto"),
          "airflow", "scheduler", DEFAULT["airflow"], 314.0),
    _kill(("Airflow's api-server, nothing set", "api-server de Airflow, nada fijado"),
          "airflow", "api-server", {}, 310.0),
    _kill(("Airflow's api-server at the defaults", "api-server de Airflow por defecto"),
          "airflow", "api-server", DEFAULT["airflow"], 310.0),
    _kill(("Prefect, nothing set", "Prefect, nada fijado"), "prefect", UNSEEN, {}, None),
    _kill(("Prefect at the defaults", "Prefect por defecto"), "prefect", UNSEEN,
          DEFAULT["prefect"], None),
    _kill(("Dagster's code-server, nothing set", "code-server de Dagster, nada fijado"),
          "dagster", "code-server", {}, None),
    _kill(("Dagster's code-server at the defaults", "code-server de Dagster por defecto"),
          "dagster", "code-server", DEFAULT["dagster"], None),
    _kill(("luigid, nothing set", "luigid, nada fijado"), "luigi", "luigid", {}, 30.0),
    _kill(("luigid at the defaults", "luigid por defecto"), "luigi", "luigid",
          DEFAULT["luigi"], 30.0),
]
AT_TUNED = [
    _kill(("Airflow's scheduler tuned", "scheduler de Airflow afinado"), "airflow", "scheduler",
          TUNED["airflow"], 44.0),
    _kill(("Airflow's api-server tuned", "api-server de Airflow afinado"), "airflow",
          "api-server", TUNED["airflow"], 40.0),
    _kill(("Prefect tuned", "Prefect afinado"), "prefect", UNSEEN, TUNED["prefect"], 95.0),
    _kill(("Dagster's code-server tuned", "code-server de Dagster afinado"), "dagster",
          "code-server", TUNED["dagster"], 415.0),
    _kill(("luigid tuned", "luigid afinado"), "luigi", "luigid", TUNED["luigi"], 30.0),
]
ONE_CHANGED = [
    _kill(("Airflow's scheduler back after 45 s", "scheduler de Airflow de vuelta a los 45 s"),
          "airflow", "scheduler", DEFAULT["airflow"], 45.0, 45.0),
    _kill(("Airflow's scheduler never back", "scheduler de Airflow que no vuelve"),
          "airflow", "scheduler", TUNED["airflow"], None, None),
    _kill(("Airflow's scheduler, only the heartbeat timeout at 30 s",
           "scheduler de Airflow, solo el timeout del heartbeat a 30 s"),
          "airflow", "scheduler", {**DEFAULT["airflow"], T_AIRFLOW: "30"}, 314.0),
    _kill(("Airflow's scheduler, orphan check every 30 s, threshold 60 s",
           "scheduler de Airflow, revisión de huérfanas cada 30 s, umbral de 60 s"),
          "airflow", "scheduler", {ORPHAN: "30", HEALTH: "60"}, 74.0),
    _kill(("Airflow's api-server, a 60 s timeout checked every 5 s",
           "api-server de Airflow, un timeout de 60 s comprobado cada 5 s"),
          "airflow", "api-server", {T_AIRFLOW: "60", I_AIRFLOW: "5"}, 65.0),
    _kill(("Airflow's api-server, only the orphan check at 30 s",
           "api-server de Airflow, solo la revisión de huérfanas a 30 s"),
          "airflow", "api-server", {**DEFAULT["airflow"], ORPHAN: "30"}, 310.0),
    _kill(("Prefect, the automation with heartbeats every 180 s",
           "Prefect, la automatización con latidos cada 180 s"), "prefect", UNSEEN,
          {**DEFAULT["prefect"], "automation": ZOMBIE}, 95.0),
    _kill(("Prefect, heartbeats every 30 s and no automation",
           "Prefect, latidos cada 30 s y ninguna automatización"), "prefect", UNSEEN,
          {**DEFAULT["prefect"], "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30"}, None),
    _kill(("Dagster, run monitoring on but no maximum runtime",
           "Dagster, run monitoring activo pero sin duración máxima"), "dagster", "code-server",
          {k: v for k, v in TUNED["dagster"].items() if k != "dagster/max_runtime"}, None),
    _kill(("Dagster, run monitoring on at its 120 s poll",
           "Dagster, run monitoring activo con su sondeo de 120 s"), "dagster", "code-server",
          {**DEFAULT["dagster"], "run_monitoring.enabled": "True"}, 525.0),
    _kill(("Dagster, run monitoring on, a maximum runtime of 600 s for the whole instance",
           "Dagster, run monitoring activo, una duración máxima de 600 s para toda la instancia"),
          "dagster", "code-server",
          {"run_monitoring.enabled": "True", "run_monitoring.max_runtime_seconds": "600"},
          720.0),
    _kill(("luigid, rpc-retry-wait 10", "luigid, rpc-retry-wait 10"), "luigi", "luigid",
          {RPC_WAIT: "10"}, 10.0),
    _kill(("luigid back after 45 s", "luigid de vuelta a los 45 s"), "luigi", "luigid", {},
          60.0, 45.0),
    _kill(("luigid never back", "luigid que no vuelve"), "luigi", "luigid", {}, 60.0, None),
    _kill(("luigid back after 100 s, rpc-retry-attempts 5",
           "luigid de vuelta a los 100 s, rpc-retry-attempts 5"), "luigi", "luigid",
          {RPC_ATTEMPTS: "5"}, 120.0, 100.0),
    _kill(("luigid, worker_disconnect_delay 30", "luigid, worker_disconnect_delay 30"),
          "luigi", "luigid", {"[scheduler] worker_disconnect_delay": "30"}, 30.0),
]
# A wrong answer, said in both languages: (English, Spanish).
Wrong = tuple[str, str]


def reference_bound(orchestrator: str, target: str, settings: dict[str, Any],
                    restarted: float | None) -> float | None:
    """The bound for a kill with settings as a case of the data file records them (see
    README.md)."""
    def num(key: str, default: float) -> float:
        return default if settings.get(key) is None else float(settings[key])

    if (orchestrator, target) == ("airflow", "scheduler"):
        if restarted is None:
            return None
        every = num(ORPHAN, 300)
        return restarted + max(0, math.ceil((num(HEALTH, 30) - restarted) / every)) * every
    if (orchestrator, target) == ("airflow", "api-server"):
        return num(T_AIRFLOW, 300) + num(I_AIRFLOW, 10)
    if (orchestrator, target) == ("prefect", UNSEEN):
        automation = str(settings.get("automation") or "none")
        if automation.strip().lower().startswith("none"):
            return None
        within = re.search(r"(\d+(?:\.\d+)?) s after", automation)
        return (float(within.group(1)) if within else 90.0) + 5.0
    if (orchestrator, target) == ("dagster", "code-server"):
        if str(settings.get("run_monitoring.enabled", False)).strip().lower() != "true":
            return None
        limit = num("dagster/max_runtime", 0) or num("run_monitoring.max_runtime_seconds", 0)
        return limit + num("run_monitoring.poll_interval_seconds", 120) if limit > 0 else None
    if (orchestrator, target) == ("luigi", "luigid"):
        wait, retries = num(RPC_WAIT, 30), max(0, int(num(RPC_ATTEMPTS, 3)) - 1)
        if restarted is not None:
            back_at = max(1, math.ceil(restarted / wait)) if wait > 0 else 1
            if back_at <= retries:
                return back_at * wait
        return retries * wait
    raise ValueError(f"no timer decides a kill of {orchestrator}'s {target!r}")


def _same(got: Any, want: float | None) -> bool:
    if want is None or got is None:
        return got is None and want is None
    return isinstance(got, (int, float)) and not isinstance(got, bool) and abs(got - want) < 0.5


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: Any) -> Wrong:
    if _number(value):
        return f"{value:g} s", f"{value:g} s"
    return ("None (never)", "None (nunca)") if value is None else (repr(value), repr(value))


def _call(fn: Callable[..., Any], *args: Any) -> tuple[Any, str | None]:
    try:
        return fn(*copy.deepcopy(args)), None
    except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything
        return None, short_error(exc)


def _first(items: list[Wrong], lang: int, n: int = 3) -> str:
    """The first ``n`` wrong answers in one language (0 English, 1 Spanish)."""
    more = {0: "more", 1: "más"}[lang]
    return "; ".join(i[lang] for i in items[:n]) + \
        (f" (+{len(items) - n} {more})" if len(items) > n else "")


def _bounds(fn: Callable[..., Any], rows: list[tuple]) -> list[Wrong]:
    wrong = []
    for label, orchestrator, target, settings, restarted, want in rows:
        got, error = _call(fn, orchestrator, target, settings, restarted)
        if error:  # the same error would follow every row
            return [(f"{label[0]}: {error}", f"{label[1]}: {error}")]
        if not _same(got, want):
            expected, found = _show(want), _show(got)
            wrong.append((f"{label[0]}: {expected[0]} ≠ {found[0]}",
                          f"{label[1]}: {expected[1]} ≠ {found[1]}"))
    return wrong


def _cases(results: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(name, key, case)
            for name, row in (results.get("orchestrators") or {}).items()
            for key, case in (((row or {}).get("scenarios") or {}).get("crash") or {}).items()]


def _modelled(everything: list[tuple[str, str, dict[str, Any]]]
              ) -> list[tuple[tuple, dict[str, Any]]]:
    """The file's cases of a kill a timer decides, each as a bound row (the answer for the
    settings and the restart the case recorded) with the case."""
    rows = []
    for name, key, case in everything:
        target = case.get("target")
        if (name, target) in KILLS:
            settings = (case.get("detection") or {}).get("settings") or {}
            restarted = case.get("restarted_after_s")
            rows.append((((f"{name}/{key}", f"{name}/{key}"), name, target, settings, restarted,
                          reference_bound(name, target, settings, restarted)), case))
    return rows


def _measured(fn: Callable[..., Any], rows: list[tuple[tuple, dict[str, Any]]]
              ) -> tuple[int, list[Wrong]]:
    """The time each case of a modelled kill measured, against the learner's own bound: how
    many were compared, and the ones that contradict it. A time taken only when the run's end
    was read (the benchmark's wait had failed) says "by then" and is not compared; Luigi's
    answer counts from the worker's next call to luigid, so its time can only be later."""
    compared, wrong = 0, []
    for ((label, _), name, target, settings, restarted, _), case in rows:
        seen = case.get("detected_s")
        if not _number(seen) or (case.get("adapter_wait") and seen == case.get("ended_after_s")):
            continue
        bound, error = _call(fn, name, target, settings, restarted)
        if error:  # the same error would follow every case
            return compared, [(f"{label}: {error}", f"{label}: {error}")]
        compared += 1
        if name == "luigi":
            wait = float(settings.get(RPC_WAIT) or 30)
            if restarted is not None and restarted <= wait and _number(bound) \
                    and seen < bound - READ_SLACK_S:
                wrong.append((f"{label}: the worker stopped after {seen:g} s, before your "
                              f"{bound:g} s", f"{label}: el worker paró a los {seen:g} s, "
                              f"antes de tus {bound:g} s"))
        elif bound is None:
            wrong.append((f"{label}: shown after {seen:g} s, your bound says never",
                          f"{label}: se vio a los {seen:g} s, tu cota dice nunca"))
        elif not _number(bound) or seen > bound + READ_SLACK_S:
            wrong.append((f"{label}: shown after {seen:g} s, past your {_show(bound)[0]}",
                          f"{label}: se vio a los {seen:g} s, después de tus "
                          f"{_show(bound)[1]}"))
    return compared, wrong


def _variants(cases: list[tuple[str, str, dict[str, Any]]]
              ) -> list[tuple[Wrong, dict[str, Any], str]]:
    """The judged cases with one piece of evidence changed, and the verdict that must follow."""
    out = []
    for name, key, case in cases:
        here = f"{name}/{key}"
        step = case.get("step") or "ingest_cdc"
        half = copy.deepcopy(case)
        half["half_written"] = [f"silver/customers/date={case.get('date')}"]
        out.append(((f"{here} with a half-written partition",
                     f"{here} con una partición a medio escribir"), half, "lost work"))
        if case.get("end_state") == "success":
            twice = copy.deepcopy(case)
            twice["duplicated_steps"] = [step]
            out.append(((f"{here} with a step that succeeded twice",
                         f"{here} con un paso que terminó bien dos veces"), twice,
                        "duplicated work"))
            lost = copy.deepcopy(case)
            lost["lost_attempts"], lost["duplicated_steps"] = [step], []
            out.append(((f"{here} with a killed attempt run again",
                         f"{here} con un intento matado y repetido"), lost,
                        "recovered by itself"))
        elif case.get("human"):
            failed = copy.deepcopy(case)
            failed["human"].update(state="failed", identical_to_direct=None)
            out.append(((f"{here} whose re-run failed", f"{here} cuya re-ejecución falló"),
                        failed, "needs a human; the re-run did not recover it"))
            differs = copy.deepcopy(case)
            differs["human"].update(state="success", identical_to_direct=False)
            out.append(((f"{here} whose re-run differs from the direct runner",
                         f"{here} cuya re-ejecución difiere del ejecutor directo"), differs,
                        "needs a human; the re-run did not recover it"))
            fine = copy.deepcopy(case)
            fine["human"].update(state="success", identical_to_direct=True)
            out.append(((f"{here} whose re-run succeeded as the direct runner",
                         f"{here} cuya re-ejecución terminó bien como el ejecutor directo"),
                        fine, "needs a human"))
    return out


def _verdicts(fn: Callable[..., Any], rows: list[tuple[Wrong, dict[str, Any], str]]
              ) -> list[Wrong]:
    """The learner's verdict of each case, the recorded verdict taken out of it."""
    wrong = []
    for label, case, want in rows:
        mine, error = _call(fn, {k: v for k, v in case.items() if k != "verdict"})
        if error:  # the same error would follow every case
            return [(f"{label[0]}: {error}", f"{label[1]}: {error}")]
        if mine != want:
            wrong.append((f"{label[0]}: {want!r} ≠ {mine!r}",
                          f"{label[1]}: {want!r} ≠ {mine!r}"))
    return wrong


def _deciding(mod: Any) -> list[Wrong]:
    """The one setting per kill: its name, and what the learner's own bound makes of it."""
    wrong = []
    bound = mod.detection_bound_s
    for (orchestrator, target), (restarted, key) in KILLS.items():
        here = f"{orchestrator}/{target}"
        name, error = _call(mod.deciding_setting, orchestrator, target)
        if error:  # the same error would follow every kill
            return [(f"{here}: {error}", f"{here}: {error}")]
        if name != key:  # the answer is the name: only the learner's is shown
            wrong.append((f"{here}: not {name!r}", f"{here}: no es {name!r}"))
            continue
        default_settings, tuned_settings = DEFAULT[orchestrator], TUNED[orchestrator]
        default, e1 = _call(bound, orchestrator, target, default_settings, restarted)
        if tuned_settings != default_settings:
            # put back to its default in the tuned settings, the defaults' answer comes back
            undone_settings = {k: v for k, v in tuned_settings.items() if k != key}
            if key in default_settings:
                undone_settings[key] = default_settings[key]
            tuned, e2 = _call(bound, orchestrator, target, tuned_settings, restarted)
            undone, e3 = _call(bound, orchestrator, target, undone_settings, restarted)
            fine = not (e1 or e2 or e3) and undone == default and tuned != default
        else:  # tuned is the defaults: the one setting must at least move the answer
            moved, e2 = _call(bound, orchestrator, target, {**default_settings, key: MOVED},
                              restarted)
            fine = not (e1 or e2) and moved != default
        if not fine:
            wrong.append((f"{here}: your detection_bound_s does not depend on {key!r}",
                          f"{here}: tu detection_bound_s no depende de {key!r}"))
    return wrong


def check(work: Path, kit: Kit):
    results = json.loads(DATA.read_text())
    everything = _cases(results)
    judged = [(n, k, c) for n, k, c in everything if c.get("verdict") not in (None, "not run")]
    with work_imports(work) as load:
        try:
            mod = load("crash_reading")
        except Exception as exc:  # noqa: BLE001
            return import_failed("crash_reading", exc)
    missing = [f for f in FUNCTIONS if not callable(getattr(mod, f, None))]
    if missing:
        return [need(False, f"crash_reading.py must define {', '.join(missing)}",
                     f"crash_reading.py debe definir {', '.join(missing)}")]
    reqs = []

    # 1. the cases of a results file
    extra = {"orchestrators": {"airflow": {"scenarios": {"happy_path": {}}},
                               "luigi": {"errors": []},
                               "prefect": {"scenarios": {"crash": {"worker": {"x": 1}}}}}}
    got, error = _call(mod.crash_cases, results)
    got_extra, error_extra = _call(mod.crash_cases, extra)
    want = [(n, k) for n, k, _ in everything]
    try:
        ok = (not error and not error_extra and isinstance(got, list)
              and isinstance(got_extra, list)
              and [tuple(x)[:2] for x in got] == want
              and all(tuple(x)[2] == c for x, (_, _, c) in zip(got, everything))
              and [tuple(x) for x in got_extra] == [("prefect", "worker", {"x": 1})])
    except (TypeError, IndexError):  # not a list of triples
        ok = False
    count = len(got) if isinstance(got, list) else None
    shown = error or error_extra or (repr(got) if count is None else None)
    reqs.append(need(ok,
                     f"crash_cases must give the {len(want)} crash cases of "
                     "data/crash-results.json as (orchestrator, key, case), in file order, "
                     "and none for an orchestrator without a crash scenario; got "
                     f"{shown or f'{count} of them'}",
                     f"crash_cases debe dar los {len(want)} casos de fallo de "
                     "data/crash-results.json como (orquestador, clave, caso), en el orden "
                     "del fichero, y ninguno para un orquestador sin escenario de fallo; dio "
                     f"{shown or f'{count}'}"))

    # 2. every judged case of the file, then its evidence changed one piece at a time
    wrong = _verdicts(mod.verdict, [((f"{n}/{k}", f"{n}/{k}"), c, c["verdict"])
                                    for n, k, c in judged])
    reqs.append(need(judged and not wrong,
                     "verdict must give the verdict the scenario recorded for each of the "
                     f"{len(judged)} cases of the file; wrong: {_first(wrong, 0)}",
                     "verdict debe dar el veredicto que el escenario registró para cada uno de "
                     f"los {len(judged)} casos del fichero; incorrecto: {_first(wrong, 1)}"))
    variants = _variants(judged)
    wrong = _verdicts(mod.verdict, variants)
    reqs.append(need(variants and not wrong,
                     "verdict must follow the evidence: a half-written partition is lost work "
                     "whatever the end, a step that succeeded twice is duplicated work, a "
                     "killed attempt run again is neither, a re-run that failed or differs did "
                     f"not recover it; wrong: {_first(wrong, 0)}",
                     "verdict debe seguir la evidencia: una partición a medio escribir es "
                     "trabajo perdido acabe como acabe, un paso que terminó bien dos veces es "
                     "trabajo duplicado, un intento matado y repetido no es ninguna de las dos "
                     "cosas, una re-ejecución que falló o difiere no lo recuperó; incorrecto: "
                     f"{_first(wrong, 1)}"))

    # 3. the bound of each kill a timer decides
    wrong = _bounds(mod.detection_bound_s, AT_DEFAULTS)
    reqs.append(need(not wrong,
                     "detection_bound_s at the defaults (a setting not given is at its "
                     "default): Airflow's scheduler back after 14 s 314 s, its api-server "
                     "310 s, Prefect's worker with the step's process and Dagster's code-server "
                     f"never (None), luigid back after 5 s 30 s; wrong: {_first(wrong, 0)}",
                     "detection_bound_s con los valores por defecto (un ajuste ausente tiene su "
                     "valor por defecto): scheduler de Airflow de vuelta a los 14 s 314 s, su "
                     "api-server 310 s, el step process de Prefect con su worker y el "
                     "code-server de Dagster nunca (None), luigid de vuelta a los 5 s 30 s; "
                     f"incorrecto: {_first(wrong, 1)}"))
    wrong = _bounds(mod.detection_bound_s, AT_TUNED)
    reqs.append(need(not wrong,
                     "detection_bound_s with the tuned settings: Airflow's scheduler 44 s, its "
                     "api-server 40 s, Prefect 95 s, Dagster 415 s, luigid 30 s; "
                     f"wrong: {_first(wrong, 0)}",
                     "detection_bound_s con los ajustes afinados: scheduler de Airflow 44 s, "
                     "su api-server 40 s, Prefect 95 s, Dagster 415 s, luigid 30 s; "
                     f"incorrecto: {_first(wrong, 1)}"))
    wrong = _bounds(mod.detection_bound_s, ONE_CHANGED)
    reqs.append(need(not wrong,
                     "detection_bound_s must follow each setting, and the restart, on its own; "
                     f"wrong: {_first(wrong, 0)}",
                     "detection_bound_s debe seguir cada ajuste, y la vuelta del componente, "
                     f"por separado; incorrecto: {_first(wrong, 1)}"))
    modelled = _modelled(everything)
    recorded = [row for row, _ in modelled]
    wrong = _bounds(mod.detection_bound_s, recorded)
    reqs.append(need(recorded and not wrong,
                     "detection_bound_s must read the settings and the restart each case of a "
                     f"kill a timer decides ran with ({len(recorded)} cases); "
                     f"wrong: {_first(wrong, 0)}",
                     "detection_bound_s debe leer los ajustes y la vuelta con los que se ejecutó "
                     f"cada caso de una muerte que decide un temporizador ({len(recorded)} "
                     f"casos); incorrecto: {_first(wrong, 1)}"))
    compared, wrong = _measured(mod.detection_bound_s, modelled)
    reqs.append(need(compared and not wrong,
                     "the time each of those cases measured until the damage showed must fit "
                     f"your bound, give or take {READ_SLACK_S:g} s of reading ({compared} "
                     f"compared); wrong: {_first(wrong, 0)}",
                     "el tiempo que midió cada uno de esos casos hasta ver el daño debe caber "
                     f"en tu cota, con {READ_SLACK_S:g} s de margen de lectura ({compared} "
                     f"comparados); incorrecto: {_first(wrong, 1)}"))

    # 4. the one setting that decides it
    wrong = _deciding(mod)
    reqs.append(need(not wrong,
                     "deciding_setting must name, as a case records it, the setting that "
                     "decides each kill's bound (put back to its default in the tuned "
                     "settings, your detection_bound_s gives the defaults' answer again); "
                     f"wrong: {_first(wrong, 0, 5)}",
                     "deciding_setting debe nombrar, como lo registra un caso, el ajuste que "
                     "decide la cota de cada muerte (devuelto a su valor por defecto dentro de "
                     "los ajustes afinados, tu detection_bound_s vuelve a dar la respuesta por "
                     f"defecto); incorrecto: {_first(wrong, 1, 5)}"))
    return reqs
