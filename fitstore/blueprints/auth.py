"""Login and logout."""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, logout_user
from limits import parse
from werkzeug.exceptions import TooManyRequests

from fitstore.blueprints._helpers import begin_session, safe_next
from fitstore.extensions import limiter
from fitstore.forms import ConfirmForm, LoginForm
from fitstore.permissions import Permission, policy
from fitstore.services import auth

bp = Blueprint("auth", __name__)


def _claim_login_attempt(email: str) -> int | None:
    """Count this attempt *before* the password is checked; None if allowed, else seconds to wait.

    Counting first is atomic in the limiter's storage (memory or Redis), so a burst
    of parallel requests cannot slip past the limit before any of them is counted.
    """
    if not limiter.enabled:
        return None
    strategy = limiter.limiter
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "") or "fitstore"
    buckets = (
        (
            parse(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]),
            "login-account",
            auth.normalise_email(email),
        ),
        (
            parse(current_app.config["LOGIN_LIMIT_PER_ADDRESS"]),
            "login-address",
            get_remote_address(),
        ),
    )
    wait = None
    for limit, scope, key in buckets:
        if not strategy.hit(limit, prefix, scope, key):
            reset_at, _remaining = strategy.get_window_stats(limit, prefix, scope, key)
            wait = max(wait or 0, int(reset_at - time.time()) + 1)
    return wait


def _forget_failures(email: str) -> None:
    """A successful login clears the account's failures (the address bucket keeps counting)."""
    if not limiter.enabled:
        return
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "") or "fitstore"
    limit = parse(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"])
    limiter.limiter.clear(limit, prefix, "login-account", auth.normalise_email(email))


@bp.route("/anmelden", methods=["GET", "POST"])
@policy(Permission.PUBLIC)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"))
    failed = False
    if form.validate_on_submit():
        wait = _claim_login_attempt(form.email.data)
        if wait is not None:
            raise TooManyRequests(retry_after=wait)
        user = auth.authenticate(form.email.data, form.password.data)
        if user is None:
            failed = True
        else:
            _forget_failures(form.email.data)
            begin_session(user)
            flash(_("Sie sind angemeldet."), "success")
            return redirect(safe_next(form.next.data) or url_for("main.home"))
    status = 200
    if request.method == "POST":
        status = 401 if failed else 422
    return render_template("auth/login.html", form=form, failed=failed), status


@bp.post("/abmelden")
@policy(Permission.OWN_ACCOUNT)
def logout():
    form = ConfirmForm()
    if form.validate_on_submit():
        auth.end_session(current_user, session.get("sid"))
        logout_user()
        session.clear()
        flash(_("Sie sind abgemeldet."), "success")
    return redirect(url_for("main.home"))
