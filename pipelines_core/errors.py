"""Exceptions of the workbench. A ``WorkbenchError`` is a user-facing failure with one clear line."""

from __future__ import annotations


class WorkbenchError(Exception):
    """A failure the user can act on; the CLI prints its message without a traceback."""


class ConfigError(WorkbenchError):
    """A setting is missing, malformed or out of range."""


class SpecError(WorkbenchError):
    """A pipeline spec is inconsistent (cycle, unknown upstream, unresolved function)."""


class SparkUnavailableError(WorkbenchError):
    """Spark cannot be reached or started (no Java, server down, bad URL)."""


class StepFailed(WorkbenchError):
    """A step raised; carries the step name for the runner's summary."""


class GateFailed(StepFailed):
    """A gate (data quality, model AUC) rejected the data: stop everything downstream."""


class ContractViolation(GateFailed):
    """An input breaks its declared contract (unreadable, a column missing or of another
    type): a verdict on the data like a gate's, so never retried."""


class ExportNotReady(StepFailed):
    """The bronze export of the date did not appear before the sensor's timeout."""


class StepTimeout(StepFailed):
    """A step ran past the timeout of its retry policy."""


class InjectedFault(StepFailed):
    """Raised by the fault plan, never by real code."""
