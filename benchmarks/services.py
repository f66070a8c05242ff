"""The orchestrators' own UIs over the workbench's stores, and stopping what the workbench
started, through each orchestrator's service command.

``python -m benchmarks.services ui [airflow prefect dagster luigi]`` runs each one's
``python -m workbench_<x>.service up`` (in its own environment) over the home its benchmark
adapter uses (``<state_dir>/<x>/home``; Luigi's ``<state_dir>/luigi``) on the UI port
(Airflow 8080, Dagster 3000, Prefect 4200, Luigi 8082; ``WORKBENCH_UI_PORT_<X>`` moves one),
and prints the URL and the login from the status the command answers.

``down`` runs the service command's ``down`` for every home under the state folder that has
component records (UIs, a benchmark's services), then stops the Spark Connect servers the
workbench recorded. ``status`` prints each recorded service's status.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from benchmarks.adapters.service import ServiceCommand, ServiceCommandError
from pipelines_core.config import WorkbenchConfig, load_config
from pipelines_core.postgres import PostgresServer
from pipelines_core.procs import (ProcessRecord, cmdline, free_port, group_members,
                                  port_open)
from pipelines_core.service import ComponentStatus, ServiceStatus
from pipelines_core.service import print_status as print_service_status
from pipelines_core.spark import connect_server_status, stop_connect_server

ORCHESTRATORS = ("airflow", "prefect", "dagster", "luigi")
UI_PORTS = {"airflow": 8080, "dagster": 3000, "prefect": 4200, "luigi": 8082}
PIPELINE = "customer_daily_etl"
#: Each orchestrator's components, by the names its service command records them under.
COMPONENTS = {"airflow": ("api-server", "scheduler", "dag-processor", "triggerer"),
              "prefect": ("server", "worker"),
              "dagster": ("webserver", "daemon", "code-server"),
              "luigi": ("luigid",)}
#: What the UI's services run with besides the adapter's configuration: the harness triggers
#: every run, so nothing starts a run by itself (Airflow's scheduler clock, Prefect's event
#: trigger, Dagster's automation) and the UI shows exactly the runs that were made.
UI_ENV = {"airflow": {"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"}}
UI_OPTIONS = {"prefect": ["--no-ml-trigger"], "dagster": ["--no-automation"]}


def ui_options(name: str) -> list[str]:
    """The options of the UI's ``up``: Dagster's code server (a gRPC port nobody reads but
    its webserver and daemon) goes on a free port, so it never meets a benchmark's."""
    extra = ["--code-server-port", str(free_port())] if name == "dagster" else []
    return UI_OPTIONS.get(name, []) + extra


@dataclass
class UiInfo:
    """A running UI: where it is, how to log in, its home and its components' process groups."""

    name: str
    url: str
    port: int
    home: str
    username: str | None = None
    password: str | None = None
    pgids: list[int] = field(default_factory=list)

    @property
    def login(self) -> str:
        if self.username:
            return f"user {self.username}, password {self.password}"
        return "no login"

    @classmethod
    def from_status(cls, name: str, status: dict[str, Any]) -> "UiInfo":
        """The UI a service command's status describes."""
        info = status.get("info") or {}
        url = status["url"]
        return cls(name, url, urlparse(url).port or 80, status["home"], info.get("username"),
                   info.get("password"),
                   [c["pgid"] for c in status["components"] if c.get("pgid")])


def ui_config(config: WorkbenchConfig, name: str) -> WorkbenchConfig:
    """The configuration an orchestrator's adapter runs with (its namespace and name), so a
    run started from the UI writes where the adapter's runs do."""
    return config.replace(namespace=name, orchestrator=name)


def home_of(config: WorkbenchConfig, name: str) -> Path:
    """The home the orchestrator's benchmark adapter runs its services over."""
    return config.state_dir / "luigi" if name == "luigi" else config.state_dir / name / "home"


def ui_port(name: str) -> int:
    raw = os.environ.get(f"WORKBENCH_UI_PORT_{name.upper()}")
    return int(raw) if raw else UI_PORTS[name]


def service_command(name: str, config: WorkbenchConfig, port: int | None = None,
                    options: list[str] | None = None) -> ServiceCommand:
    """``name``'s service command over its adapter's home, in the adapter's namespace and with
    the UI's settings; ``port`` None lets the command find the port its components run on."""
    if name not in ORCHESTRATORS:
        raise ValueError(f"unknown orchestrator {name!r}; known: {', '.join(ORCHESTRATORS)}")
    cfg = ui_config(config, name)
    return ServiceCommand(name, home_of(cfg, name), port=port, options=options,
                          env={**os.environ, **cfg.to_env(), **UI_ENV.get(name, {})})


def _running(status: dict[str, Any]) -> bool:
    return any(c["health"] != "down" for c in status["components"])


# --- starting ------------------------------------------------------------------------------

def start_ui(name: str, config: WorkbenchConfig, port: int | None = None) -> UiInfo:
    """Bring ``name``'s services up over its adapter's home with the UI on 127.0.0.1:``port``
    and wait until they are healthy; services of that home already running there are
    returned as they are."""
    port = port or ui_port(name)
    current = service_command(name, config).status()
    if _running(current) and urlparse(current["url"] or "").port != port:
        raise RuntimeError(f"{name}'s services already run over {current['home']} at "
                           f"{current['url']} (a benchmark?): wait for them to end or stop "
                           f"them with `make down`")
    if not _running(current) and port_open(port):
        raise RuntimeError(f"port {port} on 127.0.0.1 is taken by a process this state folder "
                           f"({config.state_dir}) did not record; stop it or choose another "
                           f"port (WORKBENCH_UI_PORT_{name.upper()})")
    command = service_command(name, config, port, ui_options(name))
    # the profile the home last ran on (a benchmark's), else the production profile
    command.profile = None if (command.home / "service" / "options.json").exists() \
        else "production"
    return UiInfo.from_status(name, command.up())


def running_ui(config: WorkbenchConfig, name: str) -> UiInfo | None:
    """``name``'s UI over its adapter's home when its services are healthy, else None."""
    status = service_command(name, config).status()
    return UiInfo.from_status(name, status) if status["healthy"] else None


def start_uis(names: list[str], config: WorkbenchConfig,
              ports: dict[str, int] | None = None) -> dict[str, UiInfo | Exception]:
    """Start several UIs at once (each mostly waits for its server); a failure is returned
    in place of that UI's info, the others still start."""
    ports = ports or {}

    def one(name: str) -> UiInfo | Exception:
        try:
            return start_ui(name, config, ports.get(name))
        except Exception as exc:  # noqa: BLE001 - reported per UI
            return exc

    with ThreadPoolExecutor(max_workers=len(names) or 1) as pool:
        return dict(zip(names, pool.map(one, names)))


# --- what runs, and stopping it --------------------------------------------------------------

@dataclass
class ServiceHome:
    """A home under the state folder with component records, and the live ones among them."""

    orchestrator: str
    home: Path
    live: list[ProcessRecord]


def service_homes(state_dir: Path) -> list[ServiceHome]:
    """Every home under ``state_dir`` (up to three folders down) whose ``service/`` folder
    holds a component record, with its orchestrator told by the components' names."""
    owner = {c: name for name, comps in COMPONENTS.items() for c in comps}
    found: dict[Path, ServiceHome] = {}
    for depth in range(1, 4):
        for path in sorted(state_dir.glob("/".join(["*"] * depth) + "/service/*.json")):
            rec = ProcessRecord.load(path)
            if rec is None or rec.name not in owner:
                continue
            home = path.parent.parent
            entry = found.setdefault(home, ServiceHome(owner[rec.name], home, []))
            if rec.alive():
                entry.live.append(rec)
    return list(found.values())


def _spark_configs(config: WorkbenchConfig) -> list[WorkbenchConfig]:
    """The configuration of every Spark Connect server recorded under the state folder."""
    ports = {config.spark_connect_port}
    for pid_file in (config.state_dir / "pids").glob("spark-connect-*.pid"):
        suffix = pid_file.stem.removeprefix("spark-connect-")
        if suffix.isdigit():
            ports.add(int(suffix))
    return [config.replace(spark_connect_port=p) for p in sorted(ports)]


def down(config: WorkbenchConfig, say: Callable[[str], None] = print) -> list[str]:
    """``down`` of every recorded home's service command (in parallel), then the recorded
    Spark Connect servers and the workbench's PostgreSQL; returns what was stopped, one line
    each."""

    def stop(entry: ServiceHome) -> list[str]:
        ServiceCommand(entry.orchestrator, entry.home).down()
        return [f"{entry.orchestrator} {rec.name} over {entry.home}: process group "
                f"{rec.pgid}" for rec in entry.live]

    stopped: list[str] = []
    homes = service_homes(config.state_dir)
    with ThreadPoolExecutor(max_workers=len(homes) or 1) as pool:
        futures = [(entry, pool.submit(stop, entry)) for entry in homes]
        for entry, fut in futures:
            try:
                stopped += fut.result()
            except ServiceCommandError as exc:
                say(f"{entry.orchestrator} over {entry.home}: {exc}")
    for cfg in _spark_configs(config):
        pid = connect_server_status(cfg)["pid"]
        if pid and not any("spark" in cmdline(p) for p in group_members(pid)):
            say(f"left alone: the Spark Connect record of port {cfg.spark_connect_port} names "
                f"pid {pid}, which now runs something else")
            continue
        if stop_connect_server(cfg) and pid:
            stopped.append(f"Spark Connect server ({cfg.spark_connect_port}): process group "
                           f"{pid}")
    server = PostgresServer(config)
    pid = server.status()["pid"]
    if pid and server.stop():
        stopped.append(f"PostgreSQL ({server.port}): process group {pid}")
    for line in stopped:
        say(f"stopped {line}")
    if not stopped:
        say(f"nothing running (records under {config.state_dir})")
    return stopped


def status(config: WorkbenchConfig) -> list[dict[str, Any]]:
    """The status of every recorded home's services that run (their service command's
    ``status``), in parallel."""
    homes = [h for h in service_homes(config.state_dir) if h.live]
    with ThreadPoolExecutor(max_workers=len(homes) or 1) as pool:
        return list(pool.map(lambda h: ServiceCommand(h.orchestrator, h.home).status(), homes))


# --- command line ------------------------------------------------------------------------------

def print_ui(info: UiInfo) -> None:
    print(f"{info.name:8} {info.url:24} {info.login}")


def print_status(status: dict[str, Any]) -> None:
    """A service command's status as the command prints it (its settings left out)."""
    info = {k: v for k, v in (status.get("info") or {}).items() if not isinstance(v, dict)}
    print_service_status(ServiceStatus(**{**status, "info": info, "components": [
        ComponentStatus(**c) for c in status["components"]]}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.services",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ui = sub.add_parser("ui", help="start the orchestrators' UIs over the workbench's stores")
    ui.add_argument("names", nargs="*", metavar="orchestrator",
                    help=f"any of {', '.join(ORCHESTRATORS)} (default: all four)")
    sub.add_parser("down", help="stop every recorded service and Spark Connect server")
    sub.add_parser("status", help="each recorded service's status")
    args = parser.parse_args(argv)
    config = load_config()

    if args.command == "down":
        down(config)
        return 0
    if args.command == "status":
        statuses = status(config)
        for st in statuses:
            print_status(st)
        spark = connect_server_status(config)
        if spark["pid"]:
            print(f"Spark Connect server running (pid {spark['pid']}) at {spark['url']}")
        if not statuses and not spark["pid"]:
            print(f"nothing running (records under {config.state_dir})")
        return 0

    names = list(dict.fromkeys(args.names or ORCHESTRATORS))
    unknown = [n for n in names if n not in ORCHESTRATORS]
    if unknown:
        parser.error(f"unknown orchestrator(s) {', '.join(unknown)}; known: "
                     f"{', '.join(ORCHESTRATORS)}")
    print(f"starting {', '.join(names)} over {config.state_dir} (this takes a minute)",
          flush=True)
    results = start_uis(names, config)
    failed = 0
    for name in names:
        result = results[name]
        if isinstance(result, Exception):
            failed += 1
            print(f"{name:8} failed: {result}")
        else:
            print_ui(result)
    print("stop them with `make down`")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
