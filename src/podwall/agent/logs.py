"""Structured logs: one JSON object per line on stderr, for log shippers to index.

Fields passed as `extra={...}` become top-level keys next to `time`, `level`, `logger` and
`msg`; an exception adds `error` and `traceback`. Why JSON: a node agent's logs are read by
machines first (Loki, Elasticsearch), and its fields (node, mode, seconds) are what gets queried.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["LOGGER", "JsonFormatter", "setup_logging"]

LOGGER = "podwall.agent"
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            data["error"] = str(record.exc_info[1])
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, separators=(",", ":"))


def setup_logging(level: str = "info", stream: TextIO | None = None) -> logging.Logger:
    """The agent's logger, writing JSON lines to `stream` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(LOGGER)
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
    return logger
