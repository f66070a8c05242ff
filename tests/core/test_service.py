"""The process toolkit, the HTTP client and the service-command frame, on real processes and a
real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from pipelines_core import procs
from pipelines_core.http import Conflict, HttpClient, HttpUnreachable, NotFound, ServerError

# --- poll_until ------------------------------------------------------------------------------


def test_poll_until_returns_the_first_truthy_answer():
    answers = iter([None, 0, "", "ready", "later"])
    assert procs.poll_until(lambda: next(answers), timeout_s=5, interval_s=0.01,
                            what="x") == "ready"


def test_poll_until_times_out_naming_what_it_waited_for_and_the_last_error():
    def check():
        raise ConnectionRefusedError("nobody there")

    with pytest.raises(TimeoutError, match=r"the thing: not within 0 s.*nobody there"):
        procs.poll_until(check, timeout_s=0.2, interval_s=0.05, what="the thing")


def test_poll_until_stops_at_once_when_waiting_is_pointless():
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="server: it exited"):
        procs.poll_until(lambda: False, timeout_s=30, what="server",
                         fail=lambda: "it exited")
    assert time.monotonic() - t0 < 5


# --- process groups --------------------------------------------------------------------------


def test_kill_group_kills_the_whole_group_and_nothing_else(tmp_path):
    # The leader forks a child into its own group; a bystander runs in another group.
    group = procs.start_group(["sh", "-c", "sleep 300 & sleep 300"], log=tmp_path / "g.log")
    bystander = procs.start_group(["sleep", "300"], log=tmp_path / "b.log")
    try:
        procs.poll_until(lambda: len(procs.group_members(group.pid)) == 3, timeout_s=10,
                         what="three members")
        assert sorted(procs.descendants([group.pid])) == sorted(procs.group_members(group.pid))
        assert procs.kill_group(group.pid) == 3
        assert procs.group_members(group.pid) == []
        assert procs.pid_alive(bystander.pid)
    finally:
        procs.stop_group(bystander.pid)
    assert not procs.pid_alive(bystander.pid)


def test_stop_group_ends_a_process_that_ignores_term_with_kill(tmp_path):
    proc = procs.start_group([sys.executable, "-c",
                              "import signal, time; signal.signal(signal.SIGTERM, "
                              "signal.SIG_IGN); print('up', flush=True); time.sleep(300)"],
                             log=tmp_path / "stubborn.log")
    procs.poll_until(lambda: b"up" in (tmp_path / "stubborn.log").read_bytes(), timeout_s=20,
                     what="stubborn process up")
    t0 = time.monotonic()
    assert procs.stop_group(proc.pid, grace_s=0.5) == 1
    assert not procs.group_alive(proc.pid)
    assert time.monotonic() - t0 < 10
    assert procs.stop_group(proc.pid) == 0  # nothing left to stop


def test_a_record_whose_pid_now_runs_another_program_is_not_alive(tmp_path):
    proc, rec = procs.start_recorded("sleeper", ["sleep", "300"], record=tmp_path / "r.json",
                                     log=tmp_path / "r.log")
    try:
        loaded = procs.ProcessRecord.load(tmp_path / "r.json")
        assert (loaded.pid, loaded.cmd) == (proc.pid, ["sleep", "300"])
        assert loaded.alive()
        other = procs.ProcessRecord("x", proc.pid, ["luigid"], "x.log")
        assert not other.alive()  # same pid, but not the program recorded
    finally:
        procs.stop_group(proc.pid)
    assert not loaded.alive()


# --- the HTTP client ---------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    busy_left = 0
    hooked: list = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/busy":
            cls = type(self)
            if cls.busy_left > 0:
                cls.busy_left -= 1
                return self._answer(503, {"detail": "database is locked"})
            return self._answer(200, {"ok": True})
        if self.path.startswith("/echo"):
            return self._answer(200, {"path": self.path,
                                      "auth": self.headers.get("Authorization")})
        if self.path == "/boom":
            return self._answer(500, {"detail": "boom"})
        return self._answer(404, {"detail": "no such thing"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"null")
        if self.path == "/hook":
            type(self).hooked.append(body)
            return self._answer(200, {})
        if body.get("name") == "taken":
            return self._answer(409, {"detail": "exists"})
        return self._answer(201, {"created": body["name"]})


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_http_client_decodes_json_sends_headers_and_queries(server):
    client = HttpClient(server, headers=lambda: {"Authorization": "Bearer t"})
    assert client.get("/echo", limit=5, skip=None) == {"path": "/echo?limit=5",
                                                       "auth": "Bearer t"}
    assert client.post("/things", {"name": "a"}) == {"created": "a"}


def test_http_client_errors_are_typed_by_status(server):
    client = HttpClient(server, tries=1)
    with pytest.raises(Conflict) as conflict:
        client.post("/things", {"name": "taken"})
    assert conflict.value.status == 409 and "exists" in conflict.value.body
    with pytest.raises(NotFound):
        client.get("/missing")
    with pytest.raises(ServerError) as boom:
        client.get("/boom")
    assert boom.value.status == 500
    assert client.ok("/echo") and not client.ok("/missing")


def test_http_client_asks_again_only_for_the_statuses_it_is_told(server):
    _Handler.busy_left = 2
    assert HttpClient(server, tries=3, backoff_s=0.01).get("/busy") == {"ok": True}
    _Handler.busy_left = 1
    with pytest.raises(ServerError):
        HttpClient(server, tries=3, backoff_s=0.01, retry_on=()).get("/busy")


def test_http_client_reports_an_unreachable_server():
    with pytest.raises(HttpUnreachable):
        HttpClient(f"http://127.0.0.1:{procs.free_port()}", tries=2, backoff_s=0.01).get("/")


def test_an_alert_reaches_the_webhook_and_a_dead_webhook_is_recorded(server, tmp_path):
    from pipelines_core.alerts import read_alerts, send_alert
    from pipelines_core.testing import make_config

    config = make_config(tmp_path, alert_webhook=f"{server}/hook")
    _Handler.hooked.clear()
    sent = send_alert(config, pipeline="p", date="2026-11-02", step="s", error="boom")
    assert sent["webhook"] == "delivered"
    assert [(h["step"], h["error"]) for h in _Handler.hooked] == [("s", "boom")]
    dead = config.replace(alert_webhook=f"http://127.0.0.1:{procs.free_port()}/hook")
    assert send_alert(dead, pipeline="p", date="2026-11-02", step="s",
                      error="x")["webhook"].startswith("not delivered: ")
    assert len(read_alerts(config)) == 2


# --- the service-command frame ------------------------------------------------------------------

SERVICE = textwrap.dedent('''
    import sys
    from pipelines_core.http import HttpClient
    from pipelines_core.service import Component, Service, main

    class Toy(Service):
        orchestrator = "toy"
        default_port = 0
        detection_defaults = {"heartbeat_timeout": "300", "poll": "10"}
        detection_tuned = {"heartbeat_timeout": "30"}

        def components(self):
            web = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(self.port)]
            return [Component("web", web, port=self.port, ready_timeout_s=30,
                              healthy=lambda: HttpClient(self.url).ok("/")),
                    Component("worker", [sys.executable, "-c", "import time; time.sleep(600)"])]

        def info(self):
            return {"login": "none"}

    raise SystemExit(main(Toy))
''')


@pytest.fixture
def toy(tmp_path):
    script = tmp_path / "toy_service.py"
    script.write_text(SERVICE)
    port = procs.free_port()
    home = tmp_path / "home"

    def run(*action: str, check: bool = True) -> dict:
        out = subprocess.run([sys.executable, str(script), "--home", str(home), "--port",
                              str(port), "--json", *action], capture_output=True, text=True,
                             timeout=120)
        if check:
            assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    yield run, port
    run("down", check=False)


def test_service_command_up_status_kill_restart_down(toy):
    run, port = toy
    up = run("up")
    assert up["healthy"] and up["info"] == {"login": "none", "detection": {
        "mode": "default", "settings": {"heartbeat_timeout": "300", "poll": "10"},
        "tuned": {"heartbeat_timeout": "30"}}}
    rows = {c["name"]: c for c in up["components"]}
    assert list(rows) == ["web", "worker"]
    assert rows["web"]["port"] == port and procs.port_open(port)
    for row in rows.values():
        assert row["health"] == "healthy" and row["pid"] == row["pgid"]
        assert procs.group_members(row["pgid"])

    killed = run("kill", "worker")
    after = {c["name"]: c for c in killed["components"]}
    assert after["worker"]["health"] == "down" and not killed["healthy"]
    assert after["web"]["health"] == "healthy" and after["web"]["pid"] == rows["web"]["pid"]
    assert not procs.group_members(rows["worker"]["pgid"])

    # a restart succeeds when the component asked for is healthy; another one still down is
    # shown, not a failure of this restart
    run("kill", "web")
    partial = run("restart", "worker")
    again = {c["name"]: c for c in partial["components"]}
    assert again["worker"]["health"] == "healthy" and again["web"]["health"] == "down"
    assert not partial["healthy"]
    assert again["worker"]["pid"] != rows["worker"]["pid"]
    assert run("restart", "web")["healthy"]

    down = run("down")
    assert [c["health"] for c in down["components"]] == ["down", "down"]
    assert not procs.port_open(port)
    assert not procs.group_members(again["worker"]["pgid"])

    # the crash-detection settings tuned: recorded by up, kept by every later command
    run("--detection", "tuned", "up")
    assert run("status")["info"]["detection"]["settings"] == {"heartbeat_timeout": "30",
                                                              "poll": "10"}
    run("down")


def test_service_command_says_what_is_wrong(toy):
    run, port = toy
    bad = run("kill", "web", check=False)
    assert "not running" in bad["error"]
    run("up")
    unknown = run("restart", "scheduler", check=False)
    assert unknown["error"] == "toy has no component 'scheduler'; its components: web, worker"


def test_status_hides_the_password_of_a_url_setting():
    from pipelines_core.service import hide_password

    assert hide_password("postgresql+asyncpg://prefect:s3:cret@127.0.0.1:5432/prefect") == \
        "postgresql+asyncpg://prefect:***@127.0.0.1:5432/prefect"
    assert hide_password("http://127.0.0.1:4200/api") == "http://127.0.0.1:4200/api"
    assert hide_password("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def one_error_line(out: subprocess.CompletedProcess) -> str:
    """The mistake's answer: exit 2, no traceback, exactly one line saying ``error:``."""
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr + out.stdout
    lines = [line for line in (out.stderr + out.stdout).splitlines() if "error:" in line]
    assert len(lines) == 1, out.stderr
    return lines[0]


def test_every_command_line_mistake_gives_one_error_line_and_exit_2(toy, tmp_path):
    run, port = toy
    script = tmp_path / "toy_service.py"
    home = tmp_path / "home"

    def service(*argv: str) -> str:
        return one_error_line(subprocess.run(
            [sys.executable, str(script), "--home", str(home), *argv], capture_output=True,
            text=True, timeout=120))

    assert "invalid choice: 'sqlite'" in service("--profile", "sqlite", "up")
    assert "invalid int value: 'abc'" in service("--port", "abc", "status")
    assert "invalid choice: 'frobnicate'" in service("frobnicate")
    assert "the following arguments are required: component" in service("kill")
    assert service("kill", "web") == "error: toy web is not running"
    assert service("restart", "scheduler") == (
        "error: toy has no component 'scheduler'; its components: web, worker")

    env = {**os.environ, "WORKBENCH_STATE_DIR": str(tmp_path / "state"),
           "WORKBENCH_LAKE_ROOT": str(tmp_path / "lake")}

    def workbench(*argv: str) -> str:
        return one_error_line(subprocess.run(
            [sys.executable, "-m", "workbench_cli", *argv], capture_output=True, text=True,
            timeout=120, env=env, cwd=Path(procs.__file__).parent.parent))

    assert "invalid choice: 'nope'" in workbench("bench", "--preset", "nope")
    assert "invalid choice: 'sqlite'" in workbench("bench", "--profile", "sqlite")
    assert workbench("bench", "--orchestrators", "nifi") == (
        "error: unknown orchestrator(s) nifi; known: direct, airflow, prefect, dagster, luigi")
    assert workbench("bench", "--repetitions", "0") == "error: repetitions must be at least 1"
    assert "unknown scenario(s) chaos" in workbench("bench", "--scenarios", "chaos")
    assert "invalid choice: 'restart'" in workbench("postgres", "restart")
    assert workbench("run", "--pipeline", "customer_daily_etl", "--date", "2026-09-30") == (
        "error: 2026-09-30 is before the start date of customer_daily_etl (2026-10-01): it "
        "has no run for that date")
    assert workbench("run", "--pipeline", "nope", "--date", "2026-10-02") == (
        "error: unknown pipeline 'nope'; known: customer_daily_etl, lead_scoring_mlops")
    assert "malformed date '2026-13-01'" in workbench("run", "--pipeline",
                                                       "customer_daily_etl", "--date",
                                                       "2026-13-01")
