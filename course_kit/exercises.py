"""The course exercises: copy a starter into a learner's ``work/`` folder, check it, reset it.

Each exercise is a folder ``exercises/<NN>-<name>/`` with ``README.md`` / ``README.es.md``,
``starter/``, ``solution/``, hints, and ``check.py``. The learner edits ``work/`` (a copy of the
starter, git-ignored), never the project's own implementations. ``check.py`` defines::

    TITLE = {"en": "...", "es": "..."}
    PROBES = {"airflow": "probe_airflow.py", ...}   # optional: scripts (and arguments)
                                                    # run in that orchestrator's environment
    def check(work: Path, kit: Kit) -> list[Requirement]

A probe script runs once per orchestrator for all work folders being checked (so the test
suite pays each orchestrator's import once per exercise) and prints a JSON object of facts per
folder; ``check`` turns the facts, and whatever it runs itself in the root environment (Spark
on tiny frames, the core's runner), into requirements, each with an English and a Spanish line.

    python -m course_kit.exercises list
    python -m course_kit.exercises check 2 [--work DIR]   # exit 0 when every requirement is met
    python -m course_kit.exercises reset 2                # work/ = a fresh copy of starter/

No orchestrator is imported here: probes run in their own environments, as subprocesses (an
Airflow probe reads its DAGs with ``course_kit.airflow_facts``, in Airflow's environment).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Sequence

from pipelines_core.config import PROJECT_ROOT

EXERCISES_DIR = PROJECT_ROOT / "exercises"
IMPL_PYTHON = {name: PROJECT_ROOT / f"{name}_impl" / ".venv" / "bin" / "python"
               for name in ("airflow", "prefect", "dagster", "luigi")}
PROBE_TIMEOUT_S = 600


def language(env: dict[str, str] | None = None) -> str:
    """``es`` when ``LANG`` starts with ``es``, else ``en``."""
    env = os.environ if env is None else env
    return "es" if env.get("LANG", "").lower().startswith("es") else "en"


@dataclass
class Requirement:
    """One thing the exercise asks for, met or not, said in both languages."""

    ok: bool
    en: str
    es: str

    def text(self, lang: str) -> str:
        return self.es if lang == "es" else self.en


def need(ok: Any, en: str, es: str) -> Requirement:
    return Requirement(bool(ok), en, es)


@dataclass
class Exercise:
    number: int
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def starter(self) -> Path:
        return self.path / "starter"

    @property
    def solution(self) -> Path:
        return self.path / "solution"

    @property
    def work(self) -> Path:
        return self.path / "work"

    def module(self) -> ModuleType:
        return load_file(self.path / "check.py", f"exercise_check_{self.number:02d}")

    def title(self, lang: str) -> str:
        return self.module().TITLE[lang]


def exercises() -> list[Exercise]:
    """Every exercise, by number."""
    out = []
    for p in sorted(EXERCISES_DIR.iterdir()) if EXERCISES_DIR.is_dir() else []:
        head = p.name.split("-", 1)[0]
        if p.is_dir() and head.isdigit() and (p / "check.py").is_file():
            out.append(Exercise(int(head), p))
    return out


def find(number: int | str) -> Exercise:
    """The exercise numbered ``number`` (``2`` or ``02``), or SystemExit with the list."""
    try:
        n = int(str(number))
    except ValueError:
        n = -1
    for ex in exercises():
        if ex.number == n:
            return ex
    known = ", ".join(f"{e.number}" for e in exercises())
    if language() == "es":
        print(f"error: no hay ningún ejercicio {number!r}; existen: {known}", file=sys.stderr)
    else:
        print(f"error: no exercise {number!r}; known: {known}", file=sys.stderr)
    raise SystemExit(2)  # a mistake on the command line, as everywhere in the workbench


def load_file(path: Path, name: str) -> ModuleType:
    """Import ``path`` as a fresh module called ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


@contextlib.contextmanager
def work_imports(work: Path) -> Iterator[Callable[[str], ModuleType]]:
    """Inside the block, ``load("name")`` imports ``work/name.py`` with ``work`` first on
    ``sys.path`` (so the learner's files can import each other); afterwards every module
    loaded from ``work`` is forgotten, so the next folder's files of the same name load anew."""
    work = Path(work).resolve()
    sys.path.insert(0, str(work))

    def load(name: str) -> ModuleType:
        sys.modules.pop(name, None)
        return importlib.import_module(name)

    try:
        yield load
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(work))
        for mod_name, mod in list(sys.modules.items()):
            file = getattr(mod, "__file__", None) or ""
            if file and Path(file).resolve().is_relative_to(work):
                del sys.modules[mod_name]


def short_error(exc: BaseException) -> str:
    """The last line of an exception, for a learner: ``NotImplementedError: write me``."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return text if len(text) < 300 else text[:297] + "..."


def import_failed(name: str, exc: BaseException) -> list[Requirement]:
    """What a check reports when the learner's ``name.py`` does not import: that alone."""
    return [need(False, f"{name}.py does not import: {short_error(exc)}",
                 f"{name}.py no se puede importar: {short_error(exc)}")]


@contextlib.contextmanager
def isolated_state(prefix: str = "probe") -> Iterator[Path]:
    """Inside the block, ``WORKBENCH_STATE_DIR`` and ``WORKBENCH_LAKE_ROOT`` name a fresh
    folder (so one work folder's ledger never mixes with another's); yields that folder."""
    root = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    keys = ("WORKBENCH_STATE_DIR", "WORKBENCH_LAKE_ROOT")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({"WORKBENCH_STATE_DIR": str(root / "state"),
                       "WORKBENCH_LAKE_ROOT": str(root / "lake")})
    try:
        yield root
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(root, ignore_errors=True)


def ledger_records(root: Path, **match: Any) -> list[dict[str, Any]]:
    """The ledger records written under ``isolated_state``'s folder, as dicts."""
    from pipelines_core.ledger import Ledger

    return [r.to_dict() for r in Ledger(root / "state" / "ledger.jsonl").read_attempts(**match)]


def probe_main(facts: Callable[[Path], dict[str, Any]]) -> None:
    """Body of a probe script: ``facts(work)`` for every folder named on the command line,
    printed as one JSON object ``{folder: facts}`` on the last line of stdout. A folder whose
    files fail to import gets ``{"error": ...}`` instead of stopping the others."""
    out: dict[str, Any] = {}
    for arg in sys.argv[1:]:
        work = Path(arg).resolve()
        try:
            out[str(work)] = facts(work)
        except BaseException as exc:  # noqa: BLE001 - the learner's code may raise anything
            traceback.print_exc()
            out[str(work)] = {"error": short_error(exc)}
    sys.stdout.flush()
    print("\n" + json.dumps(out, default=str))


@dataclass
class Kit:
    """What a ``check`` gets besides the work folder: probe facts, a scratch folder, Spark."""

    scratch: Path
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # orchestrator -> facts
    probe_logs: dict[str, str] = field(default_factory=dict)

    def config(self, name: str = "exercise", **overrides: Any):
        """A fresh configuration whose lake and state live in their own scratch folder."""
        from pipelines_core.config import load_config

        root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.scratch))
        values = {"lake_root": root / "lake", "state_dir": root / "state", "namespace": name,
                  "scale": 2_000, "spark_mode": "local", "sensor_timeout_s": 5.0,
                  "sensor_poke_s": 0.2, **overrides}
        return load_config(env={}, **values)

    def spark(self):
        """The process's one classic local Spark session (shared by every check)."""
        from pipelines_core.spark import get_session

        return get_session(self.config("spark"))

    def probe(self, orchestrator: str) -> dict[str, Any]:
        """This folder's facts from one orchestrator's probe (``{"error": ...}`` if it failed)."""
        return self.facts.get(orchestrator) or {"error": f"the {orchestrator} probe did not run"}


def probe_env(scratch: Path) -> dict[str, str]:
    """Environment of a probe: its own homes and state, so nothing touches the real stores."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WORKBENCH_", "AIRFLOW", "PREFECT_", "DAGSTER_", "LUIGI_"))}
    home = scratch / "probe-home"
    home.mkdir(parents=True, exist_ok=True)
    env.update({
        "WORKBENCH_LAKE_ROOT": str(home / "lake"), "WORKBENCH_STATE_DIR": str(home / "state"),
        "WORKBENCH_SCALE": "2000", "WORKBENCH_SPARK_MODE": "local",
        "AIRFLOW_HOME": str(home / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow' / 'airflow.db'}",
        "WORKBENCH_AIRFLOW_DEADLINE_H": "0",
        "PREFECT_HOME": str(home / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DAGSTER_HOME": "", "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.pop("DAGSTER_HOME")
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT)] + [p for p in
                                        env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def run_probe(orchestrator: str, script: str, folder: Path, works: Sequence[Path],
              scratch: Path) -> tuple[dict[str, Any], str]:
    """Run ``script`` (a file of ``folder``, maybe followed by arguments) in
    ``orchestrator``'s environment over ``works``; facts per folder."""
    name, *args = script.split()
    python = IMPL_PYTHON[orchestrator]
    if not python.exists():
        err = {"error": f"the {orchestrator} environment is missing ({python}); run `make setup`"}
        return {str(Path(w).resolve()): err for w in works}, ""
    proc = subprocess.run([str(python), str(folder / name), *args,
                           *[str(Path(w).resolve()) for w in works]],
                          capture_output=True, text=True, env=probe_env(scratch),
                          cwd=str(folder), timeout=PROBE_TIMEOUT_S)
    log = proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    try:
        return json.loads(lines[-1]), log
    except (IndexError, json.JSONDecodeError):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        err = {"error": f"the {orchestrator} probe failed: {tail}"}
        return {str(Path(w).resolve()): err for w in works}, log


def check_works(ex: Exercise, works: Sequence[Path],
                scratch: Path | None = None) -> dict[str, list[Requirement]]:
    """Check several work folders of one exercise; requirements per folder.

    Probes run once per orchestrator for all folders, in parallel with each other.
    """
    module = ex.module()
    own_scratch = scratch is None
    scratch = Path(tempfile.mkdtemp(prefix=f"exercise-{ex.number:02d}-")) if own_scratch \
        else Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    works = [Path(w).resolve() for w in works]
    try:
        probes: dict[str, str] = getattr(module, "PROBES", {})
        facts: dict[str, dict[str, Any]] = {}
        logs: dict[str, str] = {}
        if probes:
            with ThreadPoolExecutor(max_workers=len(probes)) as pool:
                futures = {o: pool.submit(run_probe, o, s, ex.path, works, scratch / o)
                           for o, s in probes.items()}
                for o, fut in futures.items():
                    facts[o], logs[o] = fut.result()
        out = {}
        for w in works:
            kit = Kit(scratch=Path(tempfile.mkdtemp(prefix="work-", dir=scratch)),
                      facts={o: f.get(str(w), {"error": "no facts"}) for o, f in facts.items()},
                      probe_logs=logs)
            try:
                out[str(w)] = list(module.check(w, kit))
            except Exception as exc:  # noqa: BLE001 - a check must report, never crash
                traceback.print_exc()
                out[str(w)] = [need(False, f"the work could not be checked: {short_error(exc)}",
                                    f"no se ha podido comprobar el trabajo: {short_error(exc)}")]
        return out
    finally:
        if own_scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def report(ex: Exercise, work: Path, reqs: list[Requirement], lang: str) -> str:
    """The learner's report: one line per unmet requirement, then a summary."""
    met = sum(r.ok for r in reqs)
    rel = os.path.relpath(work, PROJECT_ROOT)
    lines = [(f"Ejercicio {ex.number:02d} · {ex.title('es')} ({rel})" if lang == "es"
              else f"Exercise {ex.number:02d} · {ex.title('en')} ({rel})")]
    for r in reqs:
        if not r.ok:
            lines.append(f"  ✗ {r.text(lang)}")
    hints = os.path.relpath(ex.path / ("hints.es.md" if lang == "es" else "hints.md"),
                            PROJECT_ROOT)
    if met == len(reqs):
        lines.append(f"Todo correcto: se cumplen los {len(reqs)} requisitos. ¡Bien hecho!"
                     if lang == "es" else
                     f"All {len(reqs)} requirements met. Well done!")
    else:
        lines.append(f"Se cumplen {met} de {len(reqs)} requisitos; aún falta lo de arriba "
                     f"(pistas: {hints})." if lang == "es" else
                     f"{met} of {len(reqs)} requirements met; still missing what is listed "
                     f"above (hints: {hints}).")
    return "\n".join(lines)


def prepare(ex: Exercise) -> bool:
    """Copy the starter into ``work/`` unless it exists; True when it was copied."""
    if ex.work.exists():
        return False
    shutil.copytree(ex.starter, ex.work)
    return True


def reset(ex: Exercise) -> None:
    """``work/`` becomes a fresh copy of the starter."""
    shutil.rmtree(ex.work, ignore_errors=True)
    shutil.copytree(ex.starter, ex.work)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_kit.exercises",
                                     description="Check, prepare or reset a course exercise.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="check the work folder (copied from the starter if absent)")
    p.add_argument("number")
    p.add_argument("--work", type=Path, default=None, help="folder to check (default: work/)")
    p = sub.add_parser("reset", help="restore the starter into work/")
    p.add_argument("number")
    sub.add_parser("list", help="list the exercises")
    args = parser.parse_args(argv)
    lang = language()

    if args.command == "list":
        for ex in exercises():
            print(f"{ex.number:2d}  {ex.name:32s} {ex.title(lang)}")
        return 0
    ex = find(args.number)
    if args.command == "reset":
        reset(ex)
        print(f"{os.path.relpath(ex.work, PROJECT_ROOT)}: " +
              ("copia nueva del punto de partida" if lang == "es" else "a fresh copy of the starter"))
        return 0
    work = args.work
    if work is None:
        work = ex.work
        if prepare(ex):
            print(f"{os.path.relpath(work, PROJECT_ROOT)}: " +
                  ("copiado del punto de partida; edita ahí tu solución" if lang == "es"
                   else "copied from the starter; edit your solution there"))
    if not Path(work).is_dir():
        print(f"error: {work} is not a folder", file=sys.stderr)
        return 2
    reqs = check_works(ex, [work])[str(Path(work).resolve())]
    print(report(ex, Path(work).resolve(), reqs, lang))
    return 0 if all(r.ok for r in reqs) else 1


if __name__ == "__main__":
    sys.exit(main())
