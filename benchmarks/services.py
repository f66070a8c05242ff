"""The orchestrators' own UIs over the workbench's stores, and stopping what the workbench started.

``python -m benchmarks.services ui [airflow prefect dagster luigi]`` starts each UI on
127.0.0.1 (Airflow 8080, Dagster 3000, Prefect 4200, Luigi 8082) over the same stores the
benchmark adapters write (``<state_dir>/airflow/home``, ``<state_dir>/prefect/home``,
``<state_dir>/dagster/home``, ``<state_dir>/luigi``), in the background, and prints the URLs
and how to log in. The servers are started by the implementations' own helpers, which record
each process group's leader in a pid file; a record of the UI (URL, port, login, pids) goes to
``<state_dir>/pids/ui-<orchestrator>.json``.

``down`` stops every process group the workbench recorded a pid for under the state folder
(UIs, orchestrator services, Spark Connect servers): TERM to the group, a wait, then KILL,
and nothing else. A recorded group is only signalled while one of its processes runs a
program of this project (its command line names the project folder), so a stale pid file
whose number the system gave to another process is dropped, not acted on. ``status`` lists
what runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipelines_core.config import PROJECT_ROOT, WorkbenchConfig, load_config
from pipelines_core.procs import free_port, port_open  # noqa: F401 - free_port for callers
from pipelines_core.spark import stop_connect_server

ORCHESTRATORS = ("airflow", "prefect", "dagster", "luigi")
UI_PORTS = {"airflow": 8080, "dagster": 3000, "prefect": 4200, "luigi": 8082}
PIPELINE = "customer_daily_etl"
_STORES = {"airflow": "airflow/home", "prefect": "prefect/home", "dagster": "dagster/home",
           "luigi": "luigi"}


@dataclass
class UiInfo:
    """A running UI: where it is, how to log in, and the process groups serving it."""

    name: str
    url: str
    port: int
    pids: list[int] = field(default_factory=list)
    username: str | None = None
    password: str | None = None
    store: str = ""

    @property
    def login(self) -> str:
        if self.username:
            return f"user {self.username}, password {self.password}"
        return "no login"

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def ui_config(config: WorkbenchConfig, name: str) -> WorkbenchConfig:
    """The configuration an orchestrator's adapter runs with (its namespace and name), so a
    run started from the UI writes where the adapter's runs do."""
    return config.replace(namespace=name, orchestrator=name)


def record_path(config: WorkbenchConfig, name: str) -> Path:
    return config.state_dir / "pids" / f"ui-{name}.json"


def read_record(config: WorkbenchConfig, name: str) -> UiInfo | None:
    path = record_path(config, name)
    if not path.exists():
        return None
    return UiInfo(**json.loads(path.read_text()))


# --- starting ------------------------------------------------------------------------------

def start_ui(name: str, config: WorkbenchConfig, port: int | None = None) -> UiInfo:
    """Start ``name``'s UI over the workbench's store on 127.0.0.1:``port`` and wait until it
    serves; an already running UI of this state folder is returned as it is."""
    if name not in ORCHESTRATORS:
        raise ValueError(f"unknown orchestrator {name!r}; known: {', '.join(ORCHESTRATORS)}")
    running = read_record(config, name)
    if running is not None and any(group_members(p) for p in running.pids):
        return running
    busy = [r for r in records(config.state_dir / _STORES[name])
            if any(group_members(p) and ours(p) for p in r.pgids)]
    if busy and name != "luigi":  # luigid is shared: a worker and the UI use the same one
        raise RuntimeError(f"{name}'s services already run over {config.state_dir / _STORES[name]} "
                           f"(recorded in {busy[0].path}; a benchmark?): wait for them to end "
                           f"or stop them with `make down`")
    port = port or UI_PORTS[name]
    if port_open(port) and not busy:
        raise RuntimeError(f"port {port} on 127.0.0.1 is taken by a process this state folder "
                           f"({config.state_dir}) did not record; stop it or choose another "
                           f"port (WORKBENCH_UI_PORT_{name.upper()})")
    cfg = ui_config(config, name)
    info = {"airflow": _start_airflow, "prefect": _start_prefect, "dagster": _start_dagster,
            "luigi": _start_luigi}[name](cfg, port)
    path = record_path(config, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(info.to_json())
    return info


def _start_airflow(cfg: WorkbenchConfig, port: int) -> UiInfo:
    from benchmarks.adapters.airflow_server import USERNAME, AirflowServer

    home = cfg.state_dir / "airflow" / "home"
    # The adapter's settings: the harness triggers every run, so the scheduler's own clock is
    # off and the UI shows exactly the runs that were made.
    server = AirflowServer(home, api_port=port,
                           extra_env={**cfg.to_env(),
                                      "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"},
                           sql_alchemy_conn=os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"))
    server.start()
    assert server.proc is not None
    return UiInfo("airflow", server.url, port, [server.proc.pid], USERNAME, server.password,
                  str(home))


def _start_prefect(cfg: WorkbenchConfig, port: int) -> UiInfo:
    from benchmarks.adapters.prefect import PrefectServer

    home = cfg.state_dir / "prefect" / "home"
    server = PrefectServer(home, port)
    # The UI asks the API at PREFECT_UI_API_URL, which Prefect derives from its port
    # *setting* (4200 by default), not from `--port`: name this server's own API.
    server.process.env["PREFECT_UI_API_URL"] = server.api_url
    server.start()
    pid = int(server.process.pid_file.read_text())
    return UiInfo("prefect", server.url, port, [pid], store=str(home))


def _start_dagster(cfg: WorkbenchConfig, port: int) -> UiInfo:
    from benchmarks.adapters.dagster import _load

    home = cfg.state_dir / "dagster" / "home"
    # The daemon too, so that backfills and queued runs launched from the UI run; automation
    # off as in the benchmark, so opening the UI starts no run by itself.
    services = _load("services").DagsterServices(cfg, home, port=port, automation=False)
    try:
        services.start()
    except Exception:
        services.stop()
        raise
    return UiInfo("dagster", services.url, port, [p.pid for p in services.procs.values()],
                  store=str(home))


def _start_luigi(cfg: WorkbenchConfig, port: int) -> UiInfo:
    from benchmarks.adapters.luigi import LuigiAdapter

    adapter = LuigiAdapter(cfg, port=port)
    adapter.start()
    record = json.loads((adapter.root / "luigid.json").read_text())
    # An already running luigid of this store is reused, wherever it listens.
    return UiInfo("luigi", f"http://127.0.0.1:{record['port']}", record["port"],
                  [record["pid"]], store=str(adapter.root))


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


# --- process groups on record ----------------------------------------------------------------

def _proc_stat(pid: str) -> tuple[str, int] | None:
    """(state, process group) of a process from /proc, None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[2])


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def group_members(pgid: int) -> list[int]:
    """The live (non-zombie) processes of process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _proc_stat(entry.name)
        if stat and stat[0] != "Z" and stat[1] == pgid:
            members.append(int(entry.name))
    return members


def ours(pgid: int) -> bool:
    """Whether a process of the group runs a program of this project."""
    root = str(PROJECT_ROOT)
    return any(root in _cmdline(pid) for pid in group_members(pgid))


def stop_group(pgid: int, grace_s: float = 20.0) -> int:
    """TERM the group, wait up to ``grace_s`` for every member to end, then KILL the rest.
    Returns how many processes the group had."""
    count = len(group_members(pgid))
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        if not group_members(pgid):
            break
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and group_members(pgid):
            _reap(pgid)
            time.sleep(0.2)
    _reap(pgid)
    return count


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


@dataclass
class Record:
    """One pid record under the state folder: the file and the process groups it names."""

    path: Path
    label: str
    pgids: list[int]


def _label(path: Path, state_dir: Path) -> str:
    rel = path.relative_to(state_dir)
    parts = rel.parts
    if path.name.startswith("ui-") and path.suffix == ".json":
        return f"{path.stem[3:]} UI"
    if path.name.startswith("spark-connect-"):
        return f"Spark Connect server ({path.stem.removeprefix('spark-connect-')})"
    if path.name == "luigid.json":
        return "luigid"
    owner = parts[0] if len(parts) > 1 else "workbench"
    return f"{owner} {path.stem}"


def records(state_dir: Path) -> list[Record]:
    """Every pid record the workbench and the implementations' helpers write under
    ``state_dir``: ``*.pid`` files (one group leader each: Spark Connect, Airflow, the
    Dagster webserver and daemon, the Prefect server and worker), luigid's ``luigid.json``
    and the UI records ``pids/ui-*.json``."""
    found = []
    if not state_dir.is_dir():
        return found
    for path in sorted(state_dir.rglob("*")):
        try:
            if path.suffix == ".pid" and path.is_file():
                pgids = [int(path.read_text().strip())]
            elif path.name == "luigid.json":
                pgids = [int(json.loads(path.read_text())["pid"])]
            elif path.parent == state_dir / "pids" and path.name.startswith("ui-") \
                    and path.suffix == ".json":
                pgids = [int(p) for p in json.loads(path.read_text())["pids"]]
            else:
                continue
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append(Record(path, _label(path, state_dir), pgids))
    # The UI records first, so that what ``down`` reports names the UI it stopped.
    return sorted(found, key=lambda r: not r.label.endswith(" UI"))


def down(config: WorkbenchConfig, say=print) -> list[str]:
    """Stop every process group recorded under the state folder; returns what was stopped.

    The Spark Connect server of the configuration goes through the core's own
    ``stop_connect_server``; every other record is stopped by its process group. Records are
    removed once their groups are gone.
    """
    stopped: list[str] = []
    spark_pid_file = config.state_dir / "pids" / f"spark-connect-{config.spark_connect_port}.pid"
    if spark_pid_file.exists():
        pgid = int(spark_pid_file.read_text().strip() or 0)
        if pgid and group_members(pgid) and ours(pgid):
            n = len(group_members(pgid))
            stop_connect_server(config)
            stopped.append(f"Spark Connect server ({config.spark_connect_port}): "
                           f"process group {pgid}, {n} process(es)")
        else:
            spark_pid_file.unlink(missing_ok=True)
    for rec in records(config.state_dir):
        for pgid in rec.pgids:
            if not group_members(pgid):
                continue
            if not ours(pgid):
                say(f"left alone: {rec.label} ({rec.path}) names pid {pgid}, which now runs "
                    f"something else")
                continue
            n = stop_group(pgid)
            stopped.append(f"{rec.label}: process group {pgid}, {n} process(es)")
        if not any(group_members(p) for p in rec.pgids):
            rec.path.unlink(missing_ok=True)
    for line in stopped:
        say(f"stopped {line}")
    if not stopped:
        say(f"nothing running (records under {config.state_dir})")
    return stopped


def status(config: WorkbenchConfig) -> list[tuple[str, list[int], str]]:
    """(label, live pgids, record path) of every record whose groups still run."""
    out = []
    for rec in records(config.state_dir):
        live = [p for p in rec.pgids if group_members(p) and ours(p)]
        if live:
            out.append((rec.label, live, str(rec.path)))
    return out


# --- command line ------------------------------------------------------------------------------

def _ports_from_env() -> dict[str, int]:
    ports = {}
    for name in ORCHESTRATORS:
        raw = os.environ.get(f"WORKBENCH_UI_PORT_{name.upper()}")
        if raw:
            ports[name] = int(raw)
    return ports


def print_ui(info: UiInfo) -> None:
    print(f"{info.name:8} {info.url:24} {info.login}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.services",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ui = sub.add_parser("ui", help="start the orchestrators' UIs over the workbench's stores")
    ui.add_argument("names", nargs="*", metavar="orchestrator",
                    help=f"any of {', '.join(ORCHESTRATORS)} (default: all four)")
    sub.add_parser("down", help="stop everything the workbench recorded a pid for")
    sub.add_parser("status", help="list what runs")
    args = parser.parse_args(argv)
    config = load_config()

    if args.command == "down":
        down(config)
        return 0
    if args.command == "status":
        rows = status(config)
        for label, pgids, path in rows:
            print(f"running  {label:40} process group(s) {', '.join(map(str, pgids))}  ({path})")
        for name in ORCHESTRATORS:
            info = read_record(config, name)
            if info and any(group_members(p) for p in info.pids):
                print_ui(info)
        if not rows:
            print(f"nothing running (records under {config.state_dir})")
        return 0

    names = list(dict.fromkeys(args.names or ORCHESTRATORS))
    unknown = [n for n in names if n not in ORCHESTRATORS]
    if unknown:
        parser.error(f"unknown orchestrator(s) {', '.join(unknown)}; known: "
                     f"{', '.join(ORCHESTRATORS)}")
    print(f"starting {', '.join(names)} over {config.state_dir} (this takes a minute)",
          flush=True)
    results = start_uis(names, config, _ports_from_env())
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
