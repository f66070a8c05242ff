"""The one HTTP client of the workbench: JSON over HTTP with typed status errors.

Used by the benchmark's adapters to read each orchestrator's API and by the service
commands to ask a component whether it is healthy. Errors are told apart by type and status
code, never by matching text: :class:`HttpStatusError` (with ``status``) and its
subclasses for the codes callers act on, :class:`HttpUnreachable` when no answer came.

Retries are explicit: a request is tried again only when the caller says which statuses may
be asked again (``retry_on``), and a request that may have changed something (anything but
GET) is not retried after a timeout unless the caller says so (``idempotent=True``).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Iterable, Mapping


class HttpError(RuntimeError):
    """Any failure of one HTTP call."""


class HttpUnreachable(HttpError):
    """No answer: refused, reset, timed out."""


class HttpStatusError(HttpError):
    """The server answered with a status of 400 or more."""

    status: int = 0

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url} -> HTTP {status}: {body[:2000]}")
        self.method, self.url, self.status, self.body = method, url, status, body


class NotFound(HttpStatusError):
    """404."""


class Conflict(HttpStatusError):
    """409: the thing exists already, or its state forbids the change."""


class ServerError(HttpStatusError):
    """500 and above."""


_BY_STATUS: dict[int, type[HttpStatusError]] = {404: NotFound, 409: Conflict}

#: Statuses that say "busy, ask again": a small loaded machine's SQLite lock, a proxy's 502.
BUSY = frozenset({502, 503, 504})


def status_error(method: str, url: str, status: int, body: str) -> HttpStatusError:
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else HttpStatusError)
    return cls(method, url, status, body)


class HttpClient:
    """JSON calls against one base URL.

    Args:
        base_url: Prefix of every path (``http://127.0.0.1:4200/api``).
        timeout_s: Per-request timeout.
        tries: How many times a retryable failure is tried in all.
        retry_on: Statuses that are asked again (default: :data:`BUSY`).
        backoff_s: Wait before the n-th retry is ``backoff_s * n``.
        headers: Extra headers, or a callable giving them per request (a token that expires).
    """

    def __init__(self, base_url: str, *, timeout_s: float = 60.0, tries: int = 4,
                 retry_on: Iterable[int] = BUSY, backoff_s: float = 1.0,
                 headers: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None
                 ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.tries = max(1, tries)
        self.retry_on = frozenset(retry_on)
        self.backoff_s = backoff_s
        self._headers = headers

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        query = urllib.parse.urlencode({k: v for k, v in (params or {}).items()
                                        if v is not None}, doseq=True)
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def request(self, method: str, path: str, body: Any = None, *,
                params: Mapping[str, Any] | None = None, raw: bool = False,
                timeout_s: float | None = None, tries: int | None = None,
                retry_on: Iterable[int] | None = None, idempotent: bool | None = None,
                headers: Mapping[str, str] | None = None) -> Any:
        """One call; the decoded JSON answer (the text with ``raw``; None when empty)."""
        url = self.url(path, params)
        data = json.dumps(body, default=str).encode() if body is not None else None
        retry_statuses = self.retry_on if retry_on is None else frozenset(retry_on)
        idempotent = method == "GET" if idempotent is None else idempotent
        tries = tries or self.tries
        for n in range(1, tries + 1):
            hdrs = {"Content-Type": "application/json", "Accept": "application/json"}
            extra = self._headers() if callable(self._headers) else self._headers
            hdrs.update(extra or {})
            hdrs.update(headers or {})
            req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
            try:
                with urllib.request.urlopen(req, timeout=timeout_s or self.timeout_s) as resp:
                    text = resp.read().decode(errors="replace")
                break
            except urllib.error.HTTPError as exc:
                err = status_error(method, url, exc.code, exc.read().decode(errors="replace"))
                if exc.code not in retry_statuses or n == tries:
                    raise err from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                # A refused connection changed nothing; a timeout may have.
                refused = isinstance(getattr(exc, "reason", exc), ConnectionRefusedError)
                if n == tries or not (idempotent or refused):
                    raise HttpUnreachable(f"{method} {url}: {getattr(exc, 'reason', exc)}") \
                        from exc
            time.sleep(self.backoff_s * n)
        if raw:
            return text
        return json.loads(text) if text else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def ok(self, path: str, timeout_s: float = 3.0) -> bool:
        """Whether ``GET path`` answers 2xx right now (one try): a health check."""
        try:
            self.request("GET", path, raw=True, timeout_s=timeout_s, tries=1)
            return True
        except HttpError:
            return False
