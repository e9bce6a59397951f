"""Log lines as text (people) or one JSON object per line (``TSUKUBA_GIS_LOG_FORMAT=json``, for
journald/Loki/Elasticsearch), for the CLI and for uvicorn's server and access logs alike."""

import json
import logging
from datetime import UTC, datetime

TEXT = "%(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}`` plus ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """One line of JSON (non-ASCII kept readable: Japanese layer names)."""
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def log_line(message: str, fmt: str, name: str = "tsukuba_gis.cli") -> str:
    """A message the CLI prints to stderr, in the log format (so a JSON log stays all JSON)."""
    if fmt != "json":
        return message
    record = logging.makeLogRecord(
        {"name": name, "levelname": "INFO", "levelno": logging.INFO, "msg": message}
    )
    return JsonFormatter().format(record)


def configure(level: int, fmt: str) -> None:
    """The root logger's level and format (``text`` or ``json``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def uvicorn_config(fmt: str) -> dict | None:
    """uvicorn's ``log_config`` for JSON lines (None keeps uvicorn's own text format)."""
    if fmt != "json":
        return None
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    loggers = {
        name: {"handlers": ["default"], "level": "INFO", "propagate": False}
        for name in ("uvicorn", "uvicorn.access")
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "tsukuba_gis.logs.JsonFormatter"}},
        "handlers": {"default": handler},
        "loggers": {**loggers, "uvicorn.error": {"level": "INFO"}},
        "root": {"handlers": ["default"], "level": "INFO"},
    }
