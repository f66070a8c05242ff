"""Driving an orchestrator's service command from the benchmark.

The bench never imports an implementation: it runs ``python -m workbench_<x>.service`` with
that implementation's own interpreter (``<x>_impl/.venv/bin/python``) and reads its JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Mapping

from pipelines_core.config import PROJECT_ROOT


class ServiceCommandError(RuntimeError):
    """The service command failed; the message carries its own error and output."""


def impl_dir(orchestrator: str) -> Path:
    return PROJECT_ROOT / f"{orchestrator}_impl"


def impl_python(orchestrator: str) -> Path:
    """The interpreter of an implementation's own environment."""
    python = impl_dir(orchestrator) / ".venv" / "bin" / "python"
    if not python.exists():
        raise ServiceCommandError(f"{python} does not exist: run `make setup` first")
    return python


class ServiceCommand:
    """``python -m workbench_<x>.service`` of one home, run as a subprocess.

    Args:
        orchestrator: ``airflow``, ``prefect``, ``dagster`` or ``luigi``.
        home: The orchestrator's home folder (``--home``).
        port: Its API/UI port (``--port``); the command's default when None.
        env: The environment of the command and so of every component it starts (the
            configuration's ``WORKBENCH_*`` variables, the orchestrator's own settings).
        options: Orchestrator-specific options placed before the action.
        profile: ``production`` or ``default`` (``--profile``); the command's own choice
            (what the home's last ``up`` used) when None.
        detection: ``default`` or ``tuned`` crash-detection settings (``--detection``); the
            command's own choice when None.
    """

    def __init__(self, orchestrator: str, home: Path, *, port: int | None = None,
                 env: Mapping[str, str] | None = None, options: list[str] | None = None,
                 profile: str | None = None, detection: str | None = None) -> None:
        self.orchestrator = orchestrator
        self.home = Path(home)
        self.port = port
        self.env = dict(env if env is not None else os.environ)
        self.options = list(options or [])
        self.profile = profile
        self.detection = detection
        self.up_status: dict[str, Any] | None = None

    def argv(self, *action: str) -> list[str]:
        argv = [str(impl_python(self.orchestrator)), "-m",
                f"workbench_{self.orchestrator}.service", "--home", str(self.home), "--json"]
        if self.port:
            argv += ["--port", str(self.port)]
        if self.profile:
            argv += ["--profile", self.profile]
        if self.detection:
            argv += ["--detection", self.detection]
        return argv + self.options + list(action)

    def run(self, *action: str, timeout_s: float = 600) -> dict[str, Any]:
        """Run one action; the status it prints. Raises ServiceCommandError on failure."""
        argv = self.argv(*action)
        try:
            out = subprocess.run(argv, env=self.env, cwd=impl_dir(self.orchestrator),
                                 capture_output=True, text=True, timeout=timeout_s,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise ServiceCommandError(f"{' '.join(action)} of {self.orchestrator} did not "
                                      f"finish within {timeout_s:.0f} s") from exc
        lines = out.stdout.strip().splitlines()
        try:
            payload = json.loads(lines[-1]) if lines else {}
        except ValueError:
            payload = {}
        if out.returncode != 0 or "error" in payload:
            why = payload.get("error") or out.stderr.strip()[-3000:] or out.stdout[-3000:]
            raise ServiceCommandError(f"`{' '.join(action)}` of {self.orchestrator} failed "
                                      f"(exit {out.returncode}): {why}")
        return payload

    def up(self, timeout_s: float = 600) -> dict[str, Any]:
        """``up``; its status is kept as ``up_status`` (the components to watch)."""
        self.up_status = self.run("up", timeout_s=timeout_s)
        return self.up_status

    def down(self) -> dict[str, Any]:
        self.up_status = None
        return self.run("down", timeout_s=180)

    def status(self) -> dict[str, Any]:
        return self.run("status", timeout_s=60)

    def kill(self, component: str) -> dict[str, Any]:
        return self.run("kill", component, timeout_s=60)

    def restart(self, component: str, timeout_s: float = 600) -> dict[str, Any]:
        self.up_status = self.run("restart", component, timeout_s=timeout_s)
        return self.up_status

    def component(self, status: dict[str, Any], name: str) -> dict[str, Any]:
        return next(c for c in status["components"] if c["name"] == name)
