"""Reuse (Nachnutzung): one adopter Land x one listing, from interest to live.

Stage machine (``ACTIONS``)::

    interest --start_coordination (provider)--> coordination
    coordination --order (adopter, needs conditions)--> ordered      [creates the contract]
    ordered --countersign (FITKO, a second person after the check)--> contracted
    contracted --start_connecting (adopter)--> connecting             [creates the checklist]
    connecting --start_testing (adopter, mandatory items done)--> testing
    testing --go_live (adopter)--> live

Side exits: ``decline`` (provider, in coordination), ``withdraw`` (adopter, before
the contract), ``hold``/``resume`` (adopter or FITKO; resumes where it left) and
``terminate`` (adopter or FITKO, once contracted; cost sharing ends at month end).
Nothing can be skipped. Every move records who, when and an optional comment
(``ReuseTransition``), writes exactly one audit row and notifies the other
parties, all in one transaction.

The contract (SaaS-Nachnutzungsvertrag, FITKO <-> adopter) needs four eyes: one
FITKO user records the in-house eligibility check, a *different* one countersigns
with an effective date. Concurrent countersigns: the version columns of contract
and reuse let exactly one win; the other gets 409.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager, selectinload
from sqlalchemy.orm.exc import StaleDataError

from fitstore.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed
from fitstore.extensions import db
from fitstore.models import (
    CLOSED_STAGES,
    CONTRACTED_STAGES,
    MAIN_LINE,
    Alliance,
    AllianceMembership,
    Authority,
    ConditionModel,
    Contract,
    ContractStatus,
    EligibilityBasis,
    Land,
    Listing,
    ListingStatus,
    MembershipStatus,
    OnboardingItem,
    Organisation,
    Reuse,
    ReuseStage,
    ReuseTransition,
    Role,
    Rollout,
    RolloutEvent,
    RolloutStatus,
    Transport,
    User,
    UserAccount,
)
from fitstore.models.base import is_id, utcnow
from fitstore.permissions import Permission, can, require
from fitstore.services import audit, notifications
from fitstore.services.listings import BIGINT_MAX
from fitstore.services.listings import get_listing as _get_listing
from fitstore.services.pagination import Page, paginate

MAX_COMMENT = 2000
MAX_BULK = 2000  # authorities per bulk rollout action
DEFAULT_LEGAL_BASIS = "§ 108 Abs. 4 GWB (Inhouse-Vergabe über die FITKO)"

STAGE_LABELS = {
    ReuseStage.INTEREST: _l("Interessenbekundung"),
    ReuseStage.COORDINATION: _l("Abstimmung"),
    ReuseStage.ORDERED: _l("Bestellt"),
    ReuseStage.CONTRACTED: _l("Vertrag geschlossen"),
    ReuseStage.CONNECTING: _l("Technische Anbindung"),
    ReuseStage.TESTING: _l("Test"),
    ReuseStage.LIVE: _l("Produktivbetrieb"),
    ReuseStage.DECLINED: _l("Abgelehnt"),
    ReuseStage.WITHDRAWN: _l("Zurückgezogen"),
    ReuseStage.ON_HOLD: _l("Zurückgestellt"),
    ReuseStage.TERMINATED: _l("Gekündigt"),
}
ROLLOUT_LABELS = {
    RolloutStatus.PLANNED: _l("geplant"),
    RolloutStatus.CONNECTING: _l("in Anbindung"),
    RolloutStatus.LIVE: _l("live"),
}
CONTRACT_STATUS_LABELS = {
    ContractStatus.AWAITING_CHECK: _l("wartet auf Prüfung"),
    ContractStatus.AWAITING_COUNTERSIGN: _l("wartet auf Gegenzeichnung"),
    ContractStatus.IN_FORCE: _l("in Kraft"),
    ContractStatus.TERMINATED: _l("gekündigt"),
    ContractStatus.CANCELLED: _l("aufgehoben"),
}
ELIGIBILITY_LABELS = {
    EligibilityBasis.TRAEGER: _l("Träger der FITKO (Land)"),
    EligibilityBasis.COOPERATION: _l("Mitglied der Kooperation im IT-Planungsrat"),
}
CONDITION_MODEL_LABELS = {
    ConditionModel.ANNUAL_FEE: _l("Jahresentgelt"),
    ConditionModel.SHARE_RULE: _l("Anteil nach Kostenschlüssel der Allianz"),
}


def stage_label(stage) -> str:
    return str(STAGE_LABELS[ReuseStage(stage)])


@dataclass(frozen=True)
class Action:
    name: str
    sources: tuple[ReuseStage, ...]
    target: ReuseStage | None  # None: computed (resume)
    permission: Permission
    label: Any
    audit_action: str


ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            "start_coordination",
            (ReuseStage.INTEREST,),
            ReuseStage.COORDINATION,
            Permission.ACT_AS_PROVIDER,
            _l("Abstimmung aufnehmen"),
            "reuse.coordination_started",
        ),
        Action(
            "order",
            (ReuseStage.COORDINATION,),
            ReuseStage.ORDERED,
            Permission.ACT_AS_ADOPTER,
            _l("Verbindlich bestellen"),
            "reuse.ordered",
        ),
        Action(
            "start_connecting",
            (ReuseStage.CONTRACTED,),
            ReuseStage.CONNECTING,
            Permission.ACT_AS_ADOPTER,
            _l("Technische Anbindung beginnen"),
            "reuse.connecting_started",
        ),
        Action(
            "start_testing",
            (ReuseStage.CONNECTING,),
            ReuseStage.TESTING,
            Permission.ACT_AS_ADOPTER,
            _l("Test beginnen"),
            "reuse.testing_started",
        ),
        Action(
            "go_live",
            (ReuseStage.TESTING,),
            ReuseStage.LIVE,
            Permission.ACT_AS_ADOPTER,
            _l("Produktivbetrieb melden"),
            "reuse.live",
        ),
        Action(
            "decline",
            (ReuseStage.COORDINATION,),
            ReuseStage.DECLINED,
            Permission.ACT_AS_PROVIDER,
            _l("Nachnutzung ablehnen"),
            "reuse.declined",
        ),
        Action(
            "withdraw",
            (ReuseStage.INTEREST, ReuseStage.COORDINATION, ReuseStage.ORDERED),
            ReuseStage.WITHDRAWN,
            Permission.ACT_AS_ADOPTER,
            _l("Zurückziehen"),
            "reuse.withdrawn",
        ),
        Action(
            "hold",
            (
                ReuseStage.INTEREST,
                ReuseStage.COORDINATION,
                ReuseStage.ORDERED,
                ReuseStage.CONTRACTED,
                ReuseStage.CONNECTING,
                ReuseStage.TESTING,
            ),
            ReuseStage.ON_HOLD,
            Permission.HOLD_REUSE,
            _l("Zurückstellen"),
            "reuse.put_on_hold",
        ),
        Action(
            "resume",
            (ReuseStage.ON_HOLD,),
            None,
            Permission.HOLD_REUSE,
            _l("Wieder aufnehmen"),
            "reuse.resumed",
        ),
        Action(
            "terminate",
            CONTRACTED_STAGES,
            ReuseStage.TERMINATED,
            Permission.TERMINATE_REUSE,
            _l("Kündigen"),
            "reuse.terminated",
        ),
    )
}
# Side exits that also apply to a reuse on hold, judged by the stage it would resume to.
_ON_HOLD_EXITS = {"withdraw", "terminate"}

# The technical onboarding checklist (key, label); which items are mandatory depends on
# the listing's connection requirements.
ONBOARDING_ITEMS = (
    ("transport", _l("FIT-Connect-Zustellpunkt eingerichtet bzw. DVDV-Eintrag vorhanden")),
    ("user_account", _l("Servicekonto/BundID angebunden")),
    ("payment", _l("Bezahldienst (z. B. ePayBL) angebunden")),
    ("xoev", _l("XÖV-Schnittstelle zum Fachverfahren eingerichtet")),
)
ONBOARDING_LABELS = dict(ONBOARDING_ITEMS)


def onboarding_label(item: OnboardingItem, listing: Listing | None = None) -> str:
    if item.key == "transport" and listing is not None:
        if listing.transport == Transport.FIT_CONNECT:
            return _("FIT-Connect-Zustellpunkt eingerichtet")
        return _("DVDV-Eintrag vorhanden (OSCI-Transport)")
    if item.key == "xoev" and listing is not None and listing.xoev_standard:
        return _(
            "XÖV-Schnittstelle (%(standard)s) zum Fachverfahren eingerichtet",
            standard=listing.xoev_standard,
        )
    return str(ONBOARDING_LABELS.get(item.key, item.key))


# --- loading and helpers ------------------------------------------------------------------


def _stale(use_case):
    """Another request changed the reuse or contract meanwhile: our versioned UPDATE
    matched no row. Whoever committed first wins; this one answers 409."""

    @functools.wraps(use_case)
    def run(*args, **kwargs):
        try:
            return use_case(*args, **kwargs)
        except (StaleDataError, IntegrityError):
            # IntegrityError: a unique key a concurrent request took first.
            db.session.rollback()
            raise Conflict(
                _(
                    "Jemand anderes hat diese Nachnutzung gleichzeitig geändert."
                    " Bitte laden Sie die Seite neu."
                )
            ) from None

    return run


def get_reuse(actor, reuse_id: int) -> Reuse:
    """A reuse the actor may see (VIEW_REUSE); anything else is NotFound."""
    reuse = db.session.get(Reuse, reuse_id) if is_id(reuse_id) else None
    if reuse is None or not can(actor, Permission.VIEW_REUSE, reuse):
        raise NotFound()
    return reuse


def get_contract(actor, contract_id: int) -> Contract:
    contract = db.session.get(Contract, contract_id) if is_id(contract_id) else None
    if contract is None or not can(actor, Permission.VIEW_CONTRACT, contract.reuse):
        raise NotFound()
    return contract


def _check_version(reuse: Reuse, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != reuse.lock_version:
        raise PreconditionFailed(
            _(
                "Die Nachnutzung wurde inzwischen geändert. Bitte laden Sie sie neu"
                " und prüfen Sie den aktuellen Stand."
            )
        )


def _comment(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(errors={"comment": [_("Bitte geben Sie einen Text an.")]})
    value = value.strip()
    if len(value) > MAX_COMMENT:
        raise Invalid(errors={"comment": [_("Bitte höchstens %(max)d Zeichen.", max=MAX_COMMENT)]})
    return value


def _date(value: Any, name: str, errors: dict, *, required: bool = True) -> date | None:
    if value in (None, ""):
        if required:
            errors[name] = [_("Bitte geben Sie ein Datum an.")]
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    errors[name] = [_("Bitte geben Sie ein gültiges Datum an (JJJJ-MM-TT).")]
    return None


def _today() -> date:
    return utcnow().date()


def _land_users(land_ags: str, roles=(Role.EDITOR,)) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(User.organisation)
            .where(
                Organisation.land_ags == land_ags,
                User.role.in_(roles),
                User.active.is_(True),
            )
        )
    )


def _fitko_users() -> list[User]:
    return list(db.session.scalars(select(User).where(User.role == Role.FITKO, User.active)))


def _parties(reuse: Reuse, actor) -> list[User]:
    """Everyone involved in a reuse except the actor: the editors of adopter and provider
    Land and FITKO staff."""
    users = (
        _land_users(reuse.adopter_land_ags)
        + _land_users(reuse.listing.provider_land_ags)
        + _fitko_users()
    )
    actor_id = getattr(actor, "id", None)
    return [user for user in users if user.id != actor_id]


def _link(reuse: Reuse) -> str:
    return f"/nachnutzungen/{reuse.id}"


def _move(
    actor, reuse: Reuse, target: ReuseStage, comment: str, audit_action: str, details=None
) -> None:
    """Record one stage change: transition row, audit row, notices (caller commits)."""
    source = reuse.stage
    now = utcnow()
    reuse.stage = target
    reuse.stage_since = now
    reuse.updated_at = now
    db.session.add(
        ReuseTransition(
            reuse_id=reuse.id,
            from_stage=source,
            to_stage=target,
            actor_id=getattr(actor, "id", None),
            occurred_at=now,
            comment=comment,
        )
    )
    audit.record(
        actor,
        audit_action,
        "reuse",
        reuse.id,
        land_ags=reuse.adopter_land_ags,
        details={"from": str(source), "to": str(target), "comment": comment, **(details or {})},
    )
    message = _(
        "%(listing)s – %(land)s: %(from)s → %(to)s",
        listing=reuse.listing.title,
        land=reuse.adopter_land.name,
        **{"from": stage_label(source), "to": stage_label(target)},
    )
    if comment:
        message += " – " + comment
    notifications.notify(_parties(reuse, actor), message, _link(reuse))
    _notify_followers(actor, reuse, source, target)


def _notify_followers(actor, reuse: Reuse, source: ReuseStage | None, target: ReuseStage) -> None:
    """Tell the followers of the listing, of the adopter and of the provider Land about
    the new stage:
    public facts only (never the comment, which may be private) and the public listing
    page, not the reuse. Right after the parties' notices, so they get none twice."""
    from fitstore.services import follows  # here: follows -> transparency -> reuses

    names = {"listing": reuse.listing.title, "land": reuse.adopter_land.name}
    if source is None:
        message = _("%(listing)s – %(land)s: neu in „%(to)s“", to=stage_label(target), **names)
    else:
        message = _(
            "%(listing)s – %(land)s: %(from)s → %(to)s",
            **names,
            **{"from": stage_label(source), "to": stage_label(target)},
        )
    follows.notify_followers(
        reuse.listing,
        (reuse.adopter_land_ags, reuse.listing.provider_land_ags),
        message,
        follows.listing_path(reuse.listing_id),
        exclude_user_id=getattr(actor, "id", None),
    )


# --- interest ---------------------------------------------------------------------------


def _start_reuse(
    actor,
    listing: Listing,
    stage: ReuseStage,
    *,
    comment: str,
    audit_action: str,
    already: str,
    audit_details: dict | None = None,
    since: datetime | None = None,
    **fields: Any,
) -> Reuse:
    """Create the actor's Land's reuse of ``listing`` in ``stage`` with its first
    transition and audit row (the caller commits). ``since``: when the stage was in
    fact reached, if earlier than now (the history and the time series date it so). A
    second open reuse of the same Land and listing is refused with ``already`` (409),
    also when a concurrent request created it first (the partial unique index)."""
    if open_reuse(listing.id, actor.land_ags) is not None:
        raise Conflict(already)
    now = utcnow()
    reached = min(since, now) if since is not None else now
    reuse = Reuse(
        listing_id=listing.id,
        adopter_land_ags=actor.land_ags,
        stage=stage,
        stage_since=reached,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
        **fields,
    )
    db.session.add(reuse)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(already) from None
    db.session.add(
        ReuseTransition(
            reuse_id=reuse.id,
            from_stage=None,
            to_stage=stage,
            actor_id=actor.id,
            occurred_at=reached,
            comment=comment,
        )
    )
    audit.record(
        actor,
        audit_action,
        "reuse",
        reuse.id,
        land_ags=reuse.adopter_land_ags,
        details={"listing": listing.id, "to": str(stage), **(audit_details or {})},
    )
    return reuse


def express_interest(actor, listing_id: int, data: dict[str, Any]) -> Reuse:
    """Permission EXPRESS_INTEREST: an editor states its Land's interest in a published
    listing of another Land (planned start, expected usage per year, note)."""
    listing = _get_listing(actor, listing_id)
    require(actor, Permission.EXPRESS_INTEREST)
    if listing.status != ListingStatus.PUBLISHED:
        raise Conflict(_("Nur veröffentlichte Leistungen können nachgenutzt werden."))
    if listing.provider_land_ags == actor.land_ags:
        raise Conflict(_("Ihr Land stellt diese Leistung selbst bereit."))
    errors: dict[str, list[str]] = {}
    planned_start = _date(data.get("planned_start"), "planned_start", errors, required=False)
    usage = data.get("expected_usage")
    if usage in (None, ""):
        usage = None
    elif isinstance(usage, bool) or not isinstance(usage, int) or not 0 <= usage <= 2**31 - 1:
        errors["expected_usage"] = [
            _("Bitte geben Sie die erwarteten Fälle pro Jahr als ganze Zahl ab 0 an.")
        ]
    note = data.get("note") or ""
    if not isinstance(note, str) or len(note.strip()) > MAX_COMMENT:
        errors["note"] = [_("Bitte höchstens %(max)d Zeichen.", max=MAX_COMMENT)]
        note = ""
    if errors:
        raise Invalid(errors=errors)
    reuse = _start_reuse(
        actor,
        listing,
        ReuseStage.INTEREST,
        comment=note.strip(),
        audit_action="reuse.interest_expressed",
        already=_("Ihr Land hat für diese Leistung bereits eine laufende Nachnutzung."),
        planned_start=planned_start,
        expected_usage=usage,
        interest_note=note.strip(),
    )
    db.session.refresh(reuse)
    notifications.notify(
        _parties(reuse, actor),
        _(
            "Interessenbekundung: %(land)s möchte %(listing)s nachnutzen.",
            land=reuse.adopter_land.name,
            listing=listing.title,
        ),
        _link(reuse),
    )
    _notify_followers(actor, reuse, None, ReuseStage.INTEREST)
    db.session.commit()
    return reuse


def record_own_use(actor, listing_id: int, live_since: Any = None) -> Reuse:
    """The provider Land runs its own service for its own authorities (Eigennutzung).

    Permission: an editor of the provider Land. There is no order and no contract
    (FITKO buys nothing from a Land for that Land), so the reuse starts ``live``; its
    rollout tracks the provider's own authorities, and cost sharing counts the provider
    as a participant (domain rule 1)."""
    listing = _get_listing(actor, listing_id)
    if not (actor.role == Role.EDITOR and actor.land_ags == listing.provider_land_ags):
        raise Forbidden()
    if listing.status != ListingStatus.PUBLISHED:
        raise Conflict(_("Nur veröffentlichte Leistungen können betrieben werden."))
    errors: dict[str, list[str]] = {}
    since = _date(live_since, "live_since", errors, required=False) or _today()
    if since > _today():
        errors["live_since"] = [_("Das Datum darf nicht in der Zukunft liegen.")]
    if errors:
        raise Invalid(errors=errors)
    reuse = _start_reuse(
        actor,
        listing,
        ReuseStage.LIVE,
        comment=_(
            "Eigennutzung durch das bereitstellende Land seit %(date)s",
            date=since.strftime("%d.%m.%Y"),
        ),
        audit_action="reuse.own_use_recorded",
        already=_("Die Eigennutzung ist bereits erfasst."),
        audit_details={"since": since.isoformat()},
        # Live since the start of that day: the time series counts it from that month.
        since=datetime.combine(since, time.min) if since < _today() else None,
        planned_start=since,
    )
    _notify_followers(actor, reuse, None, ReuseStage.LIVE)
    db.session.commit()
    return reuse


def is_own_use(reuse: Reuse) -> bool:
    return reuse.adopter_land_ags == reuse.listing.provider_land_ags


def open_reuse(listing_id: int, land_ags: str | None) -> Reuse | None:
    if land_ags is None:
        return None
    return db.session.scalar(
        select(Reuse).where(
            Reuse.listing_id == listing_id,
            Reuse.adopter_land_ags == land_ags,
            Reuse.stage.not_in(CLOSED_STAGES),
        )
    )


# --- conditions -------------------------------------------------------------------------


def validate_conditions(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    try:
        model = ConditionModel(data.get("condition_model"))
    except ValueError:
        model = None
        errors["condition_model"] = [
            _("Bitte wählen Sie ein Entgeltmodell: Jahresentgelt oder Anteil nach Kostenschlüssel.")
        ]

    def cents(name: str, required: bool) -> int | None:
        value = data.get(name)
        if value in (None, ""):
            if required:
                errors[name] = [_("Bitte geben Sie einen Betrag an.")]
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = [_("Bitte geben Sie einen Betrag in Cent als ganze Zahl an.")]
            return None
        if value < 0:
            errors[name] = [_("Der Betrag darf nicht negativ sein.")]
        elif value > BIGINT_MAX:
            errors[name] = [_("Der Betrag ist zu groß.")]
        return value

    annual_fee = cents("annual_fee_cents", required=model == ConditionModel.ANNUAL_FEE)
    connection = cents("connection_cost_cents", required=True)
    share_rule = data.get("share_rule") or ""
    scope = data.get("scope") or ""
    if not isinstance(share_rule, str):
        errors["share_rule"] = [_("Bitte geben Sie einen Text an.")]
        share_rule = ""
    if not isinstance(scope, str):
        errors["scope"] = [_("Bitte geben Sie einen Text an.")]
        scope = ""
    share_rule, scope = share_rule.strip(), scope.strip()
    if model == ConditionModel.SHARE_RULE and not share_rule:
        errors["share_rule"] = [
            _("Bitte beschreiben Sie die Anteilsregel (z. B. Anteil nach Kostenschlüssel).")
        ]
    if len(share_rule) > MAX_COMMENT:
        errors["share_rule"] = [_("Bitte höchstens %(max)d Zeichen.", max=MAX_COMMENT)]
    if not 3 <= len(scope) <= 5000:
        errors["scope"] = [_("Bitte beschreiben Sie den Leistungsumfang (3 bis 5000 Zeichen).")]
    start = _date(data.get("conditions_start"), "conditions_start", errors)
    if errors:
        raise Invalid(errors=errors)
    return {
        "condition_model": model,
        "annual_fee_cents": annual_fee if model == ConditionModel.ANNUAL_FEE else None,
        "share_rule": share_rule,
        "connection_cost_cents": connection,
        "scope": scope,
        "conditions_start": start,
    }


def conditions_of(reuse: Reuse) -> dict[str, Any]:
    return {
        "condition_model": str(reuse.condition_model) if reuse.condition_model else None,
        "annual_fee_cents": reuse.annual_fee_cents,
        "share_rule": reuse.share_rule,
        "connection_cost_cents": reuse.connection_cost_cents,
        "scope": reuse.scope,
        "conditions_start": reuse.conditions_start.isoformat() if reuse.conditions_start else None,
    }


@_stale
def propose_conditions(
    actor, reuse_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Reuse:
    """Permission ACT_AS_PROVIDER: the provider proposes (or revises) the conditions while
    the reuse is in coordination. The adopter orders on exactly these terms."""
    reuse = get_reuse(actor, reuse_id)
    require(actor, Permission.ACT_AS_PROVIDER, reuse)
    _check_version(reuse, expected_version)
    if reuse.stage != ReuseStage.COORDINATION:
        raise Conflict(
            _(
                "Bedingungen können nur in der Abstimmung vorgeschlagen werden (aktuell: %(stage)s).",
                stage=stage_label(reuse.stage),
            )
        )
    values = validate_conditions(data)
    for name, value in values.items():
        setattr(reuse, name, value)
    now = utcnow()
    reuse.conditions_proposed_at = now
    reuse.conditions_proposed_by_id = actor.id
    reuse.updated_at = now
    audit.record(
        actor,
        "reuse.conditions_proposed",
        "reuse",
        reuse.id,
        land_ags=reuse.adopter_land_ags,
        details=conditions_of(reuse),
    )
    notifications.notify(
        _parties(reuse, actor),
        _(
            "Bedingungen vorgeschlagen: %(listing)s für %(land)s. Bitte prüfen und bestellen.",
            listing=reuse.listing.title,
            land=reuse.adopter_land.name,
        ),
        _link(reuse),
    )
    db.session.commit()
    return reuse


# --- transitions ------------------------------------------------------------------------


def available_actions(actor, reuse: Reuse) -> list[Action]:
    """The moves the actor could make now (for buttons); the use case re-checks everything."""
    result = []
    for action in ACTIONS.values():
        if _source_ok(action, reuse) and can(actor, action.permission, reuse):
            result.append(action)
    return result


def _source_ok(action: Action, reuse: Reuse) -> bool:
    if reuse.stage in action.sources:
        return True
    return (
        action.name in _ON_HOLD_EXITS
        and reuse.stage == ReuseStage.ON_HOLD
        and reuse.resume_stage in action.sources
    )


@_stale
def transition(
    actor,
    reuse_id: int,
    action_name: str,
    comment: str | None = None,
    expected_version: int | None = None,
) -> Reuse:
    """Apply one named action (see ``ACTIONS``); illegal moves are 409, wrong party 403."""
    reuse = get_reuse(actor, reuse_id)
    action = ACTIONS.get(action_name)
    if action is None:
        raise Invalid(
            errors={
                "action": [_("Unbekannter Schritt. Erlaubt: %(values)s", values=", ".join(ACTIONS))]
            }
        )
    require(actor, action.permission, reuse)
    _check_version(reuse, expected_version)
    comment = _comment(comment)
    if not _source_ok(action, reuse):
        raise Conflict(
            _(
                "„%(action)s“ ist im Stand „%(stage)s“ nicht möglich.",
                action=action.label,
                stage=stage_label(reuse.stage),
            )
        )
    details: dict[str, Any] = {}
    target = action.target
    if action.name == "order":
        if not reuse.has_conditions:
            raise Conflict(
                _(
                    "Es liegen noch keine Bedingungen des Bereitstellers vor;"
                    " ohne Bedingungen kann nicht bestellt werden."
                )
            )
        contract = _create_contract(actor, reuse)
        details["contract"] = contract.number
    elif action.name == "start_connecting":
        _create_onboarding_items(reuse)
    elif action.name == "start_testing":
        missing = [item for item in reuse.onboarding_items if item.mandatory and not item.done]
        if missing:
            raise Conflict(
                _(
                    "Der Test kann erst beginnen, wenn alle Pflichtpunkte der technischen"
                    " Anbindung erledigt sind. Offen: %(items)s",
                    items="; ".join(onboarding_label(item, reuse.listing) for item in missing),
                )
            )
    elif action.name == "hold":
        reuse.resume_stage = reuse.stage
    elif action.name == "resume":
        # A reuse on hold always knows where it left; the first stage is the safe fallback.
        target = reuse.resume_stage or ReuseStage.INTEREST
        reuse.resume_stage = None
    elif action.name == "withdraw":
        reuse.resume_stage = None
        if reuse.contract is not None and reuse.contract.status in (
            ContractStatus.AWAITING_CHECK,
            ContractStatus.AWAITING_COUNTERSIGN,
        ):
            reuse.contract.status = ContractStatus.CANCELLED
            details["contract"] = reuse.contract.number
    elif action.name == "terminate":
        reuse.resume_stage = None
        reuse.terminated_on = _today()
        if reuse.contract is not None:
            reuse.contract.status = ContractStatus.TERMINATED
            reuse.contract.ended_on = reuse.terminated_on
            details["contract"] = reuse.contract.number
        details["terminated_on"] = reuse.terminated_on.isoformat()
    _move(actor, reuse, target, comment, action.audit_action, details)
    db.session.commit()
    return reuse


# --- contracts (four eyes) ----------------------------------------------------------------


def _create_contract(actor, reuse: Reuse) -> Contract:
    now = utcnow()
    contract = reuse.contract
    snapshot = json.dumps(conditions_of(reuse), sort_keys=True, ensure_ascii=False)
    if contract is None:
        contract = Contract(
            reuse_id=reuse.id,
            number=f"NV-{now.year}-{reuse.id:06d}",
            status=ContractStatus.AWAITING_CHECK,
            conditions=snapshot,
            ordered_by_id=actor.id,
            ordered_at=now,
        )
        db.session.add(contract)
        reuse.contract = contract
    return contract


def contract_conditions(contract: Contract) -> dict[str, Any]:
    return json.loads(contract.conditions)


@_stale
def check_contract(
    actor, contract_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Contract:
    """Permission CHECK_CONTRACT (FITKO staff): record the in-house eligibility check."""
    contract = get_contract(actor, contract_id)
    require(actor, Permission.CHECK_CONTRACT, contract.reuse)
    if expected_version is not None and expected_version != contract.lock_version:
        raise PreconditionFailed(_("Der Vertrag wurde inzwischen geändert. Bitte neu laden."))
    if (
        contract.status != ContractStatus.AWAITING_CHECK
        or contract.reuse.stage != ReuseStage.ORDERED
    ):
        raise Conflict(
            _(
                "Dieser Vertrag wartet nicht auf die Prüfung (Stand: %(status)s).",
                status=CONTRACT_STATUS_LABELS[contract.status],
            )
        )
    errors: dict[str, list[str]] = {}
    try:
        basis = EligibilityBasis(data.get("eligibility_basis"))
    except ValueError:
        basis = None
        errors["eligibility_basis"] = [
            _(
                "Bitte bestätigen Sie die Inhouse-Fähigkeit: Träger der FITKO oder Mitglied"
                " der Kooperation."
            )
        ]
    legal_basis = data.get("legal_basis") or ""
    remarks = data.get("remarks") or ""
    if not isinstance(legal_basis, str) or not 3 <= len(legal_basis.strip()) <= 200:
        errors["legal_basis"] = [_("Bitte nennen Sie die Rechtsgrundlage (3 bis 200 Zeichen).")]
        legal_basis = ""
    if not isinstance(remarks, str) or len(remarks) > MAX_COMMENT:
        errors["remarks"] = [_("Bitte höchstens %(max)d Zeichen.", max=MAX_COMMENT)]
        remarks = ""
    if errors:
        raise Invalid(errors=errors)
    contract.status = ContractStatus.AWAITING_COUNTERSIGN
    contract.checked_by_id = actor.id
    contract.checked_at = utcnow()
    contract.eligibility_basis = basis
    contract.legal_basis = legal_basis.strip()
    contract.check_remarks = remarks.strip()
    reuse = contract.reuse
    audit.record(
        actor,
        "contract.checked",
        "contract",
        contract.id,
        land_ags=reuse.adopter_land_ags,
        details={
            "reuse": reuse.id,
            "number": contract.number,
            "eligibility_basis": str(basis),
            "legal_basis": contract.legal_basis,
        },
    )
    others = [user for user in _fitko_users() if user.id != actor.id]
    notifications.notify(
        others,
        _(
            "Vertrag %(number)s geprüft; bitte gegenzeichnen (Vier-Augen-Prinzip).",
            number=contract.number,
        ),
        f"/vertraege/{contract.id}",
    )
    db.session.commit()
    return contract


@_stale
def countersign_contract(
    actor, contract_id: int, data: dict[str, Any], expected_version: int | None = None
) -> Contract:
    """Permission COUNTERSIGN_CONTRACT: a second FITKO user signs; the reuse is contracted
    from the effective date on. The checker can never countersign."""
    contract = get_contract(actor, contract_id)
    require(actor, Permission.COUNTERSIGN_CONTRACT, contract.reuse)
    if expected_version is not None and expected_version != contract.lock_version:
        raise PreconditionFailed(_("Der Vertrag wurde inzwischen geändert. Bitte neu laden."))
    if contract.status == ContractStatus.AWAITING_CHECK:
        raise Conflict(
            _(
                "Der Vertrag ist noch nicht geprüft. Gegenzeichnen ist erst nach der Prüfung möglich."
            )
        )
    if (
        contract.status != ContractStatus.AWAITING_COUNTERSIGN
        or contract.reuse.stage != ReuseStage.ORDERED
    ):
        raise Conflict(
            _(
                "Dieser Vertrag wartet nicht auf die Gegenzeichnung (Stand: %(status)s).",
                status=CONTRACT_STATUS_LABELS[contract.status],
            )
        )
    if contract.checked_by_id == actor.id:
        raise Forbidden(
            _(
                "Vier-Augen-Prinzip: Wer den Vertrag geprüft hat, darf ihn nicht auch"
                " gegenzeichnen. Bitte eine zweite Person der FITKO."
            )
        )
    errors: dict[str, list[str]] = {}
    effective = _date(data.get("effective_date"), "effective_date", errors)
    if effective is not None and effective < contract.ordered_at.date():
        errors["effective_date"] = [
            _(
                "Der Vertrag kann nicht vor der Bestellung (%(date)s) wirksam werden.",
                date=contract.ordered_at.date().strftime("%d.%m.%Y"),
            )
        ]
    if errors:
        raise Invalid(errors=errors)
    contract.status = ContractStatus.IN_FORCE
    contract.countersigned_by_id = actor.id
    contract.countersigned_at = utcnow()
    contract.effective_date = effective
    reuse = contract.reuse
    _move(
        actor,
        reuse,
        ReuseStage.CONTRACTED,
        "",
        "reuse.contracted",
        {"contract": contract.number, "effective_date": effective.isoformat()},
    )
    db.session.commit()
    return contract


def contract_queue(actor) -> tuple[list[Contract], list[Contract]]:
    """FITKO: contracts waiting for the check and for the countersignature, oldest first
    (two queries)."""
    require(actor, Permission.VIEW_FITKO_DASHBOARD)
    base = (
        select(Contract)
        .join(Contract.reuse)
        .where(Reuse.stage == ReuseStage.ORDERED)
        .options(selectinload(Contract.checked_by))
        .order_by(Contract.ordered_at, Contract.id)
    )
    waiting_check = list(
        db.session.scalars(base.where(Contract.status == ContractStatus.AWAITING_CHECK))
    )
    waiting_sign = list(
        db.session.scalars(base.where(Contract.status == ContractStatus.AWAITING_COUNTERSIGN))
    )
    return waiting_check, waiting_sign


# --- technical onboarding ------------------------------------------------------------------


def _create_onboarding_items(reuse: Reuse) -> None:
    if reuse.onboarding_items:
        return
    listing = reuse.listing
    mandatory = {
        "transport": True,
        "user_account": listing.user_account != UserAccount.NONE,
        "payment": bool(listing.payment.strip()),
        "xoev": bool(listing.xoev_standard.strip()),
    }
    for position, (key, _label) in enumerate(ONBOARDING_ITEMS):
        reuse.onboarding_items.append(
            OnboardingItem(key=key, position=position, mandatory=mandatory[key])
        )


@_stale
def update_onboarding_item(
    actor, reuse_id: int, key: str, done: bool, done_on: Any = None, note: str | None = None
) -> OnboardingItem:
    """Permission ACT_AS_ADOPTER: tick an item done (with its date) or open it again,
    while the reuse is in technical onboarding."""
    reuse = get_reuse(actor, reuse_id)
    require(actor, Permission.ACT_AS_ADOPTER, reuse)
    if reuse.stage != ReuseStage.CONNECTING:
        raise Conflict(
            _("Die Checkliste kann nur während der technischen Anbindung geändert werden.")
        )
    item = next((i for i in reuse.onboarding_items if i.key == key), None)
    if item is None:
        raise NotFound()
    errors: dict[str, list[str]] = {}
    when = None
    if done:
        when = _date(done_on, "done_on", errors) if done_on not in (None, "") else _today()
        _check_not_before_contract(reuse, when, "done_on", errors)
    note = note if isinstance(note, str) else ""
    if len(note) > 500:
        errors["note"] = [_("Bitte höchstens %(max)d Zeichen.", max=500)]
    if errors:
        raise Invalid(errors=errors)
    item.done_on = when
    item.done_by_id = actor.id if done else None
    item.note = note.strip()
    reuse.updated_at = utcnow()
    audit.record(
        actor,
        "reuse.onboarding_item_updated",
        "reuse",
        reuse.id,
        land_ags=reuse.adopter_land_ags,
        details={"item": key, "done": bool(done), "done_on": when.isoformat() if when else None},
    )
    db.session.commit()
    return item


def _check_not_before_contract(reuse: Reuse, when: date | None, name: str, errors) -> None:
    if when is None:
        return
    start = reuse.contract.effective_date if reuse.contract is not None else None
    if start is not None and when < start:
        errors[name] = [
            _(
                "Das Datum liegt vor dem Vertragsbeginn (%(date)s).",
                date=start.strftime("%d.%m.%Y"),
            )
        ]
    elif when > _today():
        errors[name] = [_("Das Datum darf nicht in der Zukunft liegen.")]


# --- rollout to authorities ------------------------------------------------------------------


def _rollout_reuse(actor, reuse_id: int) -> Reuse:
    reuse = get_reuse(actor, reuse_id)
    require(actor, Permission.MANAGE_ROLLOUT, reuse)
    if reuse.stage not in CONTRACTED_STAGES:
        raise Conflict(
            _(
                "Die Einführung bei Behörden beginnt erst mit dem Vertrag (aktuell: %(stage)s).",
                stage=stage_label(reuse.stage),
            )
        )
    return reuse


def _codes(values: Any, errors: dict) -> list[str]:
    if isinstance(values, str):
        values = values.replace(",", " ").split()
    if not isinstance(values, list | tuple) or not values:
        errors["authorities"] = [_("Bitte wählen Sie mindestens eine Behörde aus.")]
        return []
    codes = []
    for value in values:
        if not isinstance(value, str) or not value.isdigit() or len(value) not in (5, 8):
            errors["authorities"] = [
                _(
                    "Ungültiger Schlüssel %(code)s: erwartet wird ein Kreisschlüssel (5 Ziffern)"
                    " oder ein AGS (8 Ziffern).",
                    code=str(value)[:20],
                )
            ]
            return []
        codes.append(value)
    if len(codes) > MAX_BULK:
        errors["authorities"] = [_("Höchstens %(max)d Behörden auf einmal.", max=MAX_BULK)]
        return []
    return list(dict.fromkeys(codes))


@_stale
def add_rollout_authorities(actor, reuse_id: int, codes: Any, planned_on: Any = None) -> int:
    """Permission MANAGE_ROLLOUT: add authorities (Kreise or Gemeinden of the adopter's own
    Land, by key) to the rollout as planned. Already planned ones are left as they are.
    Returns how many were added. All or nothing: one foreign key refuses the batch."""
    reuse = _rollout_reuse(actor, reuse_id)
    errors: dict[str, list[str]] = {}
    wanted = _codes(codes, errors)
    on = _date(planned_on, "date", errors, required=False) or _today()
    if not errors:
        _check_not_before_contract(reuse, on, "date", errors)
    if errors:
        raise Invalid(errors=errors)
    authorities = list(db.session.scalars(select(Authority).where(Authority.ags.in_(wanted))))
    found = {authority.ags for authority in authorities}
    unknown = [code for code in wanted if code not in found]
    foreign = [a.ags for a in authorities if a.land_ags != reuse.adopter_land_ags]
    if unknown:
        raise Invalid(
            errors={
                "authorities": [
                    _("Unbekannte Behördenschlüssel: %(codes)s", codes=", ".join(unknown[:20]))
                ]
            }
        )
    if foreign:
        raise Invalid(
            errors={
                "authorities": [
                    _(
                        "Diese Behörden gehören nicht zu %(land)s: %(codes)s",
                        land=reuse.adopter_land.name,
                        codes=", ".join(foreign[:20]),
                    )
                ]
            }
        )
    present = set(
        db.session.scalars(
            select(Rollout.authority_id).where(
                Rollout.reuse_id == reuse.id,
                Rollout.authority_id.in_([a.id for a in authorities]),
            )
        )
    )
    new = [a for a in authorities if a.id not in present]
    if not new:
        return 0
    now = utcnow()
    # The versioned UPDATE of the reuse goes first: two concurrent requests for the same
    # authorities serialise on it, and the second gets 409 instead of a duplicate key.
    reuse.updated_at = now
    db.session.flush()
    rows = [
        Rollout(
            reuse_id=reuse.id,
            authority_id=authority.id,
            kreis_ags=authority.kreis_ags,
            status=RolloutStatus.PLANNED,
            status_on=on,
            updated_at=now,
            updated_by_id=actor.id,
        )
        for authority in new
    ]
    db.session.add_all(rows)
    db.session.flush()
    db.session.add_all(
        RolloutEvent(
            rollout_id=row.id,
            from_status=None,
            to_status=RolloutStatus.PLANNED,
            on=on,
            actor_id=actor.id,
            recorded_at=now,
        )
        for row in rows
    )
    audit.record(
        actor,
        "rollout.planned",
        "reuse",
        reuse.id,
        land_ags=reuse.adopter_land_ags,
        details={"count": len(rows), "authorities": [a.ags for a in new][:100]},
    )
    db.session.commit()
    return len(rows)


_ROLLOUT_NEXT = {
    RolloutStatus.PLANNED: RolloutStatus.CONNECTING,
    RolloutStatus.CONNECTING: RolloutStatus.LIVE,
}


@_stale
def update_rollout(actor, reuse_id: int, codes: Any, status: Any, on: Any) -> int:
    """Permission MANAGE_ROLLOUT: move many authorities one step on (planned -> connecting
    -> live) on one date. All or nothing; returns how many moved."""
    reuse = _rollout_reuse(actor, reuse_id)
    errors: dict[str, list[str]] = {}
    wanted = _codes(codes, errors)
    try:
        target = RolloutStatus(status)
    except ValueError:
        target = None
        errors["status"] = [_("Bitte wählen Sie: in Anbindung oder live.")]
    when = _date(on, "date", errors)
    if target == RolloutStatus.PLANNED:
        errors["status"] = [_("Bitte wählen Sie: in Anbindung oder live.")]
    if not errors:
        _check_not_before_contract(reuse, when, "date", errors)
    if errors:
        raise Invalid(errors=errors)
    if target == RolloutStatus.LIVE and reuse.stage != ReuseStage.LIVE:
        raise Conflict(
            _(
                "Behörden gehen erst live, wenn die Nachnutzung im Produktivbetrieb ist"
                " (aktuell: %(stage)s).",
                stage=stage_label(reuse.stage),
            )
        )
    rows = list(
        db.session.scalars(
            select(Rollout)
            .join(Rollout.authority)
            .where(Rollout.reuse_id == reuse.id, Authority.ags.in_(wanted))
        )
    )
    by_code = {row.authority.ags: row for row in rows}
    missing = [code for code in wanted if code not in by_code]
    if missing:
        raise Invalid(
            errors={
                "authorities": [
                    _(
                        "Nicht in der Einführung dieses Landes: %(codes)s",
                        codes=", ".join(missing[:20]),
                    )
                ]
            }
        )
    wrong = [row for row in rows if _ROLLOUT_NEXT.get(row.status) != target]
    if wrong:
        raise Conflict(
            _(
                "Diese Behörden können nicht auf „%(status)s“ gesetzt werden (kein Schritt darf"
                " übersprungen werden): %(names)s",
                status=ROLLOUT_LABELS[target],
                names=", ".join(
                    f"{r.authority.name} ({ROLLOUT_LABELS[r.status]})" for r in wrong[:10]
                ),
            )
        )
    early = [row for row in rows if when < row.status_on]
    if early:
        raise Invalid(
            errors={
                "date": [
                    _(
                        "Das Datum liegt vor dem letzten Schritt von %(names)s.",
                        names=", ".join(r.authority.name for r in early[:10]),
                    )
                ]
            }
        )
    now = utcnow()
    for row in rows:
        db.session.add(
            RolloutEvent(
                rollout_id=row.id,
                from_status=row.status,
                to_status=target,
                on=when,
                actor_id=actor.id,
                recorded_at=now,
            )
        )
        row.status = target
        row.status_on = when
        if target == RolloutStatus.LIVE:
            row.live_on = when
        row.updated_at = now
        row.updated_by_id = actor.id
    reuse.updated_at = now
    audit.record(
        actor,
        f"rollout.{target}",
        "reuse",
        reuse.id,
        land_ags=reuse.adopter_land_ags,
        details={"count": len(rows), "on": when.isoformat(), "authorities": wanted[:100]},
    )
    if target == RolloutStatus.LIVE:
        notifications.notify(
            _land_users(reuse.listing.provider_land_ags),
            ngettext(
                "%(listing)s: %(num)d Behörde in %(land)s live.",
                "%(listing)s: %(num)d Behörden in %(land)s live.",
                len(rows),
                listing=reuse.listing.title,
                land=reuse.adopter_land.name,
            ),
            _link(reuse) + "/einfuehrung",
        )
        from fitstore.services import follows  # here: follows -> transparency -> reuses

        follows.notify_followers(
            reuse.listing,
            (reuse.adopter_land_ags, reuse.listing.provider_land_ags),
            ngettext(
                "%(listing)s: %(num)d Behörde in %(land)s live seit %(date)s.",
                "%(listing)s: %(num)d Behörden in %(land)s live seit %(date)s.",
                len(rows),
                listing=reuse.listing.title,
                land=reuse.adopter_land.name,
                date=when.strftime("%d.%m.%Y"),
            ),
            follows.listing_path(reuse.listing_id),
            exclude_user_id=actor.id,
        )
    db.session.commit()
    return len(rows)


@dataclass(frozen=True)
class RolloutProgress:
    planned: int = 0
    connecting: int = 0
    live: int = 0

    @property
    def total(self) -> int:
        return self.planned + self.connecting + self.live

    @property
    def percent_live(self) -> int:
        return round(100 * self.live / self.total) if self.total else 0


def rollout_progress(reuse_ids: Iterable[int]) -> dict[int, RolloutProgress]:
    """Counts by status for many reuses in one query."""
    ids = list(reuse_ids)
    if not ids:
        return {}
    counts: dict[int, dict[str, int]] = {}
    for reuse_id, status, count in db.session.execute(
        select(Rollout.reuse_id, Rollout.status, func.count())
        .where(Rollout.reuse_id.in_(ids))
        .group_by(Rollout.reuse_id, Rollout.status)
    ):
        counts.setdefault(reuse_id, {})[str(status)] = count
    return {reuse_id: RolloutProgress(**counts.get(reuse_id, {})) for reuse_id in ids}


def rollout_by_kreis(reuse: Reuse) -> dict[str, dict[str, int]]:
    """Per Kreis key: counts of the reuse's authorities by status (one query)."""
    result: dict[str, dict[str, int]] = {}
    for kreis, status, count in db.session.execute(
        select(Rollout.kreis_ags, Rollout.status, func.count())
        .where(Rollout.reuse_id == reuse.id)
        .group_by(Rollout.kreis_ags, Rollout.status)
    ):
        result.setdefault(kreis, {})[str(status)] = count
    return result


def kreis_status(counts: dict[str, int]) -> str:
    """The colour of a Kreis on the rollout map: live if any authority there is live."""
    for status in ("live", "connecting", "planned"):
        if counts.get(status):
            return status
    return "none"


def list_rollouts(
    actor,
    reuse_id: int,
    *,
    status: str | None = None,
    q: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[Reuse, Page]:
    """Permission VIEW_REUSE: the reuse's rollout rows, filterable, paginated (2 queries)."""
    reuse = get_reuse(actor, reuse_id)
    query = (
        select(Rollout)
        .join(Rollout.authority)
        .where(Rollout.reuse_id == reuse.id)
        .order_by(Authority.kreis_ags, Authority.level, Authority.name_search, Rollout.id)
    )
    if status:
        try:
            query = query.where(Rollout.status == RolloutStatus(status))
        except ValueError:
            raise Invalid(errors={"status": [_("Unbekannter Status.")]}) from None
    if q:
        needle = q.strip().lower()
        query = query.where(
            or_(Authority.name_search.contains(needle, autoescape=True), Authority.ags == needle)
        )
    return reuse, paginate(query, page, per_page)


# --- lists and dashboards ------------------------------------------------------------------


def _visible_reuses(actor) -> Select:
    query = select(Reuse).join(Reuse.listing)
    if can(actor, Permission.VIEW_FITKO_DASHBOARD):
        return query
    land = getattr(actor, "land_ags", None)
    if land is None:
        return query.where(False)  # Bund staff and others: no Land's private data
    member_of = (
        select(Alliance.listing_id)
        .join(AllianceMembership, AllianceMembership.alliance_id == Alliance.id)
        .where(
            AllianceMembership.land_ags == land,
            AllianceMembership.status == MembershipStatus.MEMBER,
        )
    )
    return query.where(
        or_(
            Reuse.adopter_land_ags == land,
            Listing.provider_land_ags == land,
            Reuse.listing_id.in_(member_of),
        )
    )


def list_reuses(
    actor,
    *,
    listing_id: int | None = None,
    land: str | None = None,
    stage: str | None = None,
    side: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """Permission VIEW_REUSES: the reuses the actor may see, filtered, newest change first."""
    require(actor, Permission.VIEW_REUSES)
    query = _visible_reuses(actor)
    if listing_id is not None:
        query = query.where(Reuse.listing_id == listing_id)
    if land:
        query = query.where(Reuse.adopter_land_ags == land)
    if stage:
        try:
            query = query.where(Reuse.stage == ReuseStage(stage))
        except ValueError:
            raise Invalid(errors={"stage": [_("Unbekannte Stufe.")]}) from None
    own = getattr(actor, "land_ags", None)
    if side == "adopter" and own:
        query = query.where(Reuse.adopter_land_ags == own)
    elif side == "provider" and own:
        query = query.where(Listing.provider_land_ags == own)
    query = query.order_by(Reuse.updated_at.desc(), Reuse.id.desc())
    return paginate(query, page, per_page)


def list_contracts(actor, status: str | None = None, page: int = 1, per_page: int = 20) -> Page:
    """Permission VIEW_CONTRACT: FITKO and admins see every contract; users of a Land the
    contracts of the reuses their Land adopts or provides. Newest order first (2 queries)."""
    require(actor, Permission.VIEW_CONTRACT)
    query = select(Contract).join(Contract.reuse).join(Reuse.listing)
    if not can(actor, Permission.VIEW_FITKO_DASHBOARD):
        land = getattr(actor, "land_ags", None)
        if land is None:
            query = query.where(False)
        else:
            query = query.where(
                or_(Reuse.adopter_land_ags == land, Listing.provider_land_ags == land)
            )
    if status:
        try:
            query = query.where(Contract.status == ContractStatus(status))
        except ValueError:
            raise Invalid(errors={"status": [_("Unbekannter Status.")]}) from None
    query = query.order_by(Contract.ordered_at.desc(), Contract.id.desc())
    return paginate(query, page, per_page)


def land_stages(listing_id: int) -> dict[str, Reuse]:
    """The current (open, or else latest) reuse per adopter Land of a listing: the public
    stage map. Stages are public facts; conditions are not (one query)."""
    result: dict[str, Reuse] = {}
    for reuse in db.session.scalars(
        select(Reuse).where(Reuse.listing_id == listing_id).order_by(Reuse.id)
    ):
        current = result.get(reuse.adopter_land_ags)
        if current is None or current.stage in CLOSED_STAGES:
            result[reuse.adopter_land_ags] = reuse
    return result


def waiting_for(reuse: Reuse) -> str | None:
    """Who has to act next: "adopter", "provider", "fitko" or None (live or closed)."""
    stage = reuse.stage
    if stage == ReuseStage.INTEREST:
        return "provider"
    if stage == ReuseStage.COORDINATION:
        return "adopter" if reuse.has_conditions else "provider"
    if stage == ReuseStage.ORDERED:
        return "fitko"
    if stage in (ReuseStage.CONTRACTED, ReuseStage.CONNECTING, ReuseStage.TESTING):
        return "adopter"
    if stage == ReuseStage.ON_HOLD:
        return "adopter"
    return None


def history(reuse: Reuse) -> list[ReuseTransition]:
    return list(
        db.session.scalars(
            select(ReuseTransition)
            .where(ReuseTransition.reuse_id == reuse.id)
            .options(selectinload(ReuseTransition.actor))
            .order_by(ReuseTransition.id)
        )
    )


def main_line_position(reuse: Reuse) -> int:
    """Index of the (resume) stage on the main line, for the progress steps; -1 if closed."""
    stage = reuse.resume_stage if reuse.stage == ReuseStage.ON_HOLD else reuse.stage
    return MAIN_LINE.index(stage) if stage in MAIN_LINE else -1


def stage_matrix(actor, page: int = 1, per_page: int = 50):
    """FITKO: Länder x listings (every listing with at least one reuse, also a withdrawn
    one whose contracts continue), each cell
    the Land's current stage. Three queries whatever the size."""
    require(actor, Permission.VIEW_FITKO_DASHBOARD)
    listing_query = (
        select(Listing)
        .where(Listing.id.in_(select(Reuse.listing_id)))
        .order_by(Listing.title, Listing.id)
    )
    listings_page = paginate(listing_query, page, per_page)
    ids = [listing.id for listing in listings_page.items]
    cells: dict[tuple[int, str], ReuseStage] = {}
    if ids:
        rows = db.session.execute(
            select(Reuse.listing_id, Reuse.adopter_land_ags, Reuse.stage)
            .where(Reuse.listing_id.in_(ids))
            .order_by(Reuse.id)
        )
        for listing_id, land, stage in rows:
            key = (listing_id, land)
            if key not in cells or cells[key] in CLOSED_STAGES:
                cells[key] = stage
    laender = list(db.session.scalars(select(Land).order_by(Land.ags)))
    return laender, listings_page, cells


def stage_counts(actor) -> dict[str, int]:
    """FITKO: how many reuses are in each stage (one query)."""
    require(actor, Permission.VIEW_FITKO_DASHBOARD)
    return {
        str(stage): count
        for stage, count in db.session.execute(
            select(Reuse.stage, func.count()).group_by(Reuse.stage)
        )
    }


# Rows per list on "Mein Land": a Land of the national data set reuses hundreds of
# services; the page shows one page of each list at a time.
LAND_DASHBOARD_PAGE_SIZE = 25


def waiting_for_condition(side: str):
    """The SQL form of ``waiting_for(reuse) == side`` for "adopter" and "provider"
    (keep the two in step: a test compares them)."""
    if side == "adopter":
        return or_(
            Reuse.stage.in_(
                (
                    ReuseStage.CONTRACTED,
                    ReuseStage.CONNECTING,
                    ReuseStage.TESTING,
                    ReuseStage.ON_HOLD,
                )
            ),
            (Reuse.stage == ReuseStage.COORDINATION) & Reuse.conditions_proposed_at.is_not(None),
        )
    if side == "provider":
        return or_(
            Reuse.stage == ReuseStage.INTEREST,
            (Reuse.stage == ReuseStage.COORDINATION) & Reuse.conditions_proposed_at.is_(None),
        )
    raise ValueError(side)


def _dashboard_reuses() -> Select:
    """Reuses with just what a dashboard row shows of their listing (its title and
    provider): the listing is joined once for sorting and filtering, and its long texts
    stay in the database."""
    return (
        select(Reuse)
        .join(Reuse.listing)
        .options(
            contains_eager(Reuse.listing)
            .load_only(Listing.id, Listing.title, Listing.status, Listing.provider_land_ags)
            .joinedload(Listing.provider_land),
            contains_eager(Reuse.listing).lazyload(Listing.operator),
            contains_eager(Reuse.listing).lazyload(Listing.themenfeld),
        )
    )


def land_dashboard(
    actor,
    waiting_page: int = 1,
    reused_page: int = 1,
    provided_page: int = 1,
    per_page: int | None = None,
) -> dict[str, Any]:
    """Permission VIEW_LAND_DASHBOARD: what the actor's Land provides and reuses, and what
    waits for it (oldest first), one page of each (``LAND_DASHBOARD_PAGE_SIZE`` rows). A
    fixed number of queries."""
    require(actor, Permission.VIEW_LAND_DASHBOARD)
    land = actor.land_ags
    per_page = per_page or LAND_DASHBOARD_PAGE_SIZE
    provided = paginate(
        select(Listing)
        .where(Listing.provider_land_ags == land)
        .order_by(Listing.title, Listing.id),
        provided_page,
        per_page,
    )
    provided_counts: dict[int, dict[str, int]] = {}
    if provided.items:
        for listing_id, stage, count in db.session.execute(
            select(Reuse.listing_id, Reuse.stage, func.count())
            .where(Reuse.listing_id.in_([listing.id for listing in provided.items]))
            .group_by(Reuse.listing_id, Reuse.stage)
        ):
            provided_counts.setdefault(listing_id, {})[str(stage)] = count
    reused = paginate(
        _dashboard_reuses().where(Reuse.adopter_land_ags == land).order_by(Listing.title, Reuse.id),
        reused_page,
        per_page,
    )
    waiting_reuses = paginate(
        _dashboard_reuses()
        .where(
            or_(
                (Reuse.adopter_land_ags == land) & waiting_for_condition("adopter"),
                (Listing.provider_land_ags == land) & waiting_for_condition("provider"),
            )
        )
        .order_by(Reuse.stage_since, Reuse.id),
        waiting_page,
        per_page,
    )
    waiting = Page(
        [
            (
                reuse,
                "adopter"
                if reuse.adopter_land_ags == land and waiting_for(reuse) == "adopter"
                else "provider",
            )
            for reuse in waiting_reuses.items
        ],
        waiting_reuses.page,
        waiting_reuses.per_page,
        waiting_reuses.total,
    )
    progress = rollout_progress([reuse.id for reuse in reused.items])
    join_requests = list(
        db.session.execute(
            select(AllianceMembership, Alliance)
            .join(Alliance, Alliance.id == AllianceMembership.alliance_id)
            .where(
                Alliance.lead_land_ags == land,
                AllianceMembership.status == MembershipStatus.REQUESTED,
            )
            .order_by(AllianceMembership.requested_at)
        )
    )
    return {
        "provided": provided,
        "provided_counts": provided_counts,
        "reused": reused,
        "progress": progress,
        "waiting": waiting,
        "join_requests": join_requests,
    }
