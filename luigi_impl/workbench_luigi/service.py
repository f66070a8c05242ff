"""luigid, Luigi's central scheduler, as the workbench runs it: one component over one home.

    python -m workbench_luigi.service [--home H] [--port 8082] [--json] [--fresh-state] up
    python -m workbench_luigi.service [--home H] [--json] status | down
    python -m workbench_luigi.service [--home H] [--json] kill luigid | restart luigid

``luigid`` is started as Luigi's docs start it (``luigid --address 127.0.0.1 --port P
--state-path ... --logdir ...``) with the luigi.cfg written from the spec and the workbench
configuration (``LUIGI_CONFIG_PATH``): task history in SQLite (default profile) or in the
workbench's PostgreSQL (production profile), Prometheus metrics on
``/metrics``, the visualiser at ``/``. Healthy means its JSON API answers. The home
(default ``<state_dir>/luigi``) holds luigi.cfg, the scheduler state, the task history and
the logs of luigid and of the workers.

luigid saves its scheduler state (``luigid-state.pickle``) on a clean stop and loads it at
start; with it come the failure counts of every task over ``disable_window`` (an hour), which
a later success does not clear. ``--fresh-state`` (``up`` only, when luigid is not running)
deletes that file first, so every task starts with no failures; the task history stays.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pipelines_core.config import WorkbenchConfig, config_for
from pipelines_core.http import HttpClient
from pipelines_core.service import DOWN, Component, Service, hide_password, main

from workbench_luigi.settings import (ORCHESTRATOR, luigi_settings, non_default, state_root,
                                      write_luigi_cfg)


#: Luigi 3.8's crash detection (``luigi/scheduler.py``, ``luigi/rpc.py``). luigid fails a
#: worker's running tasks once it has not heard from the worker for
#: ``worker_disconnect_delay`` (the worker pings every ``ping_interval``, 1 s in luigi.cfg).
#: A worker that loses luigid asks again after ``rpc-retry-wait``, up to
#: ``rpc-retry-attempts`` times; a luigid started again knows nothing of the run (its state is
#: saved only on a clean stop), so the worker finds no work and ends. Luigi's docs suggest no
#: other values, so ``--detection tuned`` changes nothing here.
DETECTION_DEFAULTS = {"[scheduler] worker_disconnect_delay": "60",
                      "[core] rpc-retry-attempts": "3", "[core] rpc-retry-wait": "30"}


class LuigiService(Service):
    orchestrator = ORCHESTRATOR
    default_port = 8082
    port_component = "luigid"
    detection_defaults = DETECTION_DEFAULTS

    def __init__(self, home: Path | None = None, port: int | None = None, *,
                 config: WorkbenchConfig | None = None,
                 options: argparse.Namespace | None = None) -> None:
        config = config or config_for(ORCHESTRATOR)
        super().__init__(home or state_root(config), port, config=config, options=options)

    @classmethod
    def add_options(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--fresh-state", action="store_true",
            help="up: delete luigid's saved scheduler state (failure counts, disabled tasks) "
                 "before starting it; the task history stays")

    @property
    def config_path(self) -> Path:
        return self.home / "luigi.cfg"

    @property
    def state_path(self) -> Path:
        return self.home / "luigid-state.pickle"

    @property
    def history_db(self) -> Path | str:
        """The task history's store: a SQLite file in the home on the default profile, the
        ``luigi`` database on the production profile."""
        return self.database_url("postgresql+psycopg2") or self.home / "task-history.sqlite"

    def settings(self) -> dict[str, dict[str, str]]:
        return luigi_settings(self.config, history_db=self.history_db,
                              state_path=self.state_path)

    def components(self) -> list[Component]:
        luigid = str(Path(sys.executable).with_name("luigid"))
        api = HttpClient(f"{self.url}/api")
        return [Component(
            "luigid",
            [luigid, "--address", "127.0.0.1", "--port", str(self.port),
             "--state-path", str(self.state_path), "--logdir", str(self.home / "logs")],
            port=self.port, healthy=lambda: api.ok("/has_task_history"),
            # history events are stamped with luigid's local time: UTC, as the ledger's
            env={**self.env(), "LUIGI_CONFIG_PATH": str(self.config_path), "TZ": "UTC"},
            ready_timeout_s=60)]

    def prepare(self) -> None:
        fresh = getattr(self.options, "fresh_state", False)
        if fresh and self.health(self.component("luigid")).health == DOWN:
            self.state_path.unlink(missing_ok=True)

    def start_component(self, comp: Component, say=lambda _: None):
        """Write luigi.cfg (unless luigid already runs with one), then start luigid."""
        if self.health(comp).health == DOWN:
            (self.home / "logs").mkdir(parents=True, exist_ok=True)
            write_luigi_cfg(self.config, self.config_path, history_db=self.history_db,
                            state_path=self.state_path)
            self.config_path.chmod(0o600)  # it may hold the history database's password
        return super().start_component(comp, say)

    def info(self) -> dict[str, Any]:
        return {"visualiser": f"{self.url}/static/visualiser/index.html",
                "config": str(self.config_path), "state_path": str(self.state_path),
                "task_history": hide_password(str(self.history_db)),
                "logs": str(self.home / "logs"), "profile": self.profile,
                "fresh_state": bool(getattr(self.options, "fresh_state", False)),
                "settings": {k: hide_password(v) for k, v in non_default(self.settings()).items()}}


if __name__ == "__main__":
    raise SystemExit(main(LuigiService))
