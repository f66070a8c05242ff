"""The shape every orchestrator's service command shares.

Each implementation has ``workbench_<x>/service.py``, run in its own environment, as the one
way that orchestrator's long-running parts live::

    python -m workbench_<x>.service [--home H] [--port P] [--json] up
    python -m workbench_<x>.service [--home H] [--json] down | status
    python -m workbench_<x>.service [--home H] [--json] kill COMPONENT | restart COMPONENT

A :class:`Service` names its components (in start order) with the orchestrator's own names
and how its docs start each; this module starts each in its own process group with a pid
record under ``<home>/service/``, waits until it is healthy, and answers ``status`` with one
record per component (name, pid, process group, port, health). ``kill`` sends SIGKILL to one
component's process group and nothing else; ``restart`` starts it again. Nothing here
supervises: a component that dies is reported ``down`` until someone restarts it.

Settings travel as environment: the caller's ``WORKBENCH_*`` variables (the configuration of
the steps the orchestrator runs) and the orchestrator's own variables reach every component.

Profiles (``--profile``): ``default`` keeps each orchestrator's quickstart storage (SQLite
files in its home); ``production`` puts its metadata in its own database on the workbench's
PostgreSQL server (:mod:`pipelines_core.postgres`, started by ``up`` when it does not run), as
every orchestrator's docs recommend beyond development. Options of ``up`` (the profile, and
those a subclass adds to :attr:`Service.option_defaults`) are recorded, so that ``status``,
``restart`` and a later ``up`` without them keep what runs.

Crash detection (``--detection``): how soon an orchestrator notices that a part of it, or a
task's process, died is set by a few settings of its own (a heartbeat timeout, a monitoring
poll, an automation). ``default`` leaves them at the orchestrator's defaults, what a user gets;
``tuned`` applies the values the workbench's subclass names (:attr:`Service.detection_tuned`)
after its docs. ``status`` shows the mode and every such setting in force
(``info.detection``), so a figure is never read without them.
"""

from __future__ import annotations

import abc
import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from pipelines_core.config import PROJECT_ROOT, WorkbenchConfig, config_for
from pipelines_core.errors import WorkbenchError
from pipelines_core.postgres import PostgresServer
from pipelines_core.procs import (ProcessRecord, kill_group, poll_until, port_open,
                                  start_recorded, stop_group, wait_port_free)

HEALTHY, STARTING, UNHEALTHY, DOWN = "healthy", "starting", "unhealthy", "down"
PROFILES = ("production", "default")
DETECTIONS = ("default", "tuned")


class ServiceError(WorkbenchError):
    """A service could not be started, found or stopped; the message says why and where."""


@dataclass
class Component:
    """One long-running part of an orchestrator, as its docs start it.

    Attributes:
        name: The orchestrator's own name for it (``scheduler``, ``daemon``, ``luigid``...).
        cmd: The command line that starts it.
        port: The TCP port it serves on 127.0.0.1, if any.
        healthy: A check beyond "alive and listening" (an HTTP health endpoint); None when
            alive (and listening, with a port) is all there is to know.
        env: Its environment; the service's :meth:`Service.env` when None.
        cwd: Its working folder; the service's home when None.
        ready_timeout_s: How long ``up`` and ``restart`` wait for it to become healthy.
    """

    name: str
    cmd: list[str]
    port: int | None = None
    healthy: Callable[[], bool] | None = None
    env: dict[str, str] | None = None
    cwd: Path | None = None
    ready_timeout_s: float = 180.0


@dataclass
class ComponentStatus:
    """One row of ``status --json``."""

    name: str
    health: str
    pid: int | None = None
    pgid: int | None = None
    port: int | None = None
    started: float | None = None
    log: str | None = None


@dataclass
class ServiceStatus:
    """What ``status --json`` (and ``up --json``) prints."""

    orchestrator: str
    home: str
    url: str | None
    healthy: bool
    components: list[ComponentStatus]
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Service(abc.ABC):
    """One orchestrator's services over one home folder.

    Subclasses set :attr:`orchestrator` and :attr:`default_port`, give :meth:`components`,
    and may add :meth:`prepare` (before the first component starts: write config files,
    migrate a database), :meth:`after_up` (once all are healthy: deploy flows, wait for DAGs
    to be parsed), :meth:`info` (URL and login shown to a person) and :meth:`add_options`.
    """

    orchestrator: str = ""
    default_port: int = 0
    #: The component that serves ``--port``: without ``--port``, a running home's commands
    #: (``status``, ``kill``, ``restart``) use the port that component was started on.
    port_component: str | None = None
    #: Options that ``up`` records and later commands keep (name: default when never given).
    option_defaults: dict[str, Any] = {"profile": "default", "detection": "default"}
    #: The orchestrator's crash-detection settings at its own defaults (as its installed
    #: source has them), and the values ``--detection tuned`` gives some of them.
    detection_defaults: dict[str, str] = {}
    detection_tuned: dict[str, str] = {}

    def __init__(self, home: Path | None = None, port: int | None = None, *,
                 config: WorkbenchConfig | None = None,
                 options: argparse.Namespace | None = None) -> None:
        self.config = config or config_for(self.orchestrator)
        self.home = Path(home or self.config.state_dir / self.orchestrator / "home").resolve()
        self.port = port or self.default_port
        self.options = options or argparse.Namespace()
        served = self.record(self.port_component) if self.port_component else None
        if port is None and served is not None and served.port:
            self.port = served.port

    # --- options and profile ----------------------------------------------------------------

    def option(self, name: str) -> Any:
        """An option as given, else as the last ``up`` of this home recorded it, else its
        default: so ``status`` and ``restart`` see what runs."""
        given = getattr(self.options, name, None)
        if given is not None:
            return given
        try:
            used = json.loads(self.options_path.read_text())
        except (OSError, ValueError):
            used = {}
        return used.get(name, self.option_defaults[name])

    @property
    def options_path(self) -> Path:
        return self.record_dir / "options.json"

    def record_options(self) -> None:
        self.record_dir.mkdir(parents=True, exist_ok=True)
        self.options_path.write_text(json.dumps({n: self.option(n)
                                                 for n in self.option_defaults}))
        self.detection_path.unlink(missing_ok=True)
        self.detection_path.write_text(json.dumps(self.detection()))

    @property
    def profile(self) -> str:
        return str(self.option("profile"))

    @property
    def tuned(self) -> bool:
        """Whether the crash-detection settings are tuned (``--detection tuned``)."""
        return self.option("detection") == "tuned"

    @property
    def detection_path(self) -> Path:
        return self.record_dir / "detection.json"

    def detection(self) -> dict[str, Any]:
        """The crash-detection mode and every setting of it in force, as ``status`` shows:
        as the last ``up`` applied them (what runs), else as ``up`` would now."""
        try:
            return json.loads(self.detection_path.read_text())
        except (OSError, ValueError):
            return {"mode": self.option("detection"),
                    "settings": {**self.detection_defaults,
                                 **(self.detection_tuned if self.tuned else {})},
                    "tuned": dict(self.detection_tuned)}

    def database_url(self, driver: str) -> str | None:
        """On the production profile, the URL (SQLAlchemy style, ``driver`` e.g.
        ``postgresql+psycopg2``) of this orchestrator's database on the workbench's PostgreSQL
        server (which ``up`` starts when it does not run); None on the default profile."""
        if self.profile != "production":
            return None
        return PostgresServer(self.config).url(self.orchestrator, driver)

    # --- what a subclass says ---------------------------------------------------------------

    @abc.abstractmethod
    def components(self) -> list[Component]:
        """Every component, in the order they start."""

    def prepare(self) -> None:
        """Before any component starts (``up`` only)."""

    def after_up(self) -> None:
        """After every component is healthy (``up`` only)."""

    def info(self) -> dict[str, Any]:
        """What a person needs besides the URL (a login, where the store is)."""
        return {}

    @property
    def url(self) -> str | None:
        return f"http://127.0.0.1:{self.port}" if self.port else None

    def env(self) -> dict[str, str]:
        """The environment of every component: the caller's, with the configuration's
        ``WORKBENCH_*`` variables."""
        return {**os.environ, **self.config.to_env()}

    @classmethod
    def add_options(cls, parser: argparse.ArgumentParser) -> None:
        """Orchestrator-specific options of ``up`` and ``restart``."""

    @classmethod
    def compose_files(cls) -> dict[str, str]:
        """The files of the compose stack that carry this orchestrator's settings, as this
        module decides them (``{path from the project root: text}``): one source for the
        native services and the containers. ``compose-files --write`` writes them; a test
        checks that the committed ones are current."""
        return {}

    # --- records ------------------------------------------------------------------------------

    @property
    def record_dir(self) -> Path:
        return self.home / "service"

    @property
    def log_dir(self) -> Path:
        return self.home / "service" / "logs"

    def record_path(self, name: str) -> Path:
        return self.record_dir / f"{name}.json"

    def record(self, name: str) -> ProcessRecord | None:
        return ProcessRecord.load(self.record_path(name))

    def component(self, name: str) -> Component:
        found = {c.name: c for c in self.components()}
        if name not in found:
            raise ServiceError(f"{self.orchestrator} has no component {name!r}; "
                               f"its components: {', '.join(found)}")
        return found[name]

    def health(self, comp: Component) -> ComponentStatus:
        rec = self.record(comp.name)
        row = ComponentStatus(comp.name, DOWN, port=comp.port)
        if rec is None:
            return row
        row.pid, row.pgid, row.started, row.log = rec.pid, rec.pgid, rec.started, rec.log
        row.port = rec.port
        if not rec.alive():
            return row
        listening = rec.port is None or port_open(rec.port)
        try:
            ok = listening and (comp.healthy is None or bool(comp.healthy()))
        except Exception:  # noqa: BLE001 - a health check that fails says "not healthy"
            ok = False
        row.health = HEALTHY if ok else UNHEALTHY
        return row

    # --- the commands ------------------------------------------------------------------------

    def status(self) -> ServiceStatus:
        rows = [self.health(c) for c in self.components()]
        return ServiceStatus(self.orchestrator, str(self.home), self.url,
                             all(r.health == HEALTHY for r in rows), rows,
                             {**self.info(), "detection": self.detection()})

    @staticmethod
    def component_healthy(status: ServiceStatus, name: str) -> bool:
        return any(r.name == name and r.health == HEALTHY for r in status.components)

    def start_component(self, comp: Component, say: Callable[[str], None] = lambda _: None
                        ) -> ComponentStatus:
        """Start ``comp`` (unless it already runs) and wait until it is healthy."""
        current = self.health(comp)
        if current.health == HEALTHY:
            return current
        if current.health == UNHEALTHY:  # alive but not answering: give it its time
            return self.wait_healthy(comp)
        if comp.port and port_open(comp.port):
            raise ServiceError(f"{self.orchestrator} {comp.name}: port {comp.port} on "
                               f"127.0.0.1 is taken by a process this home ({self.home}) did "
                               f"not start; stop it or choose another port")
        log = self.log_dir / f"{comp.name}.log"
        say(f"starting {self.orchestrator} {comp.name}")
        proc, _ = start_recorded(comp.name, comp.cmd, record=self.record_path(comp.name),
                                 log=log, env=comp.env or self.env(), cwd=comp.cwd or self.home,
                                 port=comp.port)
        return self.wait_healthy(comp, lambda: (
            f"exited with code {proc.returncode}; last lines of {log}:\n{tail(log)}"
            if proc.poll() is not None else None))

    def wait_healthy(self, comp: Component, fail: Callable[[], str | None] | None = None
                     ) -> ComponentStatus:
        def check() -> ComponentStatus | None:
            row = self.health(comp)
            return row if row.health == HEALTHY else None

        def dead() -> str | None:
            # A process this call started is judged by its own exit: between fork and exec
            # its command line is still its parent's, so a record check could call it gone.
            if fail is not None:
                return fail()
            return None if self.health(comp).health != DOWN else "its process is gone"

        try:
            return poll_until(check, timeout_s=comp.ready_timeout_s, interval_s=0.5,
                              what=f"{self.orchestrator} {comp.name} healthy", fail=dead,
                              error=ServiceError)
        except RuntimeError as exc:
            raise ServiceError(str(exc)) from None

    def up(self, say: Callable[[str], None] = lambda _: None) -> ServiceStatus:
        """Start every component that is not running, wait until all are healthy, then
        :meth:`after_up`. On failure, what this call started is stopped again."""
        before = {r.name for r in self.status().components if r.health != DOWN}
        self.home.mkdir(parents=True, exist_ok=True)
        self.record_options()
        if self.profile == "production":
            say("starting the workbench's PostgreSQL (production profile)")
            PostgresServer(self.config).start()
        try:
            self.prepare()
            for comp in self.components():
                self.start_component(comp, say)
            self.after_up()
        except BaseException:
            for comp in reversed(self.components()):
                if comp.name not in before:
                    self.stop_component(comp.name)
            raise
        return self.status()

    def stop_component(self, name: str, grace_s: float = 20.0) -> int:
        """TERM then KILL the component's process group; returns how many processes it had."""
        rec = self.record(name)
        if rec is None:
            return 0
        count = stop_group(rec.pgid, grace_s) if rec.alive() else 0
        if rec.port:
            wait_port_free([rec.port])
        self.record_path(name).unlink(missing_ok=True)
        return count

    def down(self, say: Callable[[str], None] = lambda _: None) -> list[str]:
        """Stop every component, last started first; returns what was stopped."""
        stopped = []
        for comp in reversed(self.components()):
            rec = self.record(comp.name)
            n = self.stop_component(comp.name)
            if n:
                stopped.append(f"{comp.name} (process group {rec.pgid}, {n} process(es))")
                say(f"stopped {self.orchestrator} {stopped[-1]}")
        return stopped

    def kill(self, name: str) -> ComponentStatus:
        """SIGKILL the component's process group and nothing else: a crash, as an OOM killer
        or a lost machine would cause. The record stays, so ``status`` shows it down."""
        comp = self.component(name)
        rec = self.record(name)
        if rec is None or not rec.alive():
            raise ServiceError(f"{self.orchestrator} {name} is not running")
        kill_group(rec.pgid)
        return self.health(comp)

    def restart(self, name: str, say: Callable[[str], None] = lambda _: None
                ) -> ComponentStatus:
        """Start ``name`` again (stopping it first if it still runs), and wait until healthy."""
        comp = self.component(name)
        self.stop_component(name)
        return self.start_component(comp, say)


def env_file(settings: dict[str, str], header: str) -> str:
    """``settings`` as a compose ``env_file`` (``KEY=value`` lines), under a ``#`` header."""
    lines = [f"# {line}".rstrip() for line in header.strip().splitlines()]
    return "\n".join(lines + [f"{k}={v}" for k, v in settings.items()]) + "\n"


GENERATED = ("Generated by `make compose-files` from {source}: edit the settings there, "
             "not here.")


def hide_password(value: str) -> str:
    """``value`` with the password of a ``scheme://user:password@host`` URL hidden, for a
    setting that ``status`` shows (a database URL)."""
    head, sep, rest = value.partition("://")
    creds, at, host = rest.rpartition("@")
    if sep and at and ":" in creds:
        return f"{head}://{creds.split(':', 1)[0]}:***@{host}"
    return value


def tail(path: Path | str, lines: int = 30) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def print_status(status: ServiceStatus) -> None:
    print(f"{status.orchestrator} over {status.home}: "
          f"{'healthy' if status.healthy else 'not healthy'}"
          + (f" at {status.url}" if status.url else ""))
    for row in status.components:
        where = f"port {row.port}" if row.port else "no port"
        proc = f"pid {row.pid} (group {row.pgid})" if row.pid else "no process"
        print(f"  {row.name:14} {row.health:10} {proc:28} {where}")
    for key, value in status.info.items():
        print(f"  {key}: {value}")


def main(service_cls: type[Service], argv: Sequence[str] | None = None) -> int:
    """The command line of ``service_cls`` (``python -m workbench_<x>.service``)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m workbench_{service_cls.orchestrator}.service",
        description=f"{service_cls.orchestrator}'s services over one home folder: start, "
                    f"stop, inspect, crash or restart each component.")
    parser.add_argument("--home", type=Path, help="the orchestrator's home folder (default: "
                        f"<state_dir>/{service_cls.orchestrator}/home)")
    parser.add_argument("--port", type=int, default=None,
                        help=f"the port of its API/UI on 127.0.0.1 (default "
                             f"{service_cls.default_port})")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    parser.add_argument("--profile", choices=PROFILES,
                        help="up: production (metadata on the workbench's PostgreSQL) or "
                             "default (the quickstart's SQLite); default: what the last up "
                             "used, else default")
    parser.add_argument("--detection", choices=DETECTIONS,
                        help="up: the crash-detection settings at the orchestrator's "
                             "defaults, or tuned (status shows both); default: what the last "
                             "up used, else default")
    service_cls.add_options(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start every component and wait until all are healthy")
    sub.add_parser("down", help="stop every component (TERM, a wait, then KILL)")
    sub.add_parser("status", help="every component: pid, process group, port, health")
    for name, text in (("kill", "SIGKILL one component's process group, nothing else"),
                       ("restart", "start one component again and wait until healthy")):
        one = sub.add_parser(name, help=text)
        one.add_argument("component")
    files = sub.add_parser("compose-files", help="the compose stack's files that carry this "
                           "orchestrator's settings (JSON), or --write them")
    files.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "compose-files":
        texts = service_cls.compose_files()
        if args.write:
            for rel, text in texts.items():
                (PROJECT_ROOT / rel).write_text(text)
                print(f"wrote {rel}")
        else:
            print(json.dumps(texts))
        return 0

    def say(text: str) -> None:
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    try:
        service = service_cls(args.home, args.port, options=args)
        if args.command == "up":
            t0 = time.monotonic()
            status = service.up(say)
            say(f"{service.orchestrator} up in {time.monotonic() - t0:.1f} s")
        elif args.command == "down":
            stopped = service.down(say)
            if not stopped:
                say(f"{service.orchestrator}: nothing running over {service.home}")
            status = service.status()
        elif args.command == "kill":
            service.kill(args.component)
            status = service.status()
        elif args.command == "restart":
            service.restart(args.component, say)
            status = service.status()
        else:
            status = service.status()
    except WorkbenchError as exc:
        if args.json:
            print(json.dumps({"error": str(exc)}))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(status.to_dict()))
    else:
        print_status(status)
    if args.command == "restart":  # the component asked for, healthy; the others as they are
        return 0 if service.component_healthy(status, args.component) else 1
    return 0 if status.healthy or args.command in ("down", "kill", "status") else 1
