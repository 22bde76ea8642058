"""Structured logs: one JSON line per record, and one line per request with its request id.

The request line names method, path (without the query string, which may hold search
terms), status, duration, response size, the client address as seen through the
configured proxies and the user's numeric id. It never holds headers, cookies, tokens,
form fields or bodies.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

REQUEST_LOGGER = "fitstore.request"
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_HANDLER_MARK = "_fitstore_handler"


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object on one line (newlines in messages are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is None and has_request_context():
            request_id = g.get("request_id")
        if request_id:
            entry["request_id"] = request_id
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


# Control characters (a %0A in a URL path, say) would let a request forge log lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _escape(text: str) -> str:
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value ...`` on one line, control characters escaped."""

    def format(self, record: logging.LogRecord) -> str:
        fields = dict(getattr(record, "fields", None) or {})
        request_id = getattr(record, "request_id", None)
        if request_id is None and has_request_context():
            request_id = g.get("request_id")
        if request_id:
            fields = {"request_id": request_id, **fields}
        head = f"{self.formatTime(record)} {record.levelname} {record.name}: {record.getMessage()}"
        line = _escape(head)
        if fields:
            line += " " + " ".join(f"{key}={_escape(str(value))}" for key, value in fields.items())
        if record.exc_info:
            # The traceback follows on indented lines, so it cannot pose as a record of its own.
            trace = self.formatException(record.exc_info).splitlines()
            line += "\n" + "\n".join("    " + _escape(row) for row in trace)
        return line


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (servers and test runners swap it)."""

    def __init__(self):
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def configure_logging(app: Flask) -> None:
    """Send fitstore's records to stderr in the configured format (once per process)."""
    log_format = str(app.config["LOG_FORMAT"]).lower()
    level = str(app.config["LOG_LEVEL"]).upper()
    # Fail at start, not silently: a typo must not switch a log shipper's JSON to text.
    if log_format not in LOG_FORMATS:
        raise RuntimeError(f"FITSTORE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}.")
    if level not in LOG_LEVELS:
        raise RuntimeError(f"FITSTORE_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}.")
    formatter = JsonFormatter() if log_format == "json" else TextFormatter()
    logger = logging.getLogger("fitstore")
    logger.setLevel(level)
    handler = next((h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)), None)
    if handler is None:
        handler = StderrHandler()
        setattr(handler, _HANDLER_MARK, True)
        logger.addHandler(handler)
        # Records are written here once, not again by the root logger's handlers.
        logger.propagate = False
    handler.setFormatter(formatter)
    # Flask's app.logger is "fitstore" too (the import name): it shares this handler.

    if app.config["LOG_REQUESTS"]:
        _register_request_logging(app)


def _register_request_logging(app: Flask) -> None:
    request_log = logging.getLogger(REQUEST_LOGGER)

    def start_timer():
        g.request_started = time.perf_counter()

    # Before every other hook, so the duration covers CSRF, rate limits and login.
    app.before_request_funcs.setdefault(None, []).insert(0, start_timer)

    def log_request(response):
        started = g.get("request_started") or time.perf_counter()
        user = g.get("_login_user")  # what Flask-Login loaded; never loads it here
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": None,
            "bytes": response.content_length,
            "remote_addr": request.remote_addr,
            "user_id": user.id if getattr(user, "is_authenticated", False) else None,
        }
        request_id = g.get("request_id")

        def write() -> None:
            fields["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
            request_log.info(
                "%s %s %s",
                fields["method"],
                fields["path"],
                fields["status"],
                extra={"fields": fields, "request_id": request_id},
            )

        if not response.is_streamed:
            write()
            return response
        # A streamed download (open data, exports) is written after this hook: its line is
        # written once the server closed the body, with the time and bytes it really took.
        body = response.response
        fields["complete"] = False

        def counted():
            try:
                for chunk in body:
                    fields["bytes"] = (fields["bytes"] or 0) + len(
                        chunk.encode() if isinstance(chunk, str) else chunk
                    )
                    yield chunk
                fields["complete"] = True
            finally:
                # The wrapped body may hold a request context or a database cursor.
                close = getattr(body, "close", None)
                if close is not None:
                    close()

        fields["bytes"] = None
        response.response = counted()
        response.call_on_close(write)
        return response

    # after_request hooks run last-registered first: registered first, this one runs last
    # and logs the status every other hook settled on.
    app.after_request_funcs.setdefault(None, []).insert(0, log_request)
