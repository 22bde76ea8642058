"""Domain exceptions and their one mapping to HTML pages and JSON problem bodies (RFC 9457)."""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    status = 400

    @property
    def title(self):
        """The one title per status, shared with HTTP errors (``TITLES``)."""
        return TITLES.get(self.status, TITLES[400])

    def __init__(self, detail: str | None = None, errors: dict[str, list[str]] | None = None):
        super().__init__(detail or str(self.title))
        self.detail = detail
        self.errors = errors or {}


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Unauthorized(DomainError):
    status = 401


class Invalid(DomainError):
    status = 422


class Conflict(DomainError):
    status = 409


class PreconditionFailed(DomainError):
    status = 412


class PreconditionRequired(DomainError):
    """RFC 6585: the request must be conditional (``If-Match``) to prevent lost updates."""

    status = 428


class PayloadTooLarge(DomainError):
    status = 413


TITLES = {
    400: _l("Ungültige Anfrage"),
    401: _l("Anmeldung erforderlich"),
    403: _l("Keine Berechtigung"),
    404: _l("Seite nicht gefunden"),
    405: _l("Methode nicht erlaubt"),
    409: _l("Konflikt mit dem aktuellen Zustand"),
    412: _l("Vorbedingung fehlgeschlagen"),
    413: _l("Anfrage zu groß"),
    415: _l("Nicht unterstützter Inhaltstyp"),
    422: _l("Eingaben ungültig"),
    428: _l("Vorbedingung erforderlich"),
    429: _l("Zu viele Anfragen"),
    500: _l("Interner Fehler"),
    503: _l("Vorübergehend nicht verfügbar"),
}

# Seconds a client should wait before retrying after the database was unreachable.
RETRY_AFTER_UNAVAILABLE = "5"


def wants_json() -> bool:
    return request.path.startswith("/api/")


def problem(status: int, detail: str | None = None, errors: dict | None = None, headers=None):
    body = {
        "type": "about:blank",
        "title": str(TITLES.get(status, _("Fehler"))),
        "status": status,
        "instance": request.path,
        "request_id": getattr(g, "request_id", None),
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    if status == 401:
        # RFC 9110: a 401 names the scheme the client should use.
        response.headers["WWW-Authenticate"] = 'Bearer realm="fitstore"'
    if headers:
        response.headers.extend(headers)
    return response


def error_page(status: int, detail: str | None = None, headers=None):
    template = f"errors/{status}.html" if status in (403, 404, 429, 500) else "errors/generic.html"
    body = render_template(
        template, status=status, title=TITLES.get(status, _("Fehler")), detail=detail
    )
    return body, status, headers or {}


def _respond(status: int, detail: str | None = None, errors: dict | None = None, headers=None):
    if wants_json():
        return problem(status, detail, errors, headers)
    return error_page(status, detail, headers)


def _webargs_messages(error: HTTPException) -> dict | None:
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if not messages:
        return None
    # webargs nests by location ("json", "query"); a client cares about the field.
    flat: dict = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            flat.update(location_errors)
    return flat or messages


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        return _respond(error.status, error.detail, error.errors)

    @app.errorhandler(CSRFError)
    def handle_csrf(error: CSRFError):
        return _respond(
            400,
            _("Das Formular ist abgelaufen oder unvollständig. Bitte laden Sie die Seite neu."),
        )

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        status = error.code or 500
        detail = None
        if status == 429:
            detail = _("Zu viele Versuche. Bitte warten Sie einige Minuten.")
        elif status == 413:
            detail = _("Die Anfrage ist zu groß.")
        elif status == 422:
            detail = _("Bitte prüfen Sie die markierten Angaben.")
        elif status == 415:
            detail = _("Bitte senden Sie application/json.")
        headers = {}
        if status == 405 and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        if status == 429:
            retry_after = error.get_headers() and dict(error.get_headers()).get("Retry-After")
            if retry_after:
                headers["Retry-After"] = retry_after
        return _respond(status, detail, _webargs_messages(error), headers)

    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    def handle_service_unavailable(error: Exception):
        if isinstance(error, OperationalError) and not _is_outage(error):
            # A deadlock, a statement timeout or a missing table is a fault, not an outage:
            # it is answered 500 and logged with its traceback.
            return handle_unexpected(error)
        # The database went away (restart, failover, network), the pool is exhausted, or
        # Redis (the shared login limits) cannot be reached: the request changed nothing
        # (its transaction is rolled back), so the client may simply retry. The pool's
        # pre-ping replaces dead connections on the next checkout. Logins fail closed.
        log.warning(
            "%s unavailable (request id %s): %s",
            "redis" if isinstance(error, RedisConnectionError | RedisTimeout) else "database",
            getattr(g, "request_id", "-"),
            str(error).splitlines()[0] if str(error) else type(error).__name__,
        )
        _rollback_quietly()
        # The rollback expired the user loaded for this request; reading it again (headers,
        # the request log, the page) would go to the database that just failed.
        from flask_login import AnonymousUserMixin

        g._login_user = AnonymousUserMixin()
        headers = {"Retry-After": RETRY_AFTER_UNAVAILABLE, "Cache-Control": "no-store"}
        detail = _(
            "Der Dienst ist vorübergehend nicht erreichbar. Bitte versuchen Sie es in "
            "wenigen Sekunden erneut."
        )
        try:
            return _respond(503, detail, None, headers)
        except Exception:  # noqa: BLE001  the page itself may need the database
            log.exception("rendering the 503 page failed")
            body = "503 – Vorübergehend nicht verfügbar / Temporarily unavailable"
            return body, 503, {"Content-Type": "text/plain; charset=utf-8", **headers}

    for unavailable in (
        OperationalError,
        InterfaceError,
        PoolTimeout,
        RedisConnectionError,
        RedisTimeout,
    ):
        app.register_error_handler(unavailable, handle_service_unavailable)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        log.exception("Unhandled error (request id %s)", getattr(g, "request_id", "-"))
        _rollback_quietly()
        _forget_user_loading()
        try:
            return _respond(500, _("Ein unerwarteter Fehler ist aufgetreten."))
        except Exception:  # noqa: BLE001  last resort: a plain page that cannot fail
            log.exception("rendering the error page failed")
            body = f"500 – Interner Fehler / Internal error. Vorgangsnummer / request id: {g.get('request_id', '-')}"
            return body, 500, {"Content-Type": "text/plain; charset=utf-8"}


def _rollback_quietly() -> None:
    from fitstore.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001  the database may be what failed
        log.exception("rollback after an error failed")


def _forget_user_loading() -> None:
    from flask_login import AnonymousUserMixin

    if "_login_user" not in g:
        # The error may come from loading the user; the page must not try again.
        g._login_user = AnonymousUserMixin()


# SQLSTATEs of a server that is shutting down, restarting or refusing connections
# (class 08: connection exceptions; 57P01-57P03: admin/crash shutdown, cannot connect now;
# 53300: too many connections).
_OUTAGE_SQLSTATES = ("57P01", "57P02", "57P03", "53300")
# SQLite's equivalents: the file cannot be opened, or another writer holds it too long.
_SQLITE_OUTAGES = ("unable to open database file", "database is locked", "disk i/o error")


def _is_outage(error) -> bool:
    """Whether an OperationalError means the database is unreachable (retry later)."""
    if getattr(error, "connection_invalidated", False):
        return True
    original = getattr(error, "orig", None)
    sqlstate = getattr(original, "sqlstate", None)
    if original is not None and type(original).__module__.startswith("psycopg"):
        # No SQLSTATE: the client could not reach the server at all.
        return sqlstate is None or sqlstate.startswith("08") or sqlstate in _OUTAGE_SQLSTATES
    return str(original or error).strip().lower() in _SQLITE_OUTAGES
