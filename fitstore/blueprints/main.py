"""Public pages: home with the Germany map, Land pages, accessibility, Impressum, health."""

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
from flask_login import current_user
from sqlalchemy import text

from fitstore.blueprints._helpers import apply_errors, page_arg, safe_next
from fitstore.errors import Invalid
from fitstore.extensions import db, limiter
from fitstore.forms import FeedbackForm, LanguageForm
from fitstore.permissions import Permission, policy
from fitstore.services import feedback as feedback_service
from fitstore.services import reference

bp = Blueprint("main", __name__)


@bp.get("/")
@policy(Permission.PUBLIC)
def home():
    return render_template(
        "main/home.html", laender=reference.list_laender(), germany=reference.germany_map()
    )


@bp.get("/laender/<code>")
@policy(Permission.PUBLIC)
def land(code: str):
    land = reference.get_land(code)
    q = request.args.get("q", "").strip()[:100]
    level = request.args.get("level", "")
    if level not in ("", "kreis", "gemeinde"):
        level = ""
    authorities = reference.search_authorities(
        land=land, q=q, level=level or None, page=page_arg(), per_page=25
    )
    return render_template(
        "main/land.html",
        land=land,
        kreise_map=reference.kreise_map(land.ags),
        authorities=authorities,
        q=q,
        level=level,
    )


@bp.route("/barrierefreiheit", methods=["GET", "POST"])
@policy(Permission.PUBLIC)
@limiter.limit(lambda: current_app.config["FEEDBACK_LIMIT"], methods=["POST"])
def accessibility():
    form = FeedbackForm()
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            feedback_service.submit_feedback(
                current_user,
                message=form.message.data,
                name=form.name.data,
                email=form.email.data,
                page_url=form.page_url.data,
            )
        except Invalid as error:
            form_errors = apply_errors(form, error)
        else:
            flash(
                _(
                    "Vielen Dank. Ihre Rückmeldung ist eingegangen; wir antworten innerhalb von sechs Wochen."
                ),
                "success",
            )
            return redirect(url_for("main.accessibility"))
    elif request.method == "GET" and request.args.get("page_url"):
        form.page_url.data = safe_next(request.args.get("page_url"))
    status = 422 if request.method == "POST" else 200
    return render_template("main/accessibility.html", form=form, form_errors=form_errors), status


@bp.get("/impressum")
@policy(Permission.PUBLIC)
def imprint():
    return render_template("main/imprint.html")


@bp.get("/datenschutz")
@policy(Permission.PUBLIC)
def privacy():
    return render_template("main/privacy.html")


@bp.post("/sprache")
@policy(Permission.PUBLIC)
def set_language():
    form = LanguageForm()
    if form.validate_on_submit() and form.lang.data in current_app.config["LANGUAGES"]:
        session["lang"] = form.lang.data
    return redirect(safe_next(form.next.data) or url_for("main.home"))


@bp.get("/healthz")
@policy(Permission.PUBLIC)
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
@policy(Permission.PUBLIC)
def readyz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001  any database failure means "not ready"
        current_app.logger.exception("readiness check failed")
        db.session.rollback()
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}
