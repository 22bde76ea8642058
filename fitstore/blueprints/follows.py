"""Following listings and Länder (Mein Konto).

A signed-in user follows a published listing (from its page) or a Land (from its
dashboard page, or here) and chooses in-app and/or e-mail notices. The follows service
checks, audits and commits; these views turn form fields into its arguments. A refused
POST shows the follows page again with the reason on the channel fieldset (422); an
unknown or unpublished listing or an unknown Land is a 404.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField

from fitstore.blueprints._helpers import safe_next
from fitstore.errors import Invalid, NotFound
from fitstore.models import Follow
from fitstore.permissions import Permission, policy
from fitstore.services import follows, reference

bp = Blueprint("follows", __name__)


class FollowForm(FlaskForm):
    """Follow a listing or a Land, or change the channels of a follow (one POST)."""

    listing_id = HiddenField()
    land_ags = HiddenField()
    in_app = BooleanField()
    email = BooleanField()
    next = HiddenField()


class UnfollowForm(FlaskForm):
    next = HiddenField()


@bp.app_template_global()
def follow_signed_in() -> bool:
    """For the follow box: may the visitor follow at all (is someone signed in)?"""
    return bool(current_user.is_authenticated)


@bp.app_template_global()
def current_follow(listing_id=None, land_ags=None) -> Follow | None:
    """For the follow box: the signed-in user's follow of a listing or a Land, or None
    (one query; none for an anonymous visitor)."""
    if not current_user.is_authenticated:
        return None
    return follows.get_follow(current_user, listing_id, land_ags)


def _listing_id(value: str | None) -> int | None:
    """The posted listing id: None when absent; anything that is not an id is no listing."""
    value = (value or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 12):
        raise NotFound()
    return int(value)


def _land_ags(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _render(failed=None, status: int = 200):
    return (
        render_template(
            "follows/index.html",
            entries=follows.follows_with_targets(current_user),
            laender=reference.germany_map().areas,
            failed=failed,
        ),
        status,
    )


@bp.get("/konto/folgen")
@policy(Permission.OWN_ACCOUNT)
def index():
    return _render()


@bp.post("/konto/folgen")
@policy(Permission.OWN_ACCOUNT)
def save():
    form = FollowForm()
    if not form.validate_on_submit():  # only the CSRF token can make it fail
        flash(_("Das Formular ist abgelaufen. Bitte senden Sie es erneut."), "error")
        return redirect(url_for("follows.index"))
    listing_id, land_ags = _listing_id(form.listing_id.data), _land_ags(form.land_ags.data)
    in_app, email = bool(form.in_app.data), bool(form.email.data)
    try:
        record, outcome = follows.save_follow(
            current_user, listing_id=listing_id, land_ags=land_ags, in_app=in_app, email=email
        )
    except Invalid as error:
        failed = {
            "errors": error.errors.get("channels", []),
            "general": error.errors.get("target", []) + ([error.detail] if error.detail else []),
            "target": None,
            "in_app": in_app,
            "email": email,
            "next": safe_next(form.next.data),
        }
        if not failed["general"]:
            # The target was fine (the service checks it first): offer the form again.
            failed["target"] = follows.describe_target(listing_id, land_ags)
        return _render(failed, 422)
    target = follows.target_of(record)
    if outcome == follows.CREATED:
        flash(_("Sie folgen jetzt „%(name)s“.", name=target.name), "success")
    elif outcome == follows.CHANGED:
        flash(
            _("Ihre Benachrichtigungswege für „%(name)s“ sind gespeichert.", name=target.name),
            "success",
        )
    else:
        flash(_("Sie folgen „%(name)s“ bereits auf diesen Wegen.", name=target.name), "info")
    return redirect(safe_next(form.next.data) or url_for("follows.index"))


@bp.post("/konto/folgen/<int:follow_id>/loeschen")
@policy(Permission.OWN_ACCOUNT)
def delete(follow_id: int):
    form = UnfollowForm()
    if not form.validate_on_submit():
        flash(_("Das Formular ist abgelaufen. Bitte senden Sie es erneut."), "error")
        return redirect(url_for("follows.index"))
    target = follows.unfollow(current_user, follow_id)
    flash(_("Sie folgen „%(name)s“ nicht mehr.", name=target.name), "success")
    return redirect(safe_next(form.next.data) or url_for("follows.index"))
