"""Administration: organisations, users and accessibility feedback."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fitstore.blueprints._helpers import apply_errors, page_arg
from fitstore.errors import Invalid
from fitstore.forms import ConfirmForm, OrganisationForm, UserForm
from fitstore.models import OrganisationKind, Role
from fitstore.permissions import Permission, policy
from fitstore.services import admin, reference
from fitstore.services import feedback as feedback_service

bp = Blueprint("admin", __name__, url_prefix="/verwaltung")

KIND_LABELS = {
    OrganisationKind.LAND: _l("Land"),
    OrganisationKind.BUND: _l("Bund"),
    OrganisationKind.FITKO: _l("FITKO"),
    OrganisationKind.IT_DIENSTLEISTER: _l("IT-Dienstleister"),
    OrganisationKind.KOMMUNE: _l("Kommune"),
}
ROLE_LABELS = {
    Role.VIEWER: _l("Lesen"),
    Role.EDITOR: _l("Bearbeiten (eigenes Land)"),
    Role.FITKO: _l("FITKO-Prüfung"),
    Role.ADMIN: _l("Administration"),
}


@bp.app_context_processor
def labels():
    return {"KIND_LABELS": KIND_LABELS, "ROLE_LABELS": ROLE_LABELS}


@bp.get("/organisationen")
@policy(Permission.VIEW_ORGANISATIONS)
def organisations():
    return render_template(
        "admin/organisations.html",
        organisations=admin.list_organisations(current_user, page=page_arg()),
        confirm_form=ConfirmForm(),
    )


@bp.route("/organisationen/neu", methods=["GET", "POST"])
@policy(Permission.MANAGE_ORGANISATIONS)
def new_organisation():
    form = OrganisationForm()
    form.kind.choices = [(kind.value, str(label)) for kind, label in KIND_LABELS.items()]
    form.land_ags.choices = [("", _("– kein Land (FITKO, Bund) –"))] + [
        (land.ags, land.name) for land in reference.list_laender()
    ]
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            organisation = admin.create_organisation(
                current_user,
                kind=form.kind.data,
                name=form.name.data,
                short_name=form.short_name.data,
                land_ags=form.land_ags.data,
            )
        except Invalid as error:
            form_errors = apply_errors(form, error)
        else:
            flash(
                _("Die Organisation „%(name)s“ wurde angelegt.", name=organisation.name), "success"
            )
            return redirect(url_for("admin.organisations"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "admin/organisation_form.html", form=form, form_errors=form_errors
    ), status


@bp.post("/organisationen/<int:organisation_id>/<any(aktivieren, deaktivieren):action>")
@policy(Permission.MANAGE_ORGANISATIONS)
def set_organisation_active(organisation_id: int, action: str):
    if ConfirmForm().validate_on_submit():
        try:
            organisation = admin.set_organisation_active(
                current_user, organisation_id, action == "aktivieren"
            )
        except Invalid as error:
            flash(error.detail or str(error.title), "error")
        else:
            message = (
                _("„%(name)s“ ist wieder aktiv.", name=organisation.name)
                if organisation.active
                else _(
                    "„%(name)s“ wurde deaktiviert; ihre Sitzungen sind beendet.",
                    name=organisation.name,
                )
            )
            flash(message, "success")
    return redirect(url_for("admin.organisations"))


@bp.get("/benutzer")
@policy(Permission.VIEW_USERS)
def users():
    q = request.args.get("q", "").strip()[:100]
    return render_template(
        "admin/users.html",
        users=admin.list_users(current_user, q=q, page=page_arg()),
        q=q,
        confirm_form=ConfirmForm(),
    )


@bp.get("/benutzer/<int:user_id>")
@policy(Permission.VIEW_USERS)
def user(user_id: int):
    return render_template(
        "admin/user.html", user=admin.get_user(current_user, user_id), confirm_form=ConfirmForm()
    )


@bp.route("/benutzer/neu", methods=["GET", "POST"])
@policy(Permission.MANAGE_USERS)
def new_user():
    form = UserForm()
    form.organisation_id.choices = [(0, _("– bitte wählen –"))] + [
        (o.id, o.name) for o in admin.all_organisations(current_user) if o.active
    ]
    form.role.choices = [(role.value, str(label)) for role, label in ROLE_LABELS.items()]
    form_errors: list[str] = []
    if form.validate_on_submit():
        try:
            created = admin.create_user(
                current_user,
                email=form.email.data,
                name=form.name.data,
                role=form.role.data,
                organisation_id=form.organisation_id.data,
                password=form.password.data,
            )
        except Invalid as error:
            form_errors = apply_errors(form, error)
        else:
            flash(_("Das Konto %(email)s wurde angelegt.", email=created.email), "success")
            return redirect(url_for("admin.user", user_id=created.id))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, form_errors=form_errors), status


@bp.post("/benutzer/<int:user_id>/<any(aktivieren, deaktivieren):action>")
@policy(Permission.MANAGE_USERS)
def set_user_active(user_id: int, action: str):
    if ConfirmForm().validate_on_submit():
        try:
            changed = admin.set_user_active(current_user, user_id, action == "aktivieren")
        except Invalid as error:
            flash(error.detail or str(error.title), "error")
        else:
            message = (
                _("%(email)s ist wieder aktiv.", email=changed.email)
                if changed.active
                else _(
                    "%(email)s wurde deaktiviert; alle Sitzungen sind beendet.", email=changed.email
                )
            )
            flash(message, "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.get("/rueckmeldungen")
@policy(Permission.READ_FEEDBACK)
def feedback():
    return render_template(
        "admin/feedback.html",
        feedback=feedback_service.list_feedback(current_user, page=page_arg()),
    )
