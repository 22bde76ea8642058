"""The user's own account: password, API tokens and e-mail notices."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from fitstore.blueprints._helpers import apply_errors, begin_session
from fitstore.errors import Invalid
from fitstore.forms import ConfirmForm, EmailNotificationsForm, PasswordChangeForm, TokenForm
from fitstore.permissions import Permission, policy
from fitstore.services import auth, notifications

bp = Blueprint("account", __name__, url_prefix="/konto")


def _render(
    password_form=None,
    token_form=None,
    new_secret=None,
    form_errors=None,
    status=200,
    notice_form=None,
):
    return (
        render_template(
            "account/index.html",
            password_form=password_form or PasswordChangeForm(prefix="pw"),
            token_form=token_form or TokenForm(prefix="token"),
            # formdata=None: after another form's POST, the box shows the stored choice,
            # not "unchecked" because the field is missing from that POST.
            notice_form=notice_form
            or EmailNotificationsForm(
                prefix="notify",
                formdata=None,
                data={"email_notifications": current_user.email_notifications},
            ),
            confirm_form=ConfirmForm(),
            tokens=auth.list_tokens(current_user),
            new_secret=new_secret,
            form_errors=form_errors or [],
        ),
        status,
    )


@bp.get("")
@policy(Permission.OWN_ACCOUNT)
def index():
    return _render()


@bp.post("/passwort")
@policy(Permission.OWN_ACCOUNT)
def change_password():
    form = PasswordChangeForm(prefix="pw")
    if form.validate_on_submit():
        try:
            auth.change_password(current_user, form.current_password.data, form.new_password.data)
        except Invalid as error:
            return _render(password_form=form, form_errors=apply_errors(form, error), status=422)
        # Every session was revoked, this one included; continue in a fresh one.
        begin_session(current_user._get_current_object(), "auth.session_renewed")
        flash(
            _(
                "Ihr Passwort wurde geändert. Alle anderen Sitzungen und alle API-Tokens wurden beendet."
            ),
            "success",
        )
        return redirect(url_for("account.index"))
    return _render(password_form=form, status=422)


@bp.post("/tokens")
@policy(Permission.OWN_ACCOUNT)
def create_token():
    form = TokenForm(prefix="token")
    if form.validate_on_submit():
        try:
            _token, secret = auth.create_token(current_user, form.name.data)
        except Invalid as error:
            return _render(token_form=form, form_errors=apply_errors(form, error), status=422)
        # Shown exactly once, in this response; only its hash is stored.
        return _render(new_secret=secret, status=201)
    return _render(token_form=form, status=422)


@bp.post("/tokens/<int:token_id>/widerrufen")
@policy(Permission.OWN_ACCOUNT)
def revoke_token(token_id: int):
    if ConfirmForm().validate_on_submit():
        auth.revoke_token(current_user, token_id)
        flash(_("Der Token wurde widerrufen."), "success")
    return redirect(url_for("account.index"))


@bp.post("/benachrichtigungen")
@policy(Permission.OWN_ACCOUNT)
def set_email_notifications():
    form = EmailNotificationsForm(prefix="notify")
    if not form.validate_on_submit():
        return _render(notice_form=form, status=422)
    enabled = bool(form.email_notifications.data)
    notifications.set_email_notifications(current_user, enabled)
    if enabled:
        flash(_("Sie erhalten Benachrichtigungen jetzt auch per E-Mail."), "success")
    else:
        flash(
            _("Sie erhalten Benachrichtigungen jetzt nur noch im Postfach des FIT-Store."),
            "success",
        )
    return redirect(url_for("account.index", _anchor="notices-heading"))
