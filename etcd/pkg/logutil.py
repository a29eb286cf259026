"""The member's log output (etcd's ``pkg/logutil``): one JSON object per line, shaped as etcd 3.4's zap logs.

A line reads ``{"level":"info","ts":"2026-01-02T03:04:05.678Z","caller":"embed/etcd.py:117","msg":"..."}``
followed by the record's fields, in the order given, keyed by etcd's field names:
``log.info("serving peer traffic", extra=fields({"address": "127.0.0.1:2380"}))``. (Plain ``extra`` keys
are fields too, but ``LogRecord`` refuses some names etcd uses, such as ``name``.) ``caller`` is the
source path from the package root (``embed/etcd.py`` for code in ``etcd/``, ``mux/mux.py`` for the mux),
as zap prints ``embed/etcd.go``.

``configure(logger, level, outputs)`` installs it on the root logger for ``--logger``, ``--log-level`` and
``--log-outputs``; call it again to replace the previous set-up (its handlers are closed).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

# etcd's --log-level values (zap's) -> Python levels; dpanic, panic and fatal all mean "critical".
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "dpanic": logging.CRITICAL,
    "panic": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}
_LEVEL_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "fatal",
}
# Everything a LogRecord carries by itself; the rest of its __dict__ came in through ``extra``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
FIELDS = "zap_fields"
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../etcd
_SOURCE_ROOT = os.path.dirname(_PACKAGE_ROOT)  # the directory holding etcd/ and mux/


def fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """``extra=`` for a logging call carrying zap-style fields under any names (``name``, ``data-dir``)."""
    return {FIELDS: dict(values)}


def level_name(levelno: int) -> str:
    """zap's name for a Python level: the nearest named level at or below it."""
    for threshold in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= threshold:
            return _LEVEL_NAMES[threshold]
    return "debug"


def caller(pathname: str, lineno: int) -> str:
    """``embed/etcd.py:117``: the path below ``etcd/`` for our code, below the source root for the mux and
    tests, else the last two path components (``aiohttp/web_protocol.py``)."""
    path = os.path.abspath(pathname)
    if path.startswith(_PACKAGE_ROOT + os.sep):
        short = os.path.relpath(path, _PACKAGE_ROOT)
    elif path.startswith(_SOURCE_ROOT + os.sep) and ".venv" not in path:
        short = os.path.relpath(path, _SOURCE_ROOT)
    else:
        short = "/".join(path.split(os.sep)[-2:])
    return f"{short}:{lineno}"


def format_ts(created: float) -> str:
    """zap's ISO 8601 time with milliseconds, in UTC: ``2026-01-02T03:04:05.678Z``."""
    millis = int(created * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{millis:03d}Z"


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, BaseException):
        return str(value)
    return str(value)


class JSONFormatter(logging.Formatter):
    """One zap-shaped JSON object per record; an exception goes in ``"error"`` and ``"stacktrace"``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": level_name(record.levelno),
            "ts": format_ts(record.created),
            "caller": caller(record.pathname, record.lineno),
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key == FIELDS:
                for k, v in value.items():
                    entry.setdefault(k, _jsonable(v))
            elif key not in _RECORD_ATTRS and key not in entry:
                entry[key] = _jsonable(value)
        if record.exc_info and record.exc_info[1] is not None:
            entry.setdefault("error", str(record.exc_info[1]))
            entry["stacktrace"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"), ensure_ascii=False)


class _FlushingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that does not close the process's stdout/stderr when replaced."""

    def __init__(self, stream: TextIO, owned: bool) -> None:
        super().__init__(stream)
        self.owned = owned

    def close(self) -> None:
        try:
            self.flush()
            if self.owned:
                self.stream.close()
        finally:
            super().close()


def open_output(name: str) -> tuple[TextIO, bool]:
    """``(stream, owned)`` for one ``--log-outputs`` value: ``default``/``stderr``, ``stdout`` or a file
    path (appended to, created 0600 as etcd does). Raises ``OSError`` for a file that cannot be opened."""
    if name in ("default", "stderr"):
        return sys.stderr, False
    if name == "stdout":
        return sys.stdout, False
    fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8", buffering=1), True


_installed: list[logging.Handler] = []


def configure(outputs: Sequence[str] = ("default",), level: str = "info", *, logger: str = "zap") -> None:
    """Send every log record at ``level`` or above to ``outputs`` as JSON lines (replacing a previous call).

    ``logger`` is etcd's ``--logger``: both ``zap`` and the deprecated ``capnslog`` get the JSON lines here
    (a stated difference from etcd 3.4, whose capnslog prints text). Outputs are deduplicated.

    Raises:
        OSError: an output file cannot be opened; the previous set-up is left in place.
        KeyError: an unknown level (``Config.validate`` refuses those first).
    """
    del logger  # one format for both; kept so the caller passes what etcd's flag says
    python_level = LEVELS[level]
    streams = []
    seen: set[str] = set()
    try:
        for name in outputs or ("default",):
            key = "stderr" if name == "default" else name
            if key in seen:
                continue
            seen.add(key)
            streams.append(open_output(name))
    except OSError:
        for stream, owned in streams:
            if owned:
                stream.close()
        raise
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()
    formatter = JSONFormatter()
    for stream, owned in streams:
        handler = _FlushingHandler(stream, owned)
        handler.setFormatter(formatter)
        root.addHandler(handler)
        _installed.append(handler)
    root.setLevel(python_level)
