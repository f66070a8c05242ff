"""Luigi's configuration, derived from the pipeline spec and the workbench configuration.

Luigi reads retries from two places: ``retry_count`` per task (set on each task class from
the spec) and ``[scheduler] retry_delay``, one fixed delay for every task of a scheduler.
Luigi has no exponential backoff, no maximum delay and no jitter on retries, so the spec's
``base_delay_s`` becomes the one fixed ``retry_delay`` and the rest of the policy is not
applied (the benchmark measures the delays Luigi really leaves).
"""

from __future__ import annotations

import configparser
from pathlib import Path

import luigi.configuration
from luigi.task_register import Register

from pipelines_core.config import WorkbenchConfig, config_for
from pipelines_core.spec import PIPELINES, retry_policy

ORCHESTRATOR = "luigi"


def state_root(config: WorkbenchConfig) -> Path:
    """Where luigid's state, task history, worker logs and the generated luigi.cfg live (the
    service's home)."""
    return config.state_dir / ORCHESTRATOR


def retry_delay_s(config: WorkbenchConfig) -> float:
    """The one retry delay Luigi applies: the spec's base delay (both pipelines share it)."""
    delays = {retry_policy(spec, config).base_delay_s for spec in PIPELINES.values()}
    return min(delays)


def luigi_settings(config: WorkbenchConfig, *, history_db: Path | str | None = None,
                   state_path: Path | None = None) -> dict[str, dict[str, str]]:
    """``{section: {key: value}}`` for luigi.cfg: the same for luigid and for the workers."""
    root = state_root(config)
    history_db = history_db or root / "task-history.sqlite"
    state_path = state_path or root / "luigid-state.pickle"
    return {
        "core": {
            # parallelism is bounded by --workers; one process per task (see worker below)
            "parallel_scheduling": "false",
            # `luigi --module ... RangeDaily --of ...` finds RangeDaily without an import
            "autoload_range": "true",
        },
        "worker": {
            # stay alive while a failed task waits out retry_delay, so retries happen in
            # the same `luigi` invocation
            "keep_alive": "true",
            # every task in its own process, so worker_timeout can end a hung attempt and a
            # crashed attempt (SIGKILL) does not take the worker down
            "force_multiprocessing": "true",
            # the bronze export is an ExternalTask: re-check it every retry_delay
            "retry_external_tasks": "true",
            # how often an idle worker asks for work; Luigi's default adds up to 5 s of
            # random jitter on top, which would dominate short retry delays
            "wait_interval": "0.5",
            "wait_jitter": "0.2",
            "ping_interval": "1.0",
            "send_failure_email": "false",
            "check_complete_on_run": "true",
        },
        "scheduler": {
            "retry_delay": f"{retry_delay_s(config):g}",
            # a task disabled after exhausting retry_count stays disabled this long (Luigi's
            # default); after a fix, re-enable it (visualiser button, /api/re_enable_task)
            "disable_persist": "86400",
            "disable_window": "3600",
            # luigid otherwise only moves FAILED tasks back to PENDING in its 60 s prune
            "prune_on_get_work": "true",
            "record_task_history": "true",
            "state_path": str(state_path),
            "metrics_collector": "prometheus",
            "stable_done_cooldown_secs": "0",
        },
        # a SQLite file, or a database URL (the production profile's Postgres)
        "task_history": {"db_connection": history_db if "://" in str(history_db)
                         else f"sqlite:///{history_db}"},
        "prometheus": {
            "use_task_family_in_labels": "true",
            "task_parameters_to_use_in_labels": '["date"]',
        },
        "email": {"force_send": "false"},
    }


def non_default(settings: dict[str, dict[str, str]]) -> dict[str, str]:
    """``{"section.key": value}`` of the settings whose value differs from Luigi's own default
    (read from Luigi's configuration classes; a key Luigi gives no default counts)."""
    import luigi.contrib.prometheus_metric  # noqa: F401 - registers [prometheus]
    import luigi.notifications  # noqa: F401 - registers [email]
    import luigi.scheduler  # noqa: F401 - registers [scheduler]

    registry = Register._get_reg()
    out = {}
    for section, values in settings.items():
        cls = registry.get(section)
        params = dict(cls.get_params()) if isinstance(cls, type) else {}
        for key, value in values.items():
            param = params.get(key)
            default = getattr(param, "_default", luigi.parameter._no_value)
            if default is luigi.parameter._no_value or param.parse(value) != default:
                out[f"{section}.{key}"] = value
    return out


def write_luigi_cfg(config: WorkbenchConfig | None = None, path: Path | None = None,
                    **kwargs) -> Path:
    """Write the settings as a luigi.cfg file (``LUIGI_CONFIG_PATH`` points at it)."""
    config = config or config_for(ORCHESTRATOR)
    path = path or state_root(config) / "luigi.cfg"
    parser = configparser.ConfigParser()
    for section, values in luigi_settings(config, **kwargs).items():
        parser[section] = values
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fh.write("# generated from the workbench configuration and the pipeline spec\n")
        parser.write(fh)
    return path


def apply_settings(config: WorkbenchConfig, **kwargs) -> None:
    """Put the settings into this process's Luigi configuration (before ``luigi.build``)."""
    luigi_config = luigi.configuration.get_config()
    for section, values in luigi_settings(config, **kwargs).items():
        for key, value in values.items():
            luigi_config.set(section, key, value)
