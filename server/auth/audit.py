"""The audit trail: one JSON line per access to staff data and per sign-in, in ``audit.log``.

Lines name who, what (method, path, collection, redacted query), when, from where and the
status. Credentials never reach this module: it gets a user name and a request, and drops query
parameters whose names look like secrets, in case a client puts one in a URL.
"""

import json
import logging
import logging.handlers
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from starlette.requests import HTTPConnection

LOGGER = "tsukuba_gis.audit"
SECRET_PARAM = re.compile(r"pass|token|key|secret|auth|session|code|cookie", re.IGNORECASE)
COLLECTION = re.compile(r"/collections/([^/?]+)")
MAX_QUERY = 1000


def open_audit_log(path: Path, max_bytes: int, backups: int) -> logging.Logger:
    """The audit logger, writing to ``path`` only (not to the server log)."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):  # a new app in the same process (tests) re-targets it
        logger.removeHandler(handler)
        handler.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    if max_bytes:
        # Each worker rotates on its own; a line is one O_APPEND write, so none is torn or lost.
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
    else:
        handler = logging.handlers.WatchedFileHandler(path, encoding="utf-8")  # for logrotate
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return logger


def redacted_query(query: str) -> str:
    """The query string with the values of secret-looking parameters replaced."""
    pairs = [
        (k, "[redacted]" if SECRET_PARAM.search(k) else v)
        for k, v in parse_qsl(query, keep_blank_values=True)
    ]
    return urlencode(pairs)[:MAX_QUERY]


class RedactAccessLog(logging.Filter):
    """Blank secret-looking query parameters in uvicorn's access log lines, as in the audit."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the path argument of an access line; never drop a line."""
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path, sep, query = args[2].partition("?")
            if sep and SECRET_PARAM.search(query):
                record.args = (*args[:2], f"{path}?{redacted_query(query)}", *args[3:])
        return True


def redact_access_log() -> None:
    """Install the filter on uvicorn's access logger (once per process)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactAccessLog) for f in logger.filters):
        logger.addFilter(RedactAccessLog())


def audit(
    event: str,
    conn: HTTPConnection,
    status: int,
    user: str | None = None,
    role: str | None = None,
    method: str | None = None,
    departments: tuple[str, ...] | None = None,
) -> None:
    """Write one audit line (``departments``: the principal's, naming who may edit what)."""
    path = conn.url.path
    collection = COLLECTION.search(path)
    record = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "event": event,
        "user": user,
        "role": role,
        "auth": method,
        "departments": list(departments) if departments is not None else None,
        "client": conn.client.host if conn.client else None,
        "method": conn.scope.get("method"),
        "path": path,
        "query": redacted_query(conn.url.query),
        "collection": collection.group(1) if collection else None,
        "status": status,
    }
    logging.getLogger(LOGGER).info(json.dumps(record, ensure_ascii=False))
