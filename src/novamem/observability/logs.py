"""JSON log lines on stdout: one object per line, the request id on every line of a request, no secrets.

`configure_logging(settings)` is the one place logging is set up (by `novamem serve`). Every record,
from novamem, uvicorn or a library, goes through `JsonFormatter`, which redacts credentials from the
message, its arguments, extra fields and tracebacks before anything is written.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urlsplit

from novamem.config import LogLevel, Settings
from novamem.observability import tracing
from novamem.observability.context import request_id_var
from novamem.observability.redaction import REDACTED, redactor

__all__ = ["JsonFormatter", "RateLimitFilter", "configure_logging", "register_secrets"]

LEVELS = {
    LogLevel.DEBUG: logging.DEBUG,
    LogLevel.INFO: logging.INFO,
    LogLevel.WARNING: logging.WARNING,
    LogLevel.ERROR: logging.ERROR,
}
_LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error"}
# Library loggers that, at debug, would write request or response bodies or per-call noise: never below these.
QUIET_LIBRARIES = {
    "mcp": logging.INFO,
    "sse_starlette": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.INFO,
    "urllib3": logging.INFO,
    "asyncio": logging.INFO,
    "multipart": logging.INFO,
    "python_multipart": logging.INFO,
}
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
# attributes every LogRecord has (and uvicorn's ANSI-coloured copy of the message); the rest came from `extra=`
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName", "suppressed_count", "color_message"}
)
_BASE_KEYS = ("ts", "level", "logger", "msg", "request_id", "trace_id", "span_id")
_SENSITIVE_FIELD = ("password", "secret", "token", "authorization", "cookie", "api_key", "apikey", "credential")


def _clean(value: object) -> object:
    """A JSON-safe, redacted copy of an extra field's value."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): REDACTED if _sensitive(str(k)) else _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    return redactor.redact(str(value))


def _sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SENSITIVE_FIELD) and not lowered.endswith(("_count", "_ms"))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, request_id, extra fields, exc; all redacted."""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line: dict[str, Any] = {
            "ts": ts,
            "level": _LEVEL_NAMES.get(record.levelno, record.levelname.lower()),
            "logger": record.name,
            "msg": redactor.redact(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            line["request_id"] = request_id
        ids = tracing.current_trace_ids()
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        for key, value in vars(record).items():
            if key in _STANDARD or key in line or key.startswith("_"):
                continue
            line[key] = REDACTED if _sensitive(key) else _clean(value)
        suppressed = getattr(record, "suppressed_count", 0)
        if suppressed:
            line["suppressed"] = suppressed
        if record.exc_info:
            line["exc"] = redactor.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc"] = redactor.redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redactor.redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class RateLimitFilter(logging.Filter):
    """Lets through at most one record per `interval_s` from loggers under `prefix`, counting the rest.

    Used for the OpenTelemetry exporter: a collector that is down must not flood the logs.
    """

    def __init__(self, prefix: str, interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._prefix = prefix
        self._interval = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._prefix):
            return True
        now = self._clock()
        with self._lock:
            if now < self._next.get(record.name, 0.0):
                self._suppressed[record.name] = self._suppressed.get(record.name, 0) + 1
                return False
            self._next[record.name] = now + self._interval
            record.suppressed_count = self._suppressed.pop(record.name, 0)
        return True


def register_secrets(settings: Settings) -> None:
    """Hand the configured secret values to the redactor, so they are removed verbatim wherever they appear."""
    values = [
        field.get_secret_value() if field is not None else None
        for field in (
            settings.cookie_secret,
            settings.auth_token,
            settings.embeddings_api_key,
            settings.rerank_api_key,
            settings.query_decomp_api_key,
            settings.bootstrap_admin_password,
        )
    ]
    if settings.database_url is not None:
        try:
            values.append(urlsplit(settings.database_url.get_secret_value()).password)
        except ValueError:
            pass  # not a URL (a conninfo string): its `password=` is caught by the key=value pattern
    redactor.register(*values)


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Send every log record, uvicorn's included, as redacted JSON lines to stdout at `settings.log_level`."""
    register_secrets(settings)
    level = LEVELS[settings.log_level]
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RateLimitFilter("opentelemetry"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        # uvicorn's own handlers would write plain text; let its records reach the JSON handler instead
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(level, floor))
    logging.captureWarnings(True)
    return handler
