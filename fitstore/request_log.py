"""Structured logs: one JSON line per record, and one line per request with its request id.

The request line names method, path (without the query string, which may hold search
terms), status, duration, response size, the client address as seen through the
configured proxies and the user's numeric id. It never holds headers, cookies, tokens,
form fields or bodies.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

REQUEST_LOGGER = "fitstore.request"
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


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
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
    formatter = JsonFormatter() if app.config["LOG_FORMAT"] == "json" else TextFormatter()
    logger = logging.getLogger("fitstore")
    logger.setLevel(app.config["LOG_LEVEL"])
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
        started = g.get("request_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
        user = g.get("_login_user")  # what Flask-Login loaded; never loads it here
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            # The declared length only: computing it would consume a streamed body.
            "bytes": response.content_length,
            "remote_addr": request.remote_addr,
            "user_id": user.id if getattr(user, "is_authenticated", False) else None,
        }
        request_log.info(
            "%s %s %s", request.method, request.path, response.status_code, extra={"fields": fields}
        )
        return response

    # after_request hooks run last-registered first: registered first, this one runs last
    # and logs the status every other hook settled on.
    app.after_request_funcs.setdefault(None, []).insert(0, log_request)
