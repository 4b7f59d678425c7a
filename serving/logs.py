"""Log lines: plain text, or one JSON object per line with SAGEMAKER_LOG_FORMAT=json.

Both carry the same fields. Request lines and model load/unload events add theirs
through `extra=`, so a log pipeline can filter on status, latency or model name.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys
import time
from typing import Any

# Fields that call sites pass through `extra=` and that the JSON lines carry.
FIELDS = ("method", "path", "status", "latency_ms", "model", "event", "seconds", "bytes")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for field in FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


PLAIN = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def config(level: str, fmt: str) -> dict[str, Any]:
    """One logging.config dict, used by `serve` and handed to gunicorn, so its lines match."""
    formatter: dict[str, Any] = {"()": JsonFormatter} if fmt == "json" else {"format": PLAIN}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": formatter},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "line", "stream": sys.stdout}},
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }


def configure(level: str, fmt: str) -> None:
    logging.config.dictConfig(config(level, fmt))
