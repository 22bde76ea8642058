"""fitstore: the FIT-Store marketplace for reusing EfA online services."""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, redirect, request, session, url_for
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from fitstore import config as config_module
from fitstore.models.base import MAX_ID

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: defaults, then FITSTORE_* environment, then ``config``."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_relative_config=True,
    )
    # Ids beyond a 32-bit integer cannot exist; refusing them in routing (404)
    # keeps them away from the database, which would fail on the overflow.
    app.url_map.converters["int"] = BoundedIntConverter
    app.config.from_object(config_module.DefaultConfig)
    config_module.load_environment(app.config)
    if config:
        app.config.update(config)
    config_module.finalise(app)
    if app.config["ENV"] == "production" and app.config.get("DEBUG"):
        logging.getLogger(__name__).warning("DEBUG is on in production as explicitly configured")

    if app.config["PROXY_COUNT"]:
        # Behind TLS-terminating proxies: the real client address (rate limits) and scheme (HSTS).
        count = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    from fitstore.request_log import configure_logging

    _init_extensions(app)
    _register_blueprints(app)
    _register_request_hooks(app)
    configure_logging(app)

    from fitstore.errors import register_error_handlers

    register_error_handlers(app)

    from fitstore.cli import register_commands

    register_commands(app)
    return app


class BoundedIntConverter(IntegerConverter):
    """An ``int`` route parameter beyond any possible id becomes 0, an id that never exists.

    The view then answers 404 as for any unknown id, and the database never sees
    a number it would overflow on. (Refusing the match instead would turn some
    URLs into 405, where another rule has the same path.)
    """

    def to_python(self, value: str):
        number = super().to_python(value)
        return number if number <= MAX_ID else 0


# C0 control characters other than tab, newline and carriage return never belong
# in a form or query value (PostgreSQL refuses NUL outright).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _fields_with_control_characters() -> list[str]:
    items = [*(request.view_args or {}).items(), *request.args.items(multi=True)]
    if request.method == "POST" and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        items.extend(request.form.items(multi=True))
    return sorted(
        {name for name, value in items if isinstance(value, str) and _CONTROL.search(value)}
    )


def _select_locale() -> str:
    languages = ("de", "en")
    if not has_request_context():
        return "de"  # CLI and background work speak the default language
    requested = request.args.get("lang")
    if requested in languages:
        return requested
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(languages) or "de"


def _init_extensions(app: Flask) -> None:
    from fitstore import models  # noqa: F401  (register the mappers before migrate/api)
    from fitstore.extensions import api, babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)

    @app.teardown_appcontext
    def close_database_session(_error):
        # Runs before Flask-SQLAlchemy's own teardown (teardowns run in reverse order). Its
        # ROLLBACK on a connection the server already dropped (restart, failover) must not
        # escape and turn a finished request, perhaps a committed one, into a bare 500.
        from sqlalchemy.exc import SQLAlchemyError

        try:
            db.session.remove()
        except SQLAlchemyError:
            logging.getLogger(__name__).warning(
                "closing the database session failed", exc_info=True
            )
            db.session.registry.clear()

    migrate.init_app(
        app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True, render_as_batch=True
    )
    csrf.init_app(app)
    limiter.init_app(app)
    from fitstore.services import public_cache

    public_cache.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    api.init_app(
        app,
        spec_kwargs={
            "info": {
                "description": "FIT-Store API. The API documentation is in English; error messages follow Accept-Language (German by default)."
            }
        },
    )
    _init_login(app, login_manager)


def _init_login(app: Flask, login_manager) -> None:
    from flask_babel import lazy_gettext as _l

    from fitstore.errors import Unauthorized, wants_json
    from fitstore.services import auth

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Bitte melden Sie sich an, um diese Seite zu sehen.")
    login_manager.login_message_category = "info"
    # The server-side session record is the protection; "strong" would also
    # drop sessions when a ministry proxy changes the client address.
    login_manager.session_protection = None

    @login_manager.user_loader
    def load_user(user_id: str):
        if wants_json():
            return None  # the API authenticates by bearer token only (no CSRF exposure)
        return auth.load_session_user(user_id, session.get("sid"))

    @login_manager.request_loader
    def load_user_from_token(req):
        if not wants_json():
            return None
        header = req.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return auth.user_for_token(secret.strip())

    @login_manager.unauthorized_handler
    def unauthorized():
        if wants_json():
            raise Unauthorized()
        from flask import flash

        flash(str(login_manager.login_message), "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _register_blueprints(app: Flask) -> None:
    from fitstore.blueprints import (
        account,
        admin,
        alliances,
        api,
        api_alliances,
        api_costs,
        api_dashboard,
        api_listings,
        api_notifications,
        api_reuses,
        audit,
        auth,
        cost_data,
        costs,
        dashboards,
        exports,
        feed,
        follows,
        lead_times,
        listings,
        main,
        opendata,
        reuses,
        rollouts,
        statements,
        transparency,
    )
    from fitstore.extensions import api as smorest_api

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(listings.bp)
    app.register_blueprint(alliances.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(reuses.bp)
    app.register_blueprint(rollouts.bp)
    app.register_blueprint(dashboards.bp)
    app.register_blueprint(cost_data.bp)
    app.register_blueprint(costs.bp)
    app.register_blueprint(statements.bp)
    app.register_blueprint(transparency.bp)
    app.register_blueprint(lead_times.bp)
    app.register_blueprint(follows.bp)
    app.register_blueprint(feed.bp)
    app.register_blueprint(opendata.bp)
    app.register_blueprint(api.docs_bp)
    smorest_api.spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "API token from the account page (Mein Konto)",
        },
    )
    for blueprint in (
        *api.API_BLUEPRINTS,
        api_listings.listings_api,
        api_reuses.reuses_api,
        api_reuses.contracts_api,
        api_alliances.alliances_api,
        api_notifications.notifications_api,
        api_costs.costs_api,
        api_dashboard.dashboard_api,
    ):
        smorest_api.register_blueprint(blueprint)


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'{style_extra}; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def _register_request_hooks(app: Flask) -> None:
    from flask_babel import gettext as _
    from flask_login import current_user

    from fitstore.errors import Forbidden, NotFound
    from fitstore.permissions import Permission, can, route_policy

    def assign_request_id():
        supplied = request.headers.get("X-Request-ID", "")
        g.request_id = supplied if _REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex

    # First of all hooks, so answers from the CSRF and rate-limit hooks carry it too.
    app.before_request_funcs.setdefault(None, []).insert(0, assign_request_id)

    @app.before_request
    def refuse_control_characters():
        fields = _fields_with_control_characters() if request.endpoint is not None else []
        if fields:
            from fitstore.errors import Invalid

            message = _("Die Eingabe enthält unzulässige Steuerzeichen.")
            raise Invalid(detail=message, errors={name: [message] for name in fields})

    @app.before_request
    def enforce_route_policy():
        if request.endpoint is None:
            return None  # routing failed; the 404/405 handler answers
        permission = route_policy(app, request.endpoint)
        if permission is None:
            # Fail closed: a route nobody gave a policy is not reachable.
            logging.getLogger(__name__).error("route %s has no policy", request.endpoint)
            raise NotFound()
        if permission == Permission.PUBLIC:
            return None
        if not current_user.is_authenticated:
            return app.login_manager.unauthorized()
        if not can(current_user, permission):
            raise Forbidden()
        return None

    @app.after_request
    def security_headers(response):
        style_extra = " 'unsafe-inline'" if g.get("allow_inline_styles") else ""
        headers = response.headers
        headers["Content-Security-Policy"] = CSP.format(style_extra=style_extra)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        headers["Permissions-Policy"] = "geolocation=(), camera=(), microphone=()"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.is_secure:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if "request_id" in g:
            headers["X-Request-ID"] = g.request_id
        # Pages differ by language (Accept-Language, the session's choice).
        response.vary.update(("Accept-Language", "Cookie"))
        # g._login_user is what Flask-Login loaded; reading it never touches the database.
        if getattr(g.get("_login_user"), "is_authenticated", False):
            # Pages of a logged-in user must not be kept by shared caches or the back button.
            headers.setdefault("Cache-Control", "no-store")
        return response

    from fitstore.blueprints._helpers import page_url

    # A global, not a context variable: imported macros (pagination) see globals only.
    app.jinja_env.globals["page_url"] = page_url

    @app.context_processor
    def template_helpers():
        from flask_babel import get_locale

        from fitstore.permissions import Permission as Perm
        from fitstore.permissions import can as can_

        return {"can": can_, "Permission": Perm, "current_locale": str(get_locale() or "de")}
