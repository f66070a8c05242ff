"""The compose stack (docker-compose.yml, docker/): validated by Debian's ``docker-compose
config`` with a generated ``.env``, checked for what matters (ports on 127.0.0.1, healthchecks,
Dockerfiles built from the right lock file, the observability profile, Prometheus targets
that exist), and what it relies on checked natively: the commands and flags each service runs
exist in that orchestrator's own environment, and the services' WORKBENCH_* settings load.

No Docker engine runs here, so nothing is built or started.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipelines_core.config import PROJECT_ROOT, load_config

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DOCKER = PROJECT_ROOT / "docker"
MAKE_ENV = DOCKER / "make_env.py"
ORCHESTRATORS = ("airflow", "prefect", "dagster", "luigi")
# The lock file each image must be built from, and a package that lock must hold.
LOCKS = {"airflow": ("airflow_impl/uv.lock", "apache-airflow"),
         "prefect": ("prefect_impl/uv.lock", "prefect"),
         "dagster": ("dagster_impl/uv.lock", "dagster"),
         "luigi": ("luigi_impl/uv.lock", "luigi"),
         "spark": ("uv.lock", "pyspark")}

pytestmark = pytest.mark.timeout(600)


def _docker_compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail("docker-compose is missing: `make test-tools` installs Debian's docker-compose")
    return path


def _yaml_to_json(text: str) -> object:
    """Parse YAML with the Python that runs docker-compose (it needs PyYAML, so it has it);
    the root environment has no YAML parser of its own."""
    compose = Path(_docker_compose()).read_text(errors="replace").splitlines()[0]
    python = compose[2:].strip().split()[0] if compose.startswith("#!") else "/usr/bin/python3"
    out = subprocess.run([python, "-c", "import json, sys, yaml; "
                          "json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
                         input=text, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def _compose_config(env_file: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([_docker_compose(), "--project-directory", str(PROJECT_ROOT),
                           "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "config",
                           *extra], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def env_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("compose") / ".env"
    out = subprocess.run(["python3", str(MAKE_ENV), str(PROJECT_ROOT / ".env.example"),
                          str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return path


@pytest.fixture(scope="module")
def stack(env_file) -> dict:
    """The stack as docker-compose resolves it (anchors merged, variables substituted)."""
    out = _compose_config(env_file)
    assert out.returncode == 0, out.stderr
    return _yaml_to_json(out.stdout)


@pytest.fixture(scope="module")
def services(stack) -> dict:
    return stack["services"]


def _mounts(svc: dict) -> dict[str, str]:
    """``{container path: volume name or host path}`` of a service (short or long syntax)."""
    out = {}
    for v in svc.get("volumes", []):
        if isinstance(v, dict):
            out[v["target"]] = v.get("source", "")
        else:
            source, target = v.split(":")[:2]
            out[target] = source
    return out


def _env_values(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines()
                if "=" in line and not line.startswith("#"))


# --- validation and secrets -------------------------------------------------------------------

def test_docker_compose_validates_the_file_with_a_generated_env(env_file):
    out = _compose_config(env_file, "-q")
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""


def test_a_missing_secret_stops_docker_compose_with_a_hint(env_file, tmp_path):
    values = _env_values(env_file)
    del values["AIRFLOW_FERNET_KEY"]
    partial = tmp_path / ".env"
    partial.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    out = _compose_config(partial, "-q")
    assert out.returncode != 0
    assert "AIRFLOW_FERNET_KEY" in out.stderr and "run make env" in out.stderr


def test_make_env_generates_secrets_and_never_overwrites(env_file, tmp_path):
    values = _env_values(env_file)
    template = _env_values(PROJECT_ROOT / ".env.example")
    assert set(values) == set(template)
    assert len(base64.urlsafe_b64decode(values["AIRFLOW_FERNET_KEY"])) == 32
    secrets = {k: v for k, v in values.items() if k.endswith(("_PASSWORD", "_SECRET"))}
    assert len(secrets) >= 6 and len(set(secrets.values())) == len(secrets)
    assert all(len(v) >= 24 and v != template[k] for k, v in secrets.items())
    assert values["WORKBENCH_SCALE"] == template["WORKBENCH_SCALE"]
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"

    target = tmp_path / ".env"
    target.write_text("POSTGRES_PASSWORD=mine\n")
    out = subprocess.run(["python3", str(MAKE_ENV), str(PROJECT_ROOT / ".env.example"),
                          str(target)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "left as it is" in out.stdout
    assert target.read_text() == "POSTGRES_PASSWORD=mine\n"


def test_make_env_target_runs_the_generator():
    out = subprocess.run(["make", "-n", "env"], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "docker/make_env.py .env.example .env" in out.stdout


# --- what the stack must hold -----------------------------------------------------------------

def test_the_stack_has_every_component(services):
    expected = {"postgres", "spark-master", "spark-worker-1", "spark-worker-2", "spark-connect",
                "airflow-api-server", "airflow-scheduler", "airflow-dag-processor",
                "airflow-triggerer", "prefect-server", "prefect-worker", "dagster-webserver",
                "dagster-daemon", "dagster-code", "luigid", "prometheus", "grafana",
                "statsd-exporter"}
    assert expected <= set(services)


def test_every_published_port_is_bound_to_localhost(services):
    published = 0
    for name, svc in services.items():
        for port in svc.get("ports", []):
            text = port if isinstance(port, str) else f"{port.get('host_ip')}:{port.get('published')}"
            assert text.startswith("127.0.0.1:"), f"{name} publishes {port}"
            published += 1
    assert published >= 9


def test_every_long_running_service_has_a_healthcheck(services):
    one_shot = {n for n, s in services.items() if s.get("restart") == "no"}
    assert one_shot == {"airflow-init"}
    for name, svc in services.items():
        if name in one_shot:
            continue
        check = svc.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name


def test_every_image_is_built_from_its_own_dockerfile_and_lock_file(services):
    built = {}
    for name, svc in services.items():
        if "build" not in svc:
            continue
        dockerfile = Path(svc["build"]["context"]) / svc["build"]["dockerfile"]
        assert Path(svc["build"]["context"]).resolve() == PROJECT_ROOT, name
        assert dockerfile.is_file(), f"{name}: {dockerfile} is missing"
        built[name] = dockerfile.relative_to(PROJECT_ROOT).as_posix()
    for name, dockerfile in built.items():
        family = "luigi" if name == "luigid" else name.split("-")[0]
        assert dockerfile == f"docker/{family}/Dockerfile", name
    assert {d.split("/")[1] for d in built.values()} == set(LOCKS)

    for family, (lock, package) in LOCKS.items():
        text = (DOCKER / family / "Dockerfile").read_text()
        folder = str(Path(lock).parent).replace(".", "")
        copies = re.findall(r"^COPY (.+)$", text, re.M)
        lock_copy = [c for c in copies if "uv.lock" in c]
        assert len(lock_copy) == 1, f"{family}: one COPY of a lock file, got {lock_copy}"
        assert lock in lock_copy[0].split(), f"{family} copies {lock_copy[0]}, not {lock}"
        assert all(f"{other}_impl/" not in text for other in ORCHESTRATORS if other != family)
        assert re.search(r"uv sync --frozen --no-dev", text), family
        assert "openjdk-17-jre-headless" in text, family
        assert f'name = "{package}"' in (PROJECT_ROOT / lock).read_text(), lock
        assert (DOCKER / family / "Dockerfile.dockerignore").read_text().count(".venv"), family
        if folder:
            assert f"cd {folder} && uv sync" in text, family


def test_the_observability_profile_holds_prometheus_and_grafana(services):
    profiled = {n: s["profiles"] for n, s in services.items() if s.get("profiles")}
    assert profiled == {"prometheus": ["observability"], "grafana": ["observability"]}


def test_prometheus_scrapes_targets_that_exist_in_the_stack(services):
    config = _yaml_to_json((DOCKER / "prometheus" / "prometheus.yml").read_text())
    mounted = _mounts(services["prometheus"])["/etc/prometheus/prometheus.yml"]
    assert Path(mounted) == DOCKER / "prometheus" / "prometheus.yml"
    jobs = {}
    for job in config["scrape_configs"]:
        for group in job["static_configs"]:
            for target in group["targets"]:
                host, port = target.rsplit(":", 1)
                assert host in services, f"{job['job_name']} scrapes {host}, not in the stack"
                svc = services[host]
                said = json.dumps([svc.get("command"), svc.get("healthcheck"),
                                   svc.get("ports"), svc.get("environment")])
                assert port in said, f"{host} does not listen on {port}"
                jobs.setdefault(job["job_name"], []).append(target)
    assert {"airflow", "prefect", "luigi", "spark-master"} <= set(jobs)
    assert services["prefect-server"]["environment"]["PREFECT_SERVER_METRICS_ENABLED"] == "true"
    assert "--statsd.listen-udp=:9125" in services["statsd-exporter"]["command"]
    airflow = services["airflow-scheduler"]["environment"]
    assert airflow["AIRFLOW__METRICS__STATSD_HOST"] == "statsd-exporter"
    assert airflow["AIRFLOW__METRICS__STATSD_PORT"] == "9125"
    datasource = _yaml_to_json(
        (DOCKER / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    json.loads((DOCKER / "grafana/provisioning/dashboards/workbench.json").read_text())


def test_orchestrators_share_the_lake_and_run_spark_through_the_connect_server(services):
    spark_users = [n for n in services if n.split("-")[0] in ORCHESTRATORS + ("spark",)
                   or n == "luigid"]
    for name in spark_users:
        targets = _mounts(services[name])
        if name in ("prefect-server",):
            continue  # serves the API only; runs happen in the worker
        assert targets.get("/lake") == "lake", f"{name} does not mount the lake volume"
    connect = services["spark-connect"]["command"]
    assert connect[connect.index("--master") + 1] == "spark://spark-master:7077"
    for name, svc in services.items():
        env = {k: str(v) for k, v in (svc.get("environment") or {}).items()
               if k.startswith("WORKBENCH_")}
        if not env:
            continue
        config = load_config(env=env)  # the core's own validation of the service's settings
        assert config.spark_mode == "connect", name
        assert config.connect_url == "sc://spark-connect:15002", name
        assert config.lake_root == Path("/lake") and config.state_dir == Path("/state"), name
        if name.startswith(ORCHESTRATORS) or name == "luigid":
            assert config.namespace == ("luigi" if name == "luigid" else name.split("-")[0])


def test_metadata_of_every_orchestrator_lives_in_postgres(services):
    airflow = services["airflow-scheduler"]["environment"]
    assert airflow["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith(
        "postgresql+psycopg2://airflow:")
    assert services["prefect-server"]["environment"][
        "PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://prefect:")
    dagster = _yaml_to_json((DOCKER / "dagster" / "dagster.yaml").read_text())
    db = dagster["storage"]["postgres"]["postgres_db"]
    assert (db["hostname"], db["username"], db["db_name"]) == ("postgres", "dagster", "dagster")
    assert db["password"] == {"env": "DAGSTER_DB_PASSWORD"}
    assert db["scheme"] == "postgresql+psycopg2"  # the driver dagster-postgres brings
    assert services["luigid"]["environment"]["LUIGI_TASK_HISTORY_DB"].startswith(
        "postgresql+psycopg2://luigi:")
    # one role and database each, from the passwords the postgres service is given
    init = (DOCKER / "postgres" / "init-databases.sh").read_text()
    assert "for name in airflow prefect dagster luigi; do" in init
    postgres = services["postgres"]["environment"]
    assert all(postgres.get(f"{name.upper()}_DB_PASSWORD")
               for name in ("airflow", "prefect", "dagster", "luigi"))


# --- natively: the commands the services run exist, with the flags the stack gives them -------

VENVS = {"airflow": "airflow_impl", "prefect": "prefect_impl", "dagster": "dagster_impl",
         "luigi": "luigi_impl"}


def _native_commands(services: dict) -> list[tuple[str, list[str], list[str]]]:
    """``(service, command up to its flags, the --flags it uses)`` for every service whose
    command is an orchestrator's executable, plus the healthcheck commands."""
    out = []
    for name, svc in services.items():
        family = "luigi" if name == "luigid" else name.split("-")[0]
        if family not in VENVS:
            continue
        commands = [svc.get("command")]
        test = (svc.get("healthcheck") or {}).get("test") or []
        if test[:1] == ["CMD"]:
            commands.append(test[1:])
        for cmd in commands:
            if not cmd or cmd[0] in ("bash", "curl", "python"):
                continue
            flags = [w.split("=")[0] for w in cmd if w.startswith("--")]
            # the subcommands are the words before the first flag
            first_flag = next((i for i, w in enumerate(cmd) if w.startswith("-")), len(cmd))
            out.append((name, [str(PROJECT_ROOT / VENVS[family] / ".venv" / "bin" / cmd[0]),
                               *cmd[1:first_flag]], flags))
    return out


# Runs each console script given (``[script, *args]``) in one interpreter, as its ``__main__``,
# and reports the exit code and output of each: one process per environment instead of one
# per command, which matters on a loaded machine (each CLI's imports are paid once).
_HELP_RUNNER = """
import contextlib, io, json, runpy, sys
results = []
for argv in json.load(sys.stdin):
    out = io.StringIO()
    sys.argv = list(argv)
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            runpy.run_path(argv[0], run_name="__main__")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception as exc:
            code = 1
            out.write(repr(exc))
    results.append({"code": code, "out": out.getvalue()})
json.dump(results, sys.__stdout__)
"""


def _helps(venv: Path, commands: list[list[str]], home: Path) -> list[dict]:
    """``--help`` of every command, run in ``venv``'s interpreter."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "PREFECT", "DAGSTER", "WORKBENCH_", "VIRTUAL_ENV"))}
    # homes of their own: a CLI may write its default configuration when it starts
    env.update(AIRFLOW_HOME=str(home / "airflow"), PREFECT_HOME=str(home / "prefect"),
               DAGSTER_HOME=str(home / "dagster"))
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    out = subprocess.run([str(venv / "bin" / "python"), "-c", _HELP_RUNNER],
                         input=json.dumps([[*c, "--help"] for c in commands]),
                         capture_output=True, text=True, timeout=500, env=env,
                         cwd=venv.parent)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_the_services_commands_and_flags_exist_in_each_environment(services, tmp_path):
    commands = _native_commands(services)
    shell = {"prefect-worker": ["prefect", "worker", "start"], "luigid": ["luigid"]}
    for name, words in shell.items():
        text = " ".join(services[name]["command"])
        family = "luigi" if name == "luigid" else "prefect"
        cmd = [str(PROJECT_ROOT / VENVS[family] / ".venv" / "bin" / words[0]), *words[1:]]
        tail = text.split(" ".join(words), 1)[1]
        commands.append((name, cmd, re.findall(r"(--[a-z][a-z-]*)", tail)))
    missing = [c[1][0] for c in commands if not Path(c[1][0]).exists()]
    if missing:
        pytest.skip(f"implementation environments not set up: {missing}")

    by_venv: dict[Path, list[tuple[str, ...]]] = {}
    for _, cmd, _ in commands:
        unique = by_venv.setdefault(Path(cmd[0]).parents[1], [])
        if tuple(cmd) not in unique:
            unique.append(tuple(cmd))
    assert {v.parent.name for v in by_venv} == set(VENVS.values())
    with ThreadPoolExecutor(max_workers=len(by_venv)) as pool:
        answers = pool.map(lambda v: _helps(v, [list(c) for c in by_venv[v]],
                                            tmp_path / v.parent.name), by_venv)
        results = {c: a for v, found in zip(by_venv, answers) for c, a in zip(by_venv[v], found)}
    for name, cmd, flags in commands:
        shown = f"{name}: {Path(cmd[0]).name} {' '.join(cmd[1:])}"
        answer = results[tuple(cmd)]
        assert answer["code"] == 0, f"{shown} --help failed:\n{answer['out'][-1500:]}"
        assert "usage" in answer["out"].lower(), shown
        for flag in flags:
            assert re.search(rf"{re.escape(flag)}(?![\w-])", answer["out"]), \
                f"{shown} has no {flag}"


def test_prefect_deploy_command_and_luigi_config_work_natively(services, tmp_path):
    prefect = PROJECT_ROOT / "prefect_impl" / ".venv" / "bin" / "python"
    luigi = PROJECT_ROOT / "luigi_impl" / ".venv" / "bin" / "python"
    if not (prefect.exists() and luigi.exists()):
        pytest.skip("implementation environments not set up")
    assert "python -m workbench_prefect deploy --pool workbench-process" in " ".join(
        services["prefect-worker"]["command"])
    out = subprocess.run([str(prefect), "-m", "workbench_prefect", "deploy", "--help"],
                         cwd=PROJECT_ROOT / "prefect_impl", capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"),
                                           "PYTHONPATH": str(PROJECT_ROOT / "prefect_impl")})
    assert out.returncode == 0 and "--pool" in out.stdout, out.stderr

    # luigid's command writes luigi.cfg from the service's settings, then starts luigid.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env.update({k: str(v) for k, v in services["luigid"]["environment"].items()})
    env["WORKBENCH_STATE_DIR"] = str(tmp_path / "state")
    env["PYTHONPATH"] = str(PROJECT_ROOT / "luigi_impl")
    script = re.search(r'python -c "(.*?)"', " ".join(services["luigid"]["command"])).group(1)
    out = subprocess.run([str(luigi), "-c", script], cwd=PROJECT_ROOT / "luigi_impl",
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    cfg = (tmp_path / "state" / "luigi" / "luigi.cfg").read_text()
    assert "metrics_collector = prometheus" in cfg
    assert "record_task_history = true" in cfg


def test_postgres_drivers_come_from_the_locks():
    """Images are their lock and nothing else: the metadata drivers are locked, not added."""
    assert 'name = "psycopg2-binary"' in (PROJECT_ROOT / "airflow_impl/uv.lock").read_text()
    assert 'name = "dagster-postgres"' in (PROJECT_ROOT / "dagster_impl/uv.lock").read_text()
    for dockerfile in DOCKER.glob("*/Dockerfile"):
        assert "uv pip install" not in dockerfile.read_text(), dockerfile


@pytest.mark.parametrize("name", ["airflow", "prefect", "dagster"])
def test_the_stack_s_settings_files_are_the_native_services_own(name, services):
    """One source: each orchestrator's settings files in the stack are what its service
    module (the native production profile) writes, and the containers get those settings."""
    python = PROJECT_ROOT / f"{name}_impl" / ".venv" / "bin" / "python"
    if not python.exists():
        pytest.skip("implementation environments not set up")
    out = subprocess.run([str(python), "-m", f"workbench_{name}.service", "compose-files"],
                         cwd=PROJECT_ROOT / f"{name}_impl", capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    files = json.loads(out.stdout)
    assert files, f"{name} names no settings file"
    for rel, text in files.items():
        assert (PROJECT_ROOT / rel).read_text() == text, (
            f"{rel} is not what {name}'s service module writes: run `make compose-files`")
        if rel.endswith(".env"):
            # every container of the orchestrator gets each setting (docker-compose config
            # merges the env_file into each service's environment)
            wanted = dict(line.split("=", 1) for line in text.splitlines()
                          if line and not line.startswith("#"))
            mine = [s for n, s in services.items() if n.startswith(f"{name}-")]
            assert mine
            for svc in mine:
                env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
                assert {k: env.get(k) for k in wanted} == wanted, svc.get("command")
