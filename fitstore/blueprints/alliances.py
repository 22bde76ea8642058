"""Pages of a listing's Nachnutzungsallianz: members, join requests, cost-key decisions.

Views stay thin: the alliances service checks permissions, validates, audits and
commits. A successful POST redirects back to the page with a message
(Post/Redirect/Get); a refused one shows the page again with the reason, field
errors next to their fields (422) or the conflict on top (409).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fitstore.blueprints._helpers import apply_errors
from fitstore.errors import Conflict, Invalid
from fitstore.forms.alliances import (
    JoinForm,
    ProposalForm,
    RequestDecisionForm,
    proposal_form,
    vote_form,
)
from fitstore.models import CostKey, MembershipStatus, ReuseStage
from fitstore.models.base import utcnow
from fitstore.permissions import Permission, can, policy
from fitstore.services import alliances, reference

bp = Blueprint("alliances", __name__)


STAGE_LABELS = {
    ReuseStage.INTEREST: _l("Interessenbekundung"),
    ReuseStage.COORDINATION: _l("Abstimmung"),
    ReuseStage.ORDERED: _l("Bestellt"),
    ReuseStage.CONTRACTED: _l("Vertrag"),
    ReuseStage.CONNECTING: _l("Technische Anbindung"),
    ReuseStage.TESTING: _l("Test"),
    ReuseStage.LIVE: _l("Produktivbetrieb"),
    ReuseStage.DECLINED: _l("Abgelehnt"),
    ReuseStage.WITHDRAWN: _l("Zurückgezogen"),
    ReuseStage.ON_HOLD: _l("Zurückgestellt"),
    ReuseStage.TERMINATED: _l("Gekündigt"),
}
MEMBERSHIP_LABELS = {
    MembershipStatus.REQUESTED: _l("angefragt"),
    MembershipStatus.MEMBER: _l("Mitglied"),
    MembershipStatus.DECLINED: _l("abgelehnt"),
    MembershipStatus.LEFT: _l("ausgetreten"),
}


def _page_url(listing_id: int, anchor: str | None = None) -> str:
    return url_for("alliances.alliance", listing_id=listing_id, _anchor=anchor)


def _render(
    listing_id: int,
    *,
    status: int = 200,
    join_form: JoinForm | None = None,
    proposal: ProposalForm | None = None,
    vote_forms: dict | None = None,
    form_errors: list[str] | None = None,
    parameter_errors: list[str] | None = None,
):
    page = alliances.alliance_page(current_user, listing_id)
    laender = reference.list_laender()
    if proposal is None:
        proposal = proposal_form(formdata=None)
        proposal.year.data = str(utcnow().year + 1)
        proposal.funding_model.data = alliances.DEFAULT_FUNDING_MODEL.value
    proposal.label_weights(laender)
    forms = vote_forms or {}
    votes = {
        view.decision.year: forms.get(view.decision.year)
        or vote_form(view.decision.year, formdata=None)
        for view in page.decisions
        if view.may_vote
    }
    return render_template(
        "alliances/alliance.html",
        page=page,
        listing=page.listing,
        laender={land.ags: land for land in laender},
        join_form=join_form or JoinForm(formdata=None),
        decision_form=RequestDecisionForm(formdata=None),
        proposal=proposal,
        vote_forms=votes,
        form_errors=form_errors or [],
        parameter_errors=parameter_errors or [],
        STAGE_LABELS=STAGE_LABELS,
        MEMBERSHIP_LABELS=MEMBERSHIP_LABELS,
        cost_key_label=alliances.cost_key_label,
        funding_model_label=alliances.funding_model_label,
        decision_status_label=alliances.decision_status_label,
        CostKey=CostKey,
        may_view_costs=can(current_user, Permission.VIEW_COST_SPLIT, page.listing),
    ), status


def _messages(error) -> list[str]:
    messages = [str(m) for field_messages in error.errors.values() for m in field_messages]
    return ([error.detail] if error.detail else []) + messages or [str(error.title)]


def _expired() -> list[str]:
    return [_("Das Formular ist abgelaufen. Bitte senden Sie es erneut.")]


# Public like the listing page: the service shows each caller what VIEW_ALLIANCE and
# VIEW_ALLIANCE_DETAILS allow (the route hook would send anonymous visitors to the login
# for any permission but PUBLIC).
@bp.get("/leistungen/<int:listing_id>/allianz")
@policy(Permission.PUBLIC)
def alliance(listing_id: int):
    return _render(listing_id)


@bp.post("/leistungen/<int:listing_id>/allianz/beitreten")
@policy(Permission.JOIN_ALLIANCE)
def join(listing_id: int):
    form = JoinForm()
    if not form.validate_on_submit():
        return _render(listing_id, status=422, join_form=form, form_errors=_expired())
    try:
        alliances.request_join(current_user, listing_id, form.message.data or "")
    except Invalid as error:
        return _render(
            listing_id, status=422, join_form=form, form_errors=apply_errors(form, error)
        )
    except Conflict as error:
        return _render(listing_id, status=409, join_form=form, form_errors=_messages(error))
    flash(
        _("Ihre Beitrittsanfrage ist gestellt; die Leitung der Allianz ist benachrichtigt."),
        "success",
    )
    return redirect(_page_url(listing_id, "mitglieder"))


@bp.post("/leistungen/<int:listing_id>/allianz/anfragen/<land_code>")
@policy(Permission.LEAD_ALLIANCE)
def decide_request(listing_id: int, land_code: str):
    land = reference.get_land(land_code)  # NotFound for anything but a Land
    form = RequestDecisionForm()
    accept = form.accept()
    if not form.validate_on_submit():
        return _render(listing_id, status=422, form_errors=_expired())
    if accept is None:
        return _render(
            listing_id,
            status=422,
            form_errors=[_("Bitte nehmen Sie die Anfrage an oder lehnen Sie sie ab.")],
        )
    try:
        alliances.decide_join(current_user, listing_id, land.ags, accept)
    except (Invalid, Conflict) as error:
        return _render(listing_id, status=error.status, form_errors=_messages(error))
    if accept:
        flash(_("%(land)s ist jetzt Mitglied der Allianz.", land=land.name), "success")
    else:
        flash(_("Die Anfrage von %(land)s ist abgelehnt.", land=land.name), "success")
    return redirect(_page_url(listing_id, "anfragen"))


@bp.post("/leistungen/<int:listing_id>/allianz/kostenschluessel")
@policy(Permission.LEAD_ALLIANCE)
def propose(listing_id: int):
    form = proposal_form()
    if not form.validate_on_submit():
        return _render(listing_id, status=422, proposal=form, form_errors=_expired())
    try:
        alliances.propose_cost_key(
            current_user,
            listing_id,
            form.year.data,
            form.key.data,
            form.funding_model.data,
            form.parameters(),
            form.rationale.data or "",
        )
    except Invalid as error:
        parameter_errors = error.errors.pop("parameters", [])
        return _render(
            listing_id,
            status=422,
            proposal=form,
            form_errors=apply_errors(form, error),
            parameter_errors=parameter_errors,
        )
    except Conflict as error:
        return _render(listing_id, status=409, proposal=form, form_errors=_messages(error))
    flash(
        _(
            "Ihr Vorschlag für %(year)s ist gespeichert; die Mitglieder sind benachrichtigt.",
            year=form.year.data.strip(),
        ),
        "success",
    )
    return redirect(_page_url(listing_id, "kostenschluessel"))


@bp.post("/leistungen/<int:listing_id>/allianz/kostenschluessel/<int:year>/stimme")
@policy(Permission.VOTE_COST_KEY)
def vote(listing_id: int, year: int):
    form = vote_form(year)
    if not form.validate_on_submit():
        return _render(listing_id, status=422, vote_forms={year: form}, form_errors=_expired())
    try:
        decision = alliances.vote(
            current_user, listing_id, year, form.vote.data or "", form.comment.data or ""
        )
    except Invalid as error:
        return _render(
            listing_id,
            status=422,
            vote_forms={year: form},
            form_errors=apply_errors(form, error),
        )
    except Conflict as error:
        return _render(listing_id, status=409, form_errors=_messages(error))
    flash(
        _(
            "Ihre Stimme ist gespeichert. Stand: %(status)s.",
            status=alliances.decision_status_label(decision.status),
        ),
        "success",
    )
    return redirect(_page_url(listing_id, f"jahr-{year}"))
