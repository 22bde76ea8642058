"""Login and logout."""

from __future__ import annotations

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
from flask_login import current_user, logout_user

from fitstore.blueprints._helpers import begin_session, safe_next
from fitstore.extensions import limiter
from fitstore.forms import ConfirmForm, LoginForm
from fitstore.permissions import Permission, policy
from fitstore.services import auth

bp = Blueprint("auth", __name__)


def _account_key() -> str:
    return "login-account:" + auth.normalise_email(request.form.get("email", ""))


def _failed(response) -> bool:
    # Only failed attempts count; a successful login redirects.
    return response.status_code != 302


@bp.route("/anmelden", methods=["GET", "POST"])
@policy(Permission.PUBLIC)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_failed,
    scope="login-account",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=_failed,
    scope="login-address",
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"))
    failed = False
    if form.validate_on_submit():
        user = auth.authenticate(form.email.data, form.password.data)
        if user is None:
            failed = True
        else:
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
