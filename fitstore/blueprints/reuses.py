"""Pages for reuses (Nachnutzungen) and their contracts: the list, the interest form, a
reuse's page with its steps, conditions, checklist and history, the provider's
conditions form, and the printable SaaS-Nachnutzungsvertrag with FITKO's four-eyes
check and countersignature.

Views stay thin: the reuses service checks permissions, validates, audits and commits.
A refused step (wrong stage, wrong side, a stale page) comes back as a German message on
the page the user came from, never as an error page, and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from fitstore.blueprints._helpers import apply_errors, page_arg
from fitstore.errors import Conflict, DomainError, Forbidden, Invalid, PreconditionFailed
from fitstore.forms.reuses import (
    CheckForm,
    ConditionsForm,
    CountersignForm,
    InterestForm,
    OnboardingForm,
    ReuseFilterForm,
    TransitionForm,
)
from fitstore.models import (
    CONTRACTED_STAGES,
    MAIN_LINE,
    ConditionModel,
    Contract,
    ContractStatus,
    Reuse,
    ReuseStage,
)
from fitstore.models.base import utcnow
from fitstore.permissions import Permission, can, policy, require
from fitstore.services import listings, reference, reuses

bp = Blueprint("reuses", __name__)

PER_PAGE = 20

WAITING_LABELS = {
    "adopter": _l("Nachnutzer"),
    "provider": _l("Bereitsteller"),
    "fitko": _l("FITKO"),
}
SIDE_LABELS = {
    "adopter": _l("Mein Land nutzt nach"),
    "provider": _l("Mein Land stellt bereit"),
}
# Steps that end or pause a reuse: shown apart from the main-line buttons.
SIDE_ACTIONS = ("hold", "resume", "decline", "withdraw", "terminate")
STAGE_EXPLANATIONS = {
    ReuseStage.ON_HOLD: _l(
        "Die Nachnutzung ist zurückgestellt. Sie wird in der markierten Stufe fortgesetzt,"
        " sobald sie wieder aufgenommen wird."
    ),
    ReuseStage.DECLINED: _l(
        "Der Bereitsteller hat die Nachnutzung in der Abstimmung abgelehnt. Das Land kann"
        " später eine neue Interessenbekundung abgeben."
    ),
    ReuseStage.WITHDRAWN: _l(
        "Das nachnutzende Land hat die Nachnutzung vor dem Vertrag zurückgezogen. Es kann"
        " später eine neue Interessenbekundung abgeben."
    ),
    ReuseStage.TERMINATED: _l(
        "Die Nachnutzung ist gekündigt. Die Kostenbeteiligung endet zum Ende des Kündigungsmonats."
    ),
}


@bp.app_template_filter("reuse_stage")
def reuse_stage(stage) -> str:
    """A stage code as its German label (also on pages of other blueprints)."""
    return reuses.stage_label(stage) if stage else "–"


@bp.context_processor
def reuse_helpers() -> dict[str, Any]:
    return {
        "STAGE_LABELS": reuses.STAGE_LABELS,
        "CONTRACT_STATUS_LABELS": reuses.CONTRACT_STATUS_LABELS,
        "ELIGIBILITY_LABELS": reuses.ELIGIBILITY_LABELS,
        "CONDITION_MODEL_LABELS": reuses.CONDITION_MODEL_LABELS,
        "WAITING_LABELS": WAITING_LABELS,
        "waiting_for": reuses.waiting_for,
        "rollout_url": rollout_url,
    }


def rollout_url(reuse: Reuse) -> str:
    # The rollout pages belong to the "rollouts" blueprint; its URL is fixed.
    return f"/nachnutzungen/{reuse.id}/einfuehrung"


def _message(error: DomainError) -> str:
    """One readable sentence for a refused step."""
    messages = [str(m) for field_messages in error.errors.values() for m in field_messages]
    if error.detail:
        messages.insert(0, str(error.detail))
    if not messages and isinstance(error, Forbidden):
        return _("Diesen Schritt darf Ihre Rolle bei dieser Nachnutzung nicht ausführen.")
    return " ".join(messages) or str(error.title)


def _expired() -> None:
    flash(_("Das Formular ist abgelaufen. Bitte versuchen Sie es erneut."), "error")


def _detail_url(reuse_id: int, anchor: str | None = None) -> str:
    return url_for("reuses.detail", reuse_id=reuse_id, _anchor=anchor)


# --- the list -------------------------------------------------------------------------------


@bp.get("/nachnutzungen")
@policy(Permission.VIEW_REUSES)
def index():
    form = ReuseFilterForm(formdata=request.args)
    form.stage.choices = [("", _("Alle Stufen"))] + [
        (stage.value, str(label)) for stage, label in reuses.STAGE_LABELS.items()
    ]
    form.land.choices = [("", _("Alle Länder"))] + [
        (land.ags, land.name) for land in reference.list_laender()
    ]
    own_land = current_user.land_ags
    form.side.choices = [("", _("Beide Rollen"))] + [
        (side, str(label)) for side, label in SIDE_LABELS.items()
    ]
    stage, land = form.clean("stage"), form.clean("land")
    side = form.clean("side") if own_land else None
    results = reuses.list_reuses(
        current_user, land=land, stage=stage, side=side, page=page_arg(), per_page=PER_PAGE
    )
    return render_template(
        "reuses/index.html",
        form=form,
        results=results,
        show_side=own_land is not None,
        filtered=bool(stage or land or side),
    )


# --- interest ------------------------------------------------------------------------------


@bp.route("/leistungen/<int:listing_id>/nachnutzen", methods=["GET", "POST"])
@policy(Permission.EXPRESS_INTEREST)
def express_interest(listing_id: int):
    listing = listings.get_listing(current_user, listing_id)
    if listing.provider_land_ags != current_user.land_ags:
        existing = reuses.open_reuse(listing.id, current_user.land_ags)
        if existing is not None:
            flash(_("Ihr Land hat für diese Leistung bereits eine laufende Nachnutzung."), "info")
            return redirect(_detail_url(existing.id))
    # The provider's own Land, an unpublished listing: nothing to ask for.
    require(current_user, Permission.EXPRESS_INTEREST, listing)
    form = InterestForm()
    form_errors: list[str] = []
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                reuse = reuses.express_interest(current_user, listing.id, form.data_for_service())
            except Invalid as error:
                form_errors = apply_errors(form, error)
            except Conflict as error:
                form_errors, status = [_message(error)], 409
            else:
                flash(
                    _(
                        "Ihre Interessenbekundung ist abgegeben. %(land)s als Bereitsteller und"
                        " die FITKO sind benachrichtigt.",
                        land=listing.provider_land.name,
                    ),
                    "success",
                )
                return redirect(_detail_url(reuse.id))
    return render_template(
        "reuses/interest.html", form=form, listing=listing, form_errors=form_errors
    ), status


# --- a reuse's page --------------------------------------------------------------------------


@dataclass
class Step:
    stage: ReuseStage
    label: str
    state: str  # "done", "current" or "todo"


def _steps(reuse: Reuse, entries) -> list[Step]:
    """The main line with the reached stages done and the current one marked. A closed
    reuse marks nothing current; the stages it had reached stay done."""
    position = reuses.main_line_position(reuse)
    if position < 0:
        reached = [MAIN_LINE.index(e.to_stage) for e in entries if e.to_stage in MAIN_LINE]
        position, current = (max(reached) if reached else -1), None
    else:
        current = position
    steps = []
    for index, stage in enumerate(MAIN_LINE):
        if index == current:
            state = "current"
        elif index <= position and (current is None or index < current):
            state = "done"
        else:
            state = "todo"
        steps.append(Step(stage, reuses.stage_label(stage), state))
    return steps


def _fitko_task(contract: Contract | None, reuse: Reuse) -> str | None:
    """What this FITKO user can do with the contract now: "check", "countersign" or None
    (nothing, or only the four-eyes note: whoever checked does not countersign)."""
    if contract is None or reuse.stage != ReuseStage.ORDERED:
        return None
    if contract.status == ContractStatus.AWAITING_CHECK and can(
        current_user, Permission.CHECK_CONTRACT, reuse
    ):
        return "check"
    if (
        contract.status == ContractStatus.AWAITING_COUNTERSIGN
        and contract.checked_by_id != current_user.id
        and can(current_user, Permission.COUNTERSIGN_CONTRACT, reuse)
    ):
        return "countersign"
    return None


def _render_detail(reuse: Reuse, status: int = 200):
    # Alliance members may open another member's reuse for its stage, conditions and
    # rollout; the checklist, the contract and who wrote what stay with the parties.
    party = can(current_user, Permission.VIEW_CONTRACT, reuse)
    entries = reuses.history(reuse)
    contract = reuse.contract
    items = reuse.onboarding_items if party else []
    progress = reuses.rollout_progress([reuse.id])[reuse.id]
    actions = reuses.available_actions(current_user, reuse)
    main_actions = [a for a in actions if a.name not in SIDE_ACTIONS]
    side_actions = [a for a in actions if a.name in SIDE_ACTIONS]
    return render_template(
        "reuses/detail.html",
        reuse=reuse,
        listing=reuse.listing,
        own_use=reuse.adopter_land_ags == reuse.listing.provider_land_ags,
        steps=_steps(reuse, entries),
        explanation=STAGE_EXPLANATIONS.get(reuse.stage),
        resume_label=reuses.stage_label(reuse.resume_stage) if reuse.resume_stage else None,
        waiting=reuses.waiting_for(reuse),
        entries=entries,
        party=party,
        contract=contract,
        show_contract=contract is not None and can(current_user, Permission.VIEW_CONTRACT, reuse),
        items=items,
        item_labels={item.key: reuses.onboarding_label(item, reuse.listing) for item in items},
        missing_items=[i for i in items if i.mandatory and not i.done],
        edit_items=reuse.stage == ReuseStage.CONNECTING
        and can(current_user, Permission.ACT_AS_ADOPTER, reuse),
        progress=progress,
        show_rollout=reuse.stage in CONTRACTED_STAGES or progress.total > 0,
        main_actions=main_actions,
        side_actions=side_actions,
        propose_conditions=reuse.stage == ReuseStage.COORDINATION
        and can(current_user, Permission.ACT_AS_PROVIDER, reuse),
        fitko_task=_fitko_task(contract, reuse),
    ), status


@bp.get("/nachnutzungen/<int:reuse_id>")
@policy(Permission.VIEW_REUSE)
def detail(reuse_id: int):
    return _render_detail(reuses.get_reuse(current_user, reuse_id))


@bp.post("/nachnutzungen/<int:reuse_id>/schritt")
@policy(Permission.VIEW_REUSE)
def transition(reuse_id: int):
    """One step of the stage machine; the service decides who may take it."""
    reuse = reuses.get_reuse(current_user, reuse_id)
    form = TransitionForm()
    if not form.validate_on_submit():
        _expired()
        return redirect(_detail_url(reuse.id))
    name = form.action.data or ""
    try:
        updated = reuses.transition(
            current_user, reuse.id, name, form.comment.data, form.expected_version()
        )
    except (Conflict, Invalid, Forbidden, PreconditionFailed) as error:
        flash(_message(error), "error")
        return redirect(_detail_url(reuse_id, "aktionen"))
    flash(
        _(
            "„%(action)s“ ist erledigt. Neuer Stand: %(stage)s.",
            action=reuses.ACTIONS[name].label,
            stage=reuses.stage_label(updated.stage),
        ),
        "success",
    )
    return redirect(_detail_url(reuse_id))


@bp.post("/nachnutzungen/<int:reuse_id>/anbindung/<key>")
@policy(Permission.ACT_AS_ADOPTER)
def onboarding(reuse_id: int, key: str):
    """Tick one item of the technical onboarding checklist done (with its date) or open it."""
    reuse = reuses.get_reuse(current_user, reuse_id)
    form = OnboardingForm()
    if not form.validate_on_submit():
        _expired()
        return redirect(_detail_url(reuse.id, "anbindung"))
    try:
        item = reuses.update_onboarding_item(
            current_user,
            reuse.id,
            key,
            bool(form.done.data),
            (form.done_on.data or "").strip() or None,
            form.note.data or "",
        )
    except (Conflict, Invalid, Forbidden) as error:
        flash(_message(error), "error")
        return redirect(_detail_url(reuse_id, "anbindung"))
    label = reuses.onboarding_label(item, item.reuse.listing)
    if item.done:
        flash(
            _(
                "„%(item)s“ ist als erledigt am %(date)s vermerkt.",
                item=label,
                date=format_date(item.done_on, "medium"),
            ),
            "success",
        )
    else:
        flash(_("„%(item)s“ ist wieder offen.", item=label), "success")
    return redirect(_detail_url(reuse_id, "anbindung"))


# --- conditions (provider) -------------------------------------------------------------------


def _conditions_errors(form: ConditionsForm, error: Invalid) -> list[str]:
    """Attach the service's messages to the form's fields; a field whose input the form
    already refused (an amount it could not read) keeps only the form's message."""
    renamed: dict[str, list[str]] = {}
    for name, messages in error.errors.items():
        target = form.SERVICE_FIELDS.get(name, name)
        field = getattr(form, target, None)
        if field is not None and field.errors:
            continue
        renamed[target] = messages
    return apply_errors(form, Invalid(detail=error.detail, errors=renamed))


@bp.route("/nachnutzungen/<int:reuse_id>/bedingungen", methods=["GET", "POST"])
@policy(Permission.ACT_AS_PROVIDER)
def conditions(reuse_id: int):
    reuse = reuses.get_reuse(current_user, reuse_id)
    # Adopter and FITKO see the reuse but the conditions are the provider's to set.
    require(current_user, Permission.ACT_AS_PROVIDER, reuse)
    editable = reuse.stage == ReuseStage.COORDINATION
    form = ConditionsForm()
    form_errors: list[str] = []
    stale = False
    status = 200
    if request.method == "POST" and editable:
        status = 422
        form_valid = form.validate_on_submit()
        data = form.data_for_service()
        try:
            if form_valid:
                reuses.propose_conditions(current_user, reuse.id, data, form.expected_version())
                flash(
                    _(
                        "Die Bedingungen sind vorgeschlagen. %(land)s kann jetzt verbindlich"
                        " bestellen.",
                        land=reuse.adopter_land.name,
                    ),
                    "success",
                )
                return redirect(_detail_url(reuse.id))
            # Nothing is saved; only the service's messages are wanted, all at once.
            reuses.validate_conditions(data)
        except Invalid as error:
            form_errors = _conditions_errors(form, error)
        except PreconditionFailed as error:
            form_errors, stale, status = [_message(error)], True, 412
        except Conflict as error:
            form_errors, status = [_message(error)], 409
    elif request.method == "POST":
        status = 409
        form_errors = [
            _(
                "Bedingungen können nur in der Abstimmung vorgeschlagen werden (aktuell: %(stage)s).",
                stage=reuses.stage_label(reuse.stage),
            )
        ]
    else:
        form.fill(reuses.conditions_of(reuse))
        if not form.conditions_start.data and reuse.planned_start:
            form.conditions_start.data = reuse.planned_start.isoformat()
        form.version.data = str(reuse.lock_version)
    return render_template(
        "reuses/conditions.html",
        form=form,
        reuse=reuse,
        listing=reuse.listing,
        editable=editable,
        form_errors=form_errors,
        stale=stale,
    ), status


# --- the contract (four eyes) -------------------------------------------------------------------


def _contract_terms(contract: Contract) -> dict[str, Any]:
    """The conditions as ordered (the contract's own snapshot, not the reuse's current ones)."""
    terms = dict(reuses.contract_conditions(contract))
    start = terms.get("conditions_start")
    try:
        terms["conditions_start"] = date.fromisoformat(start) if start else None
    except (TypeError, ValueError):
        terms["conditions_start"] = None
    model = terms.get("condition_model")
    try:
        terms["model_label"] = reuses.CONDITION_MODEL_LABELS[ConditionModel(model)]
    except ValueError:
        terms["model_label"] = None
    return terms


def _awaiting(contract: Contract, status: ContractStatus) -> bool:
    return contract.status == status and contract.reuse.stage == ReuseStage.ORDERED


def _render_contract(
    contract: Contract,
    check_form: CheckForm | None = None,
    sign_form: CountersignForm | None = None,
    status: int = 200,
):
    reuse = contract.reuse
    if check_form is None:
        check_form = CheckForm(formdata=None, legal_basis=reuses.DEFAULT_LEGAL_BASIS)
        check_form.version.data = str(contract.lock_version)
    if sign_form is None:
        earliest = max(utcnow().date(), contract.ordered_at.date())
        sign_form = CountersignForm(formdata=None, effective_date=earliest.isoformat())
        sign_form.version.data = str(contract.lock_version)
    can_check = can(current_user, Permission.CHECK_CONTRACT, reuse)
    can_sign = can(current_user, Permission.COUNTERSIGN_CONTRACT, reuse)
    awaiting_sign = _awaiting(contract, ContractStatus.AWAITING_COUNTERSIGN)
    is_checker = contract.checked_by_id is not None and contract.checked_by_id == current_user.id
    return render_template(
        "contracts/contract.html",
        contract=contract,
        reuse=reuse,
        listing=reuse.listing,
        terms=_contract_terms(contract),
        show_check_form=can_check and _awaiting(contract, ContractStatus.AWAITING_CHECK),
        show_sign_form=can_sign and awaiting_sign and not is_checker,
        four_eyes_note=can_sign and awaiting_sign and is_checker,
        check_form=check_form,
        sign_form=sign_form,
    ), status


@bp.get("/vertraege/<int:contract_id>")
@policy(Permission.VIEW_CONTRACT)
def contract(contract_id: int):
    return _render_contract(reuses.get_contract(current_user, contract_id))


@bp.post("/vertraege/<int:contract_id>/pruefung")
@policy(Permission.CHECK_CONTRACT)
def check_contract(contract_id: int):
    contract = reuses.get_contract(current_user, contract_id)
    back = url_for("reuses.contract", contract_id=contract.id)
    form = CheckForm()
    if not form.validate_on_submit():
        _expired()
        return redirect(back)
    try:
        reuses.check_contract(
            current_user, contract.id, form.data_for_service(), form.expected_version()
        )
    except Invalid as error:
        apply_errors(form, error)
        return _render_contract(contract, check_form=form, status=422)
    except (Conflict, Forbidden, PreconditionFailed) as error:
        flash(_message(error), "error")
        return redirect(back)
    flash(
        _(
            "Die Prüfung ist vermerkt. Eine zweite Person der FITKO muss den Vertrag jetzt"
            " gegenzeichnen (Vier-Augen-Prinzip)."
        ),
        "success",
    )
    return redirect(back)


@bp.post("/vertraege/<int:contract_id>/gegenzeichnung")
@policy(Permission.COUNTERSIGN_CONTRACT)
def countersign_contract(contract_id: int):
    contract = reuses.get_contract(current_user, contract_id)
    back = url_for("reuses.contract", contract_id=contract.id)
    form = CountersignForm()
    if not form.validate_on_submit():
        _expired()
        return redirect(back)
    try:
        signed = reuses.countersign_contract(
            current_user,
            contract.id,
            {"effective_date": (form.effective_date.data or "").strip() or None},
            form.expected_version(),
        )
    except Invalid as error:
        apply_errors(form, error)
        return _render_contract(contract, sign_form=form, status=422)
    except (Conflict, Forbidden, PreconditionFailed) as error:
        flash(_message(error), "error")
        return redirect(back)
    flash(
        _(
            "Der Vertrag %(number)s ist gegengezeichnet und wirksam ab %(date)s.",
            number=signed.number,
            date=format_date(signed.effective_date, "medium"),
        ),
        "success",
    )
    return redirect(back)
