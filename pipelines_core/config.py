"""The workbench's one typed configuration, read from the environment and an optional TOML file.

Every path, seed, scale and Spark setting the pipelines use is decided here and nowhere else.
Precedence: explicit overrides > ``WORKBENCH_*`` environment variables > the TOML file named by
``WORKBENCH_CONFIG`` (or ``workbench.toml`` in the project root) > defaults.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Mapping

from pipelines_core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SPARK_MODES = ("local", "connect", "remote")
ENV_PREFIX = "WORKBENCH_"


@dataclass(frozen=True)
class WorkbenchConfig:
    """Settings shared by the core, every orchestrator implementation and the benchmark.

    Attributes:
        lake_root: Folder holding ``<namespace>/{bronze,silver,gold,models,production}``.
        state_dir: Folder for runtime state: ledger, fault counters, alerts, pids, logs.
        namespace: Lake namespace of this process; each orchestrator writes to its own.
        scale: Customer CDC rows generated per day (leads are a fraction of it).
        seed: Seed of the data generator and of model training.
        spark_mode: ``local`` (classic ``local[2]``), ``connect`` (the workbench's own Spark
            Connect server) or ``remote`` (any ``spark://`` or ``sc://`` URL).
        spark_url: Cluster URL for ``remote``; the Connect URL for ``connect``.
        spark_connect_port: Port of the workbench's own Connect server.
        spark_driver_memory: Driver memory of the local session and of the Connect server.
        spark_driver_host: Address a classic driver advertises to a ``spark://`` cluster's
            executors; ``127.0.0.1`` (the default) only reaches workers on this host, so set
            it to this machine's address (or service name) when workers run elsewhere.
        shuffle_partitions: ``spark.sql.shuffle.partitions``; small data wants few.
        postgres_port: Port of the workbench's own PostgreSQL server (the production
            profile's metadata databases) on 127.0.0.1.
        alert_webhook: URL that alerts are POSTed to, besides the JSON-lines file.
        sensor_timeout_s: How long the export sensor waits for the bronze export.
        sensor_poke_s: How often the export sensor looks.
        bad_days: Dates whose customer export is generated broken (trips the quality gate).
        noisy_lead_days: Dates whose leads carry random labels (trips the AUC gate).
        orchestrator: Name written into ledger records by this process.
        retries, retry_base_delay_s, retry_backoff_factor, retry_max_delay_s, step_timeout_s:
            When set, replace that part of every pipeline's retry policy (the benchmark and
            the tests use short delays); unset, the spec's policy holds.
        noop: Steps record their attempt and return at once without touching Spark (branch
            steps still decide), so a run measures the orchestrator's own floor.
    """

    lake_root: Path = PROJECT_ROOT / "lake"
    state_dir: Path = PROJECT_ROOT / ".workbench"
    namespace: str = "direct"
    scale: int = 10_000
    seed: int = 42
    spark_mode: str = "local"
    spark_url: str = ""
    spark_connect_port: int = 15002
    spark_driver_memory: str = "2g"
    spark_driver_host: str = "127.0.0.1"
    shuffle_partitions: int = 4
    postgres_port: int = 5433
    alert_webhook: str = ""
    sensor_timeout_s: float = 60.0
    sensor_poke_s: float = 2.0
    bad_days: tuple[date, ...] = ()
    noisy_lead_days: tuple[date, ...] = ()
    orchestrator: str = "direct"
    retries: int | None = None
    retry_base_delay_s: float | None = None
    retry_backoff_factor: float | None = None
    retry_max_delay_s: float | None = None
    step_timeout_s: float | None = None
    noop: bool = False

    def __post_init__(self) -> None:
        _check(self.scale >= 100, "scale", self.scale, "must be at least 100 rows per day")
        _check(self.scale <= 50_000_000, "scale", self.scale, "must be at most 50,000,000")
        _check(self.spark_mode in SPARK_MODES, "spark_mode", self.spark_mode,
               f"must be one of {', '.join(SPARK_MODES)}")
        _check(1 <= self.spark_connect_port <= 65535, "spark_connect_port",
               self.spark_connect_port, "must be a TCP port")
        _check(1 <= self.postgres_port <= 65535, "postgres_port", self.postgres_port,
               "must be a TCP port")
        _check(self.shuffle_partitions >= 1, "shuffle_partitions", self.shuffle_partitions,
               "must be at least 1")
        _check(self.sensor_timeout_s > 0, "sensor_timeout_s", self.sensor_timeout_s,
               "must be positive")
        _check(self.sensor_poke_s > 0, "sensor_poke_s", self.sensor_poke_s, "must be positive")
        _check(_is_name(self.namespace), "namespace", self.namespace,
               "must be letters, digits, '-' or '_'")
        if self.spark_mode == "remote":
            _check(self.spark_url.startswith(("spark://", "sc://")), "spark_url",
                   self.spark_url, "must start with spark:// or sc:// in remote mode")

    @property
    def connect_url(self) -> str:
        """URL of the workbench's own Spark Connect server."""
        if self.spark_mode == "connect" and self.spark_url:
            return self.spark_url
        return f"sc://127.0.0.1:{self.spark_connect_port}"

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / "ledger.jsonl"

    @property
    def alerts_path(self) -> Path:
        return self.state_dir / "alerts.jsonl"

    def retry_overrides(self) -> dict[str, float]:
        """The parts of the spec's retry policy this configuration replaces."""
        names = {"retries": "retries", "retry_base_delay_s": "base_delay_s",
                 "retry_backoff_factor": "backoff_factor", "retry_max_delay_s": "max_delay_s",
                 "step_timeout_s": "timeout_s"}
        return {policy: getattr(self, mine) for mine, policy in names.items()
                if getattr(self, mine) is not None}

    def namespace_root(self, namespace: str | None = None) -> Path:
        return self.lake_root / (namespace or self.namespace)

    def replace(self, **changes: Any) -> "WorkbenchConfig":
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """Environment variables that recreate this configuration in a child process."""
        env = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = ",".join(v.isoformat() for v in value)
            env[ENV_PREFIX + f.name.upper()] = str(value)
        return env


def _is_name(text: str) -> bool:
    return bool(text) and all(c.isalnum() or c in "-_" for c in text)


def _check(ok: bool, name: str, value: Any, why: str) -> None:
    if not ok:
        raise ConfigError(f"invalid setting {name}={value!r}: {why}")


def _coerce(name: str, raw: Any, kind: Any) -> Any:
    """Turn a raw value (string from the environment, or TOML value) into the field's type."""
    kind = kind.removesuffix(" | None") if isinstance(kind, str) else kind
    try:
        if kind in ("Path", Path):
            return Path(raw).expanduser().resolve()
        if kind in ("bool", bool):
            if isinstance(raw, bool):
                return raw
            if str(raw).strip().lower() in ("1", "true", "yes", "on"):
                return True
            if str(raw).strip().lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        if kind in ("int", int):
            if isinstance(raw, str):
                raw = raw.replace("_", "")
            if isinstance(raw, float) or isinstance(raw, bool):
                raise ValueError
            return int(raw)
        if kind in ("float", float):
            return float(raw)
        if kind == "tuple[date, ...]":
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(parse_date(str(i).strip()) for i in items if str(i).strip())
        return str(raw)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid setting {name}={raw!r}: expected {kind}") from exc


def parse_date(text: str) -> date:
    """Parse ``YYYY-MM-DD`` or raise ConfigError with the offending text."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"malformed date {text!r}: expected YYYY-MM-DD") from None


def load_config(env: Mapping[str, str] | None = None, **overrides: Any) -> WorkbenchConfig:
    """Build the configuration from file, environment and overrides, in that order of weakness.

    Raises:
        ConfigError: an unknown key in the file, or a value that fails validation, naming it.
    """
    env = os.environ if env is None else env
    fields = {f.name: f.type for f in dataclasses.fields(WorkbenchConfig)}
    values: dict[str, Any] = {}

    file_name = env.get(ENV_PREFIX + "CONFIG")
    path = Path(file_name) if file_name else PROJECT_ROOT / "workbench.toml"
    if file_name and not path.is_file():
        raise ConfigError(f"configuration file {path} does not exist")
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None
        for key, raw in data.get("workbench", data).items():
            if key not in fields:
                raise ConfigError(f"unknown setting {key!r} in {path}")
            values[key] = _coerce(key, raw, fields[key])

    for key, kind in fields.items():
        raw = env.get(ENV_PREFIX + key.upper())
        if raw is not None and raw != "":
            values[key] = _coerce(key, raw, kind)

    for key, raw in overrides.items():
        if key not in fields:
            raise ConfigError(f"unknown setting {key!r}")
        if raw is not None:
            values[key] = raw if not isinstance(raw, str) else _coerce(key, raw, fields[key])
    return WorkbenchConfig(**values)


def config_for(orchestrator: str, env: Mapping[str, str] | None = None,
               **overrides: Any) -> WorkbenchConfig:
    """The configuration of a process that runs steps for ``orchestrator``: the environment's
    (and file's), written into the lake namespace named after the orchestrator unless
    ``WORKBENCH_NAMESPACE`` names another one (the tests and the benchmark do), with
    ``orchestrator`` set so the ledger records who ran each attempt."""
    env = os.environ if env is None else env
    if not env.get(ENV_PREFIX + "NAMESPACE") and "namespace" not in overrides:
        overrides["namespace"] = orchestrator
    return load_config(env, orchestrator=orchestrator, **overrides)
