"""The request log: one line per API call, and where ecsram's other log messages go.

A line says when the call was answered, its request ID, the account and principal it acted as
(once authenticated), the action, the HTTP status, the error code (``-`` on success) and how
long ecsram took, in milliseconds, from the request's arrival to its response being sent:

    2026-11-30T10:35:26.123Z 9F1C0B2E-...-00000000002A 1000000000000001
        acs:ram::1000000000000001:user/deployer AttachInstanceRamRole 200 - 1.84

(one line; wrapped here), or, with ``--log-format json``, one JSON object per line with the same fields. Lines are
written with one ``write`` each on a file opened for appending, so the worker processes of one
server can share a log file without interleaving within a line.

Request lines are INFO messages: ``--log-level info`` (or debug) turns them on; at the default
``warning`` they cost nothing but one comparison per request.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

import orjson

from ecsram.config import LOG_FORMATS as FORMATS
from ecsram.config import LOG_LEVELS as LEVELS

_NEEDS_QUOTING = frozenset(' "\\\n\r\t')


_second: list[Any] = [-1, ""]  # the last whole second formatted, and its text


def _timestamp(epoch: float) -> str:
    """``2026-11-30T10:38:53.439Z``; the date and time are formatted once per second."""
    whole = int(epoch)
    if whole != _second[0]:
        _second[0], _second[1] = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_second[1]}.{int((epoch - whole) * 1000):03d}Z"


def _field(value: str | None) -> str:
    """A text-format field: ``-`` when absent, JSON-quoted when it has spaces or quotes (caller
    input, such as an unknown action name, cannot break a line or forge another field)."""
    if not value:
        return "-"
    if _NEEDS_QUOTING.isdisjoint(value) and value.isprintable():
        return value
    return orjson.dumps(value).decode()


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(document).decode()


class RequestLog:
    """Writes request lines (when enabled) to the log destination; one per process."""

    def __init__(self, *, level: str = "warning", log_format: str = "text", log_file: str = "") -> None:
        if level not in LEVELS:
            raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
        if log_format not in FORMATS:
            raise ValueError(f"log format {log_format!r} is not one of {', '.join(FORMATS)}")
        self.enabled = level in ("debug", "info")
        self.json = log_format == "json"
        self.path = log_file
        self._fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if log_file else sys.stderr.fileno()
        self._level = level

    def configure_logging(self) -> None:
        """Send ecsram's (and the server's) other log messages to the same place, in the same format."""
        handler: logging.Handler = (
            logging.FileHandler(self.path, encoding="utf-8") if self.path else logging.StreamHandler(sys.stderr)
        )
        if self.json:
            handler.setFormatter(_JsonFormatter())
        else:
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        for existing in list(root.handlers):
            root.removeHandler(existing)
            existing.close()
        root.addHandler(handler)
        root.setLevel(self._level.upper())
        # Migration chatter at start is not what anyone turns on INFO for.
        logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))

    def write(
        self,
        *,
        request_id: str,
        account: str | None,
        principal: str | None,
        action: str | None,
        status: int,
        error_code: str,
        started: float,
    ) -> None:
        """One line for one call; ``started`` is ``time.perf_counter()`` at its arrival."""
        latency = (time.perf_counter() - started) * 1000.0
        now = time.time()
        if self.json:
            line = orjson.dumps(
                {
                    "time": _timestamp(now),
                    "requestId": request_id,
                    "account": account,
                    "principal": principal,
                    "action": action,
                    "status": status,
                    "errorCode": error_code or None,
                    "latencyMs": round(latency, 2),
                },
                option=orjson.OPT_APPEND_NEWLINE,
            )
        else:
            line = (
                f"{_timestamp(now)} {_field(request_id)} {_field(account)} {_field(principal)} {_field(action)} "
                f"{status} {_field(error_code)} {latency:.2f}\n"
            ).encode()
        os.write(self._fd, line)

    def close(self) -> None:
        if self.path:
            os.close(self._fd)
