"""EfA listings: create, edit, review, publish, withdraw, revise, search.

Lifecycle (``TRANSITIONS``): draft -> submitted (provider) -> published (FITKO)
or back to draft with a reason (FITKO) ; published -> withdrawn (provider or
FITKO). Editing a published listing opens a pending revision that FITKO accepts
or rejects; the published text stays until then. Every change writes one audit
row and notifies the other side in the same transaction.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, case, func, literal, literal_column, or_, select, text
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from fitstore.errors import Conflict, Invalid, NotFound, PreconditionFailed
from fitstore.extensions import db
from fitstore.models import (
    Land,
    Listing,
    ListingDocument,
    ListingRevision,
    ListingStatus,
    ListingVersion,
    Organisation,
    OrganisationKind,
    RevisionStatus,
    Role,
    Themenfeld,
    Transport,
    User,
    UserAccount,
)
from fitstore.models.base import is_id, utcnow
from fitstore.permissions import Permission, can, require
from fitstore.services import audit, notifications
from fitstore.services.auth import is_valid_email
from fitstore.services.pagination import Page, paginate
from fitstore.services.reference import DATA_DIR, shipped_land_codes
from fitstore.services.text_search import stems_of, words_of

BIGINT_MAX = 2**63 - 1
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

# The fields that make up a listing's text; versions and revisions snapshot exactly these.
CONTENT_FIELDS = (
    "title",
    "ozg_name",
    "ozg_id",
    "leika_keys",
    "themenfeld_number",
    "reifegrad",
    "operator_id",
    "description",
    "transport",
    "xoev_standard",
    "user_account",
    "payment",
    "requirements_note",
    "checklist",
    "annual_cost_cents",
    "connection_cost_cents",
    "contact_name",
    "contact_email",
)

# (status, action) -> new status. Anything else is an illegal move (409).
TRANSITIONS = {
    (ListingStatus.DRAFT, "submit"): ListingStatus.SUBMITTED,
    (ListingStatus.SUBMITTED, "publish"): ListingStatus.PUBLISHED,
    (ListingStatus.SUBMITTED, "reject"): ListingStatus.DRAFT,
    (ListingStatus.PUBLISHED, "withdraw"): ListingStatus.WITHDRAWN,
}


# --- checklist (EfA-Mindestanforderungen, shipped as data) -----------------------


@dataclass(frozen=True)
class Criterion:
    key: str
    group: str
    text: str
    level: str  # MUSS, SOLL or KANN


@lru_cache(maxsize=1)
def criteria() -> tuple[Criterion, ...]:
    with open(DATA_DIR / "efa-mindestanforderungen.csv", encoding="utf-8", newline="") as handle:
        return tuple(
            Criterion(row["key"], row["group"], row["criterion"], row["level"])
            for row in csv.DictReader(handle, delimiter=";")
        )


def criteria_by_group() -> list[tuple[str, list[Criterion]]]:
    groups: dict[str, list[Criterion]] = {}
    for criterion in criteria():
        groups.setdefault(criterion.group, []).append(criterion)
    return list(groups.items())


def checklist_state(listing_or_content) -> dict[str, bool]:
    raw = (
        listing_or_content["checklist"]
        if isinstance(listing_or_content, dict)
        else listing_or_content.checklist
    )
    state = json.loads(raw or "{}") if isinstance(raw, str) else dict(raw or {})
    return {c.key: bool(state.get(c.key, False)) for c in criteria()}


def unmet_mandatory(listing: Listing) -> list[Criterion]:
    state = checklist_state(listing)
    return [c for c in criteria() if c.level == "MUSS" and not state[c.key]]


# --- choices for forms (reference data, readable by anyone) ----------------------------


def list_themenfelder() -> list[Themenfeld]:
    return list(db.session.scalars(select(Themenfeld).order_by(Themenfeld.number)))


def list_operators(*, include_inactive: bool = False) -> list[Organisation]:
    """IT-Dienstleister that may operate a listing (all of them to name old values)."""
    query = select(Organisation).where(Organisation.kind == OrganisationKind.IT_DIENSTLEISTER)
    if not include_inactive:
        query = query.where(Organisation.active.is_(True))
    return list(db.session.scalars(query.order_by(Organisation.name)))


# --- validation ---------------------------------------------------------------------

LEIKA = re.compile(r"[0-9]{14}")
OZG_ID = re.compile(r"[0-9]{1,10}")


def _text(data, name, errors, *, minimum=0, maximum=200, required=False) -> str:
    value = data.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[name] = [_("Bitte geben Sie einen Text an.")]
        return ""
    value = value.strip()
    if "\x00" in value:
        errors[name] = [_("Der Text enthält unzulässige Steuerzeichen.")]
    elif required and not value:
        errors[name] = [_("Dieses Feld ist erforderlich.")]
    elif value and not minimum <= len(value) <= maximum:
        errors[name] = [_("Bitte %(min)d bis %(max)d Zeichen.", min=max(minimum, 1), max=maximum)]
    return value


def _cents(data, name, errors) -> int | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors[name] = [_("Bitte geben Sie einen Betrag in Cent als ganze Zahl an.")]
        return None
    if value < 0:
        errors[name] = [_("Der Betrag darf nicht negativ sein.")]
    elif value > BIGINT_MAX:
        errors[name] = [_("Der Betrag ist zu groß.")]
    return value


def _enum_value(enum_cls, data, name, errors, default=None):
    value = data.get(name, default)
    try:
        return enum_cls(value)
    except ValueError:
        errors[name] = [
            _("Unbekannter Wert. Erlaubt: %(values)s", values=", ".join(m.value for m in enum_cls))
        ]
        return None


def validate_content(
    data: dict[str, Any], current_operator_id: int | None = None
) -> dict[str, Any]:
    """Check every content field; raise Invalid naming each wrong field, else return clean values.

    ``current_operator_id`` is the listing's operator so far: keeping it stays valid
    even if that IT-Dienstleister has been deactivated since."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    clean["title"] = _text(data, "title", errors, minimum=3, maximum=200, required=True)
    clean["ozg_name"] = _text(data, "ozg_name", errors, minimum=3, maximum=200, required=True)
    ozg_id = data.get("ozg_id")
    ozg_id = (
        str(ozg_id).strip()
        if isinstance(ozg_id, (str, int)) and not isinstance(ozg_id, bool)
        else ""
    )
    if not OZG_ID.fullmatch(ozg_id):
        errors["ozg_id"] = [_("Die OZG-ID besteht nur aus Ziffern (z. B. 10255).")]
    clean["ozg_id"] = ozg_id

    raw_keys = data.get("leika_keys")
    if isinstance(raw_keys, str):
        keys = [k for k in re.split(r"[\s,;]+", raw_keys) if k]
    elif isinstance(raw_keys, list) and all(isinstance(k, str) for k in raw_keys):
        keys = [k.strip() for k in raw_keys if k.strip()]
    else:
        keys = None
    if not keys:
        errors["leika_keys"] = [_("Bitte geben Sie mindestens einen Leistungsschlüssel an.")]
        keys = []
    else:
        wrong = [k for k in keys if not LEIKA.fullmatch(k)]
        if wrong:
            errors["leika_keys"] = [
                _(
                    "Ein Leistungsschlüssel hat genau 14 Ziffern: %(keys)s",
                    keys=", ".join(wrong[:5]),
                )
            ]
    clean["leika_keys"] = " ".join(dict.fromkeys(keys))

    number = data.get("themenfeld_number")
    if isinstance(number, str) and number.isascii() and number.isdigit() and len(number) < 6:
        number = int(number)
    if isinstance(number, bool) or not is_id(number) or db.session.get(Themenfeld, number) is None:
        errors["themenfeld_number"] = [_("Bitte wählen Sie eines der 14 Themenfelder.")]
    clean["themenfeld_number"] = number

    reifegrad = data.get("reifegrad")
    if (
        isinstance(reifegrad, str)
        and reifegrad.isascii()
        and reifegrad.isdigit()
        and len(reifegrad) < 6
    ):
        reifegrad = int(reifegrad)
    if isinstance(reifegrad, bool) or not isinstance(reifegrad, int) or not 0 <= reifegrad <= 4:
        errors["reifegrad"] = [_("Der Reifegrad liegt zwischen 0 und 4.")]
    clean["reifegrad"] = reifegrad

    operator_id = data.get("operator_id")
    if operator_id in (None, "", 0, "0"):
        clean["operator_id"] = None
    else:
        if isinstance(operator_id, str) and operator_id.isascii() and operator_id.isdigit():
            operator_id = int(operator_id)
        operator = db.session.get(Organisation, operator_id) if is_id(operator_id) else None
        kept = operator is not None and operator.id == current_operator_id
        if (
            operator is None
            or operator.kind != OrganisationKind.IT_DIENSTLEISTER
            or not (operator.active or kept)
        ):
            errors["operator_id"] = [_("Betreiber ist ein aktiver IT-Dienstleister.")]
        clean["operator_id"] = operator_id

    clean["description"] = _text(data, "description", errors, maximum=20_000)
    clean["transport"] = _enum_value(Transport, data, "transport", errors)
    clean["xoev_standard"] = _text(data, "xoev_standard", errors, maximum=80)
    clean["user_account"] = _enum_value(UserAccount, data, "user_account", errors, default="none")
    clean["payment"] = _text(data, "payment", errors, maximum=80)
    clean["requirements_note"] = _text(data, "requirements_note", errors, maximum=5_000)

    checklist = data.get("checklist") or {}
    known = {c.key for c in criteria()}
    if not isinstance(checklist, dict) or not all(isinstance(v, bool) for v in checklist.values()):
        errors["checklist"] = [_("Die Checkliste ordnet jedem Kriterium ja oder nein zu.")]
        checklist = {}
    elif set(checklist) - known:
        errors["checklist"] = [
            _("Unbekannte Kriterien: %(keys)s", keys=", ".join(sorted(set(checklist) - known)[:5]))
        ]
    clean["checklist"] = json.dumps(
        {k: bool(checklist.get(k)) for k in sorted(known)}, sort_keys=True
    )

    clean["annual_cost_cents"] = _cents(data, "annual_cost_cents", errors)
    clean["connection_cost_cents"] = _cents(data, "connection_cost_cents", errors)
    clean["contact_name"] = _text(data, "contact_name", errors, maximum=120)
    clean["contact_email"] = _text(data, "contact_email", errors, maximum=254)
    if clean["contact_email"] and not is_valid_email(clean["contact_email"]):
        errors["contact_email"] = [_("Bitte geben Sie eine gültige E-Mail-Adresse an.")]
    if errors:
        raise Invalid(errors=errors)
    return clean


# --- snapshots and diffs ----------------------------------------------------------------


def content_of(listing: Listing) -> dict[str, Any]:
    values = {}
    for name in CONTENT_FIELDS:
        value = getattr(listing, name)
        values[name] = value.value if hasattr(value, "value") else value
    return values


def _snapshot(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _apply(listing: Listing, values: dict[str, Any]) -> None:
    for name in CONTENT_FIELDS:
        setattr(listing, name, values[name])
    _refresh_search(listing)


def diff(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """The fields whose values differ, as (field, old, new)."""
    return [
        (name, old.get(name), new.get(name))
        for name in CONTENT_FIELDS
        if old.get(name) != new.get(name)
    ]


def _refresh_search(listing: Listing) -> None:
    themenfeld = db.session.get(Themenfeld, listing.themenfeld_number)
    land = db.session.get(Land, listing.provider_land_ags)
    operator = db.session.get(Organisation, listing.operator_id) if listing.operator_id else None
    parts = [
        listing.title,
        listing.ozg_name,
        listing.ozg_id,
        listing.leika_keys,
        listing.description,
        listing.xoev_standard,
        listing.payment,
        themenfeld.name if themenfeld else "",
        land.name if land else "",
        operator.name if operator else "",
        operator.short_name if operator else "",
    ]
    listing.search_document = "\n".join(p for p in parts if p)
    listing.search_stems = " " + " ".join(stems_of(listing.search_document)) + " "


# --- notifications ------------------------------------------------------------------------


def _notify(users, message: str, link: str | None) -> None:
    notifications.notify(users, message, link)


def _fitko_users():
    return db.session.scalars(
        select(User).join(User.organisation).where(User.role == Role.FITKO, User.active.is_(True))
    )


def _provider_editors(listing: Listing):
    return db.session.scalars(
        select(User)
        .join(User.organisation)
        .where(
            Organisation.land_ags == listing.provider_land_ags,
            User.role == Role.EDITOR,
            User.active.is_(True),
        )
    )


# --- loading ----------------------------------------------------------------------------------


def get_listing(actor, listing_id: int) -> Listing:
    """Any listing the actor may see; others are NotFound (no hint that they exist)."""
    listing = db.session.get(Listing, listing_id) if is_id(listing_id) else None
    if listing is None or not can(actor, Permission.VIEW_LISTING, listing):
        raise NotFound()
    return listing


def pending_revision(listing: Listing) -> ListingRevision | None:
    return db.session.scalar(
        select(ListingRevision).where(
            ListingRevision.listing_id == listing.id,
            ListingRevision.status == RevisionStatus.PENDING,
        )
    )


def _check_version(listing: Listing, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != listing.lock_version:
        raise PreconditionFailed(
            _(
                "Die Leistung wurde inzwischen geändert. Bitte laden Sie sie neu und wiederholen Sie Ihre Änderung."
            )
        )


def _concurrent_change() -> Conflict:
    db.session.rollback()
    return Conflict(
        _("Jemand anderes hat die Leistung gleichzeitig geändert. Bitte laden Sie sie neu.")
    )


def _commit() -> None:
    try:
        db.session.commit()
    except StaleDataError:
        raise _concurrent_change() from None


def _conflict_on_stale(use_case):
    """A concurrent writer makes our versioned UPDATE match no row (StaleDataError). That
    surfaces at the first flush, which is usually ``audit.record``'s, not the commit: map it
    to 409 wherever it happens."""

    @functools.wraps(use_case)
    def run(*args, **kwargs):
        try:
            return use_case(*args, **kwargs)
        except StaleDataError:
            raise _concurrent_change() from None

    return run


# --- use cases -------------------------------------------------------------------------------


def create_listing(actor, data: dict[str, Any]) -> Listing:
    """Permission CREATE_LISTING (an editor, for its own Land). Raises Invalid."""
    require(actor, Permission.CREATE_LISTING)
    values = validate_content(data)
    listing = Listing(
        provider_land_ags=actor.land_ags, created_by_id=actor.id, status=ListingStatus.DRAFT
    )
    _apply(listing, values)
    db.session.add(listing)
    db.session.flush()
    audit.record(
        actor,
        "listing.created",
        "listing",
        listing.id,
        land_ags=listing.provider_land_ags,
        details={"title": listing.title},
    )
    _commit()
    return listing


@_conflict_on_stale
def update_listing(
    actor, listing_id: int, data: dict[str, Any], expected_version: int | None = None
):
    """Permission EDIT_LISTING. A draft changes at once; a published listing gets a pending
    revision (returned) for FITKO. Raises NotFound, Forbidden, Invalid, Conflict, PreconditionFailed."""
    listing = get_listing(actor, listing_id)
    require(actor, Permission.EDIT_LISTING, listing, hide=True)
    _check_version(listing, expected_version)
    values = validate_content(data, current_operator_id=listing.operator_id)
    if listing.status == ListingStatus.DRAFT:
        changes = diff(content_of(listing), values)
        _apply(listing, values)
        listing.updated_at = utcnow()
        audit.record(
            actor,
            "listing.updated",
            "listing",
            listing.id,
            land_ags=listing.provider_land_ags,
            details={"fields": [name for name, _old, _new in changes]},
        )
        _commit()
        return listing
    if listing.status != ListingStatus.PUBLISHED:
        raise Conflict(
            _("Eine eingereichte oder zurückgezogene Leistung kann nicht bearbeitet werden.")
        )
    changes = diff(content_of(listing), values)
    if not changes:
        raise Invalid(detail=_("Sie haben nichts geändert."))
    revision = pending_revision(listing)
    if revision is None:
        revision = ListingRevision(
            listing_id=listing.id, created_by_id=actor.id, content=_snapshot(values)
        )
        db.session.add(revision)
    else:
        revision.content = _snapshot(values)
        revision.created_by_id = actor.id
        revision.created_at = utcnow()
    listing.updated_at = utcnow()  # bumps lock_version: a second editor's stale form is refused
    db.session.flush()
    audit.record(
        actor,
        "listing.revision_proposed",
        "listing",
        listing.id,
        land_ags=listing.provider_land_ags,
        details={"revision": revision.id, "fields": [name for name, _old, _new in changes]},
    )
    _notify(
        _fitko_users(),
        _("Änderung zur Prüfung: %(title)s", title=listing.title),
        f"/pruefung#revision-{revision.id}",
    )
    _commit()
    return revision


def _transition(actor, listing: Listing, action: str) -> ListingStatus:
    target = TRANSITIONS.get((listing.status, action))
    if target is None:
        raise Conflict(
            _(
                "Dieser Schritt ist im Status „%(status)s“ nicht möglich.",
                status=status_label(listing.status),
            )
        )
    listing.status = target
    listing.updated_at = utcnow()
    return target


@_conflict_on_stale
def submit_listing(actor, listing_id: int, expected_version: int | None = None) -> Listing:
    """Permission SUBMIT_LISTING (provider editor): draft -> submitted. Raises Conflict (409)."""
    listing = get_listing(actor, listing_id)
    require(actor, Permission.SUBMIT_LISTING, listing, hide=True)
    _check_version(listing, expected_version)
    _transition(actor, listing, "submit")
    listing.submitted_at = utcnow()
    listing.rejection_reason = None
    audit.record(
        actor, "listing.submitted", "listing", listing.id, land_ags=listing.provider_land_ags
    )
    _notify(
        _fitko_users(),
        _("Neue Leistung zur Prüfung: %(title)s", title=listing.title),
        f"/leistungen/{listing.id}",
    )
    _commit()
    return listing


@_conflict_on_stale
def publish_listing(actor, listing_id: int, expected_version: int | None = None) -> Listing:
    """Permission REVIEW_LISTINGS (FITKO only): submitted -> published, version 1 (or next)."""
    listing = get_listing(actor, listing_id)
    require(actor, Permission.REVIEW_LISTINGS, listing)
    _check_version(listing, expected_version)
    _transition(actor, listing, "publish")
    now = utcnow()
    listing.published_at = listing.published_at or now
    listing.published_version += 1
    db.session.add(
        ListingVersion(
            listing_id=listing.id,
            number=listing.published_version,
            content=_snapshot(content_of(listing)),
            published_at=now,
            published_by_id=actor.id,
        )
    )
    audit.record(
        actor,
        "listing.published",
        "listing",
        listing.id,
        land_ags=listing.provider_land_ags,
        details={"version": listing.published_version},
    )
    _notify(
        _provider_editors(listing),
        _("Veröffentlicht: %(title)s ist jetzt im Katalog.", title=listing.title),
        f"/leistungen/{listing.id}",
    )
    from fitstore.services import follows  # here: follows -> transparency -> reuses -> listings

    follows.notify_followers(
        listing,
        listing.provider_land_ags,
        _(
            "Neue EfA-Leistung von %(land)s: %(title)s",
            land=listing.provider_land.name,
            title=listing.title,
        ),
        f"/leistungen/{listing.id}",
        exclude_user_id=actor.id,
    )
    _commit()
    return listing


@_conflict_on_stale
def reject_listing(
    actor, listing_id: int, reason: str, expected_version: int | None = None
) -> Listing:
    """Permission REVIEW_LISTINGS: submitted -> draft with a required reason."""
    listing = get_listing(actor, listing_id)
    require(actor, Permission.REVIEW_LISTINGS, listing)
    _check_version(listing, expected_version)
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not 5 <= len(reason) <= 2000:
        raise Invalid(
            errors={"reason": [_("Bitte begründen Sie die Rückgabe (5 bis 2000 Zeichen).")]}
        )
    _transition(actor, listing, "reject")
    listing.rejection_reason = reason
    audit.record(
        actor,
        "listing.rejected",
        "listing",
        listing.id,
        land_ags=listing.provider_land_ags,
        details={"reason": reason},
    )
    _notify(
        _provider_editors(listing),
        _("Zurückgegeben: %(title)s – %(reason)s", title=listing.title, reason=reason),
        f"/leistungen/{listing.id}",
    )
    _commit()
    return listing


@_conflict_on_stale
def withdraw_listing(actor, listing_id: int, expected_version: int | None = None) -> Listing:
    """Permission WITHDRAW_LISTING (provider editor or FITKO): published -> withdrawn."""
    listing = get_listing(actor, listing_id)
    require(actor, Permission.WITHDRAW_LISTING, listing, hide=True)
    _check_version(listing, expected_version)
    _transition(actor, listing, "withdraw")
    listing.withdrawn_at = utcnow()
    revision = pending_revision(listing)
    if revision is not None:
        revision.status = RevisionStatus.REJECTED
        revision.decided_at = utcnow()
        revision.reason = _("Leistung zurückgezogen")
    audit.record(
        actor, "listing.withdrawn", "listing", listing.id, land_ags=listing.provider_land_ags
    )
    others = _provider_editors(listing) if actor.role == Role.FITKO else _fitko_users()
    _notify(others, _("Zurückgezogen: %(title)s", title=listing.title), f"/leistungen/{listing.id}")
    _commit()
    return listing


@_conflict_on_stale
def accept_revision(actor, listing_id: int, expected_version: int | None = None) -> Listing:
    """Permission REVIEW_LISTINGS: the pending revision becomes the next published version.

    ``expected_version`` is the listing version the reviewer saw: a revision that
    changed after the review was opened must not be accepted unseen (412)."""
    listing = get_listing(actor, listing_id)
    require(actor, Permission.REVIEW_LISTINGS, listing)
    revision = pending_revision(listing)
    if revision is None or listing.status != ListingStatus.PUBLISHED:
        raise Conflict(_("Es liegt keine Änderung zur Prüfung vor."))
    _check_version(listing, expected_version)
    values = json.loads(revision.content)
    changes = diff(content_of(listing), values)
    _apply(listing, values)
    now = utcnow()
    listing.updated_at = now
    listing.published_version += 1
    revision.status = RevisionStatus.ACCEPTED
    revision.decided_by_id = actor.id
    revision.decided_at = now
    db.session.add(
        ListingVersion(
            listing_id=listing.id,
            number=listing.published_version,
            content=_snapshot(values),
            published_at=now,
            published_by_id=actor.id,
        )
    )
    audit.record(
        actor,
        "listing.revision_accepted",
        "listing",
        listing.id,
        land_ags=listing.provider_land_ags,
        details={
            "revision": revision.id,
            "version": listing.published_version,
            "fields": [c[0] for c in changes],
        },
    )
    _notify(
        _provider_editors(listing),
        _(
            "Änderung veröffentlicht: %(title)s (Version %(version)d)",
            title=listing.title,
            version=listing.published_version,
        ),
        f"/leistungen/{listing.id}/versionen",
    )
    from fitstore.services import follows  # here: follows -> transparency -> reuses -> listings

    follows.notify_followers(
        listing,
        listing.provider_land_ags,
        _(
            "Neue Version: %(title)s (Version %(version)d)",
            title=listing.title,
            version=listing.published_version,
        ),
        f"/leistungen/{listing.id}",
        exclude_user_id=actor.id,
    )
    _commit()
    return listing


@_conflict_on_stale
def reject_revision(
    actor, listing_id: int, reason: str, expected_version: int | None = None
) -> Listing:
    """Permission REVIEW_LISTINGS: the pending revision is refused with a reason; text unchanged.
    Raises PreconditionFailed when the revision changed since the reviewer saw it."""
    listing = get_listing(actor, listing_id)
    require(actor, Permission.REVIEW_LISTINGS, listing)
    revision = pending_revision(listing)
    if revision is None:
        raise Conflict(_("Es liegt keine Änderung zur Prüfung vor."))
    _check_version(listing, expected_version)
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not 5 <= len(reason) <= 2000:
        raise Invalid(
            errors={"reason": [_("Bitte begründen Sie die Ablehnung (5 bis 2000 Zeichen).")]}
        )
    revision.status = RevisionStatus.REJECTED
    revision.decided_by_id = actor.id
    revision.decided_at = utcnow()
    revision.reason = reason
    listing.updated_at = utcnow()
    audit.record(
        actor,
        "listing.revision_rejected",
        "listing",
        listing.id,
        land_ags=listing.provider_land_ags,
        details={"revision": revision.id, "reason": reason},
    )
    _notify(
        _provider_editors(listing),
        _("Änderung abgelehnt: %(title)s – %(reason)s", title=listing.title, reason=reason),
        f"/leistungen/{listing.id}",
    )
    _commit()
    return listing


@_conflict_on_stale
def discard_revision(actor, listing_id: int, expected_version: int | None = None) -> Listing:
    """Permission EDIT_LISTING (provider editor): take back the pending revision before FITKO
    decides; the published text stays. Raises Conflict when nothing is pending."""
    listing = get_listing(actor, listing_id)
    require(actor, Permission.EDIT_LISTING, listing, hide=True)
    revision = pending_revision(listing)
    if revision is None:
        raise Conflict(_("Es liegt keine Änderung zur Prüfung vor."))
    _check_version(listing, expected_version)
    revision.status = RevisionStatus.DISCARDED
    revision.decided_by_id = actor.id
    revision.decided_at = utcnow()
    listing.updated_at = utcnow()  # FITKO's open decision form is stale now
    audit.record(
        actor,
        "listing.revision_discarded",
        "listing",
        listing.id,
        land_ags=listing.provider_land_ags,
        details={"revision": revision.id},
    )
    _notify(
        _fitko_users(),
        _("Änderung zurückgenommen: %(title)s", title=listing.title),
        f"/leistungen/{listing.id}",
    )
    _commit()
    return listing


# --- documents ------------------------------------------------------------------------------


@_conflict_on_stale
def add_document(
    actor, listing_id: int, *, title: str, filename: str, content: bytes
) -> ListingDocument:
    """Permission EDIT_LISTING. PDF only (checked by content), at most 10 MB.

    Not while FITKO reviews a submission (it must publish what it saw) nor after
    withdrawal. A document added to a published listing bumps its version and is
    announced to FITKO."""
    listing = get_listing(actor, listing_id)
    require(actor, Permission.EDIT_LISTING, listing, hide=True)
    if listing.status == ListingStatus.WITHDRAWN:
        raise Conflict(
            _("Zu einer zurückgezogenen Leistung können keine Dokumente hinzugefügt werden.")
        )
    if listing.status == ListingStatus.SUBMITTED:
        raise Conflict(
            _("Während der Prüfung durch die FITKO können keine Dokumente hinzugefügt werden.")
        )
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not 3 <= len(title) <= 200:
        errors["title"] = [_("Bitte geben Sie einen Titel mit 3 bis 200 Zeichen an.")]
    if len(content) > MAX_DOCUMENT_BYTES:
        errors["file"] = [_("Die Datei ist größer als 10 MB.")]
    elif not content.startswith(b"%PDF-") or b"%%EOF" not in content[-2048:]:
        errors["file"] = [_("Nur PDF-Dateien sind erlaubt; diese Datei ist kein PDF.")]
    if errors:
        raise Invalid(errors=errors)
    safe_name = (
        re.sub(r"[^A-Za-z0-9._-]+", "_", (filename or "dokument").rsplit("/", 1)[-1])[:150]
        or "dokument"
    )
    if not safe_name.lower().endswith(".pdf"):
        safe_name += ".pdf"
    document = ListingDocument(
        listing_id=listing.id,
        title=title,
        filename=safe_name,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_by_id=actor.id,
    )
    db.session.add(document)
    db.session.flush()
    audit.record(
        actor,
        "listing.document_added",
        "listing",
        listing.id,
        land_ags=listing.provider_land_ags,
        details={"document": document.id, "sha256": document.sha256, "title": title},
    )
    listing.updated_at = utcnow()  # a new version: a reviewer's open decision form is stale
    if listing.status == ListingStatus.PUBLISHED:
        _notify(
            _fitko_users(),
            _("Neues Dokument zu %(title)s: %(document)s", title=listing.title, document=title),
            f"/leistungen/{listing.id}",
        )
        from fitstore.services import follows  # here: follows -> transparency -> reuses

        follows.notify_followers(
            listing,
            listing.provider_land_ags,
            _("Neues Dokument zu %(title)s: %(document)s", title=listing.title, document=title),
            f"/leistungen/{listing.id}",
            exclude_user_id=actor.id,
        )
    _commit()
    return document


def get_document(actor, listing_id: int, document_id: int) -> ListingDocument:
    listing = get_listing(actor, listing_id)
    document = db.session.get(ListingDocument, document_id)
    if document is None or document.listing_id != listing.id:
        raise NotFound()
    return document


# --- search and catalogue ----------------------------------------------------------------------------


@dataclass
class CatalogueQuery:
    q: str = ""
    themenfeld: list[int] = field(default_factory=list)
    land: list[str] = field(default_factory=list)
    reifegrad: list[int] = field(default_factory=list)
    transport: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    sort: str = "relevance"  # relevance, title, date
    page: int = 1
    per_page: int = 20


@dataclass
class Facet:
    name: str
    values: list[tuple[Any, str, int, bool]]  # (value, label, count, selected)


CATALOGUE_SORTS = ("relevance", "title", "date")
MAX_FILTER_VALUES = 30  # per repeated parameter; more is not a real filter


@lru_cache(maxsize=1)
def _land_codes() -> dict[str, str]:
    """AGS, ISO code and short code (upper case) of each Land -> its AGS."""
    codes = {}
    for ags, iso, short in shipped_land_codes():
        codes.update({ags: ags, iso.upper(): ags, short.upper(): ags})
    return codes


def parse_catalogue_query(args, actor) -> CatalogueQuery:
    """The catalogue page's parameters (q, themenfeld, land, reifegrad, transport, status,
    sort) from a request's ``args``, for the page, the exports and alike. Values that make no sense are dropped, never an error;
    ``status`` only counts for users who may see unpublished listings."""

    def values(name: str, convert: Callable[[str], Any | None]) -> list:
        result: list = []
        for raw in args.getlist(name)[:MAX_FILTER_VALUES]:
            for part in raw.split(","):
                value = convert(part.strip())
                if value is not None and value not in result:
                    result.append(value)
        return result

    def number(pattern: str) -> Callable[[str], int | None]:
        return lambda raw: int(raw) if re.fullmatch(pattern, raw) else None

    def one_of(allowed: Iterable[str]) -> Callable[[str], str | None]:
        allowed = set(allowed)
        return lambda raw: raw if raw in allowed else None

    q = args.get("q", "")
    q = "".join(ch for ch in q if ch.isprintable())[:200].strip()
    sort = args.get("sort", "relevance")
    internal = can(actor, Permission.VIEW_INTERNAL_LISTINGS)
    return CatalogueQuery(
        q=q,
        themenfeld=values("themenfeld", number(r"[0-9]{1,2}")),
        land=values("land", lambda raw: _land_codes().get(raw.upper())),
        reifegrad=values("reifegrad", number(r"[0-4]")),
        transport=values("transport", one_of(t.value for t in Transport)),
        status=values("status", one_of(s.value for s in ListingStatus)) if internal else [],
        sort=sort if sort in CATALOGUE_SORTS else "relevance",
    )


def _visible(actor, query: Select) -> Select:
    if not can(actor, Permission.VIEW_INTERNAL_LISTINGS):
        return query.where(Listing.status == ListingStatus.PUBLISHED)
    if actor.role in (Role.FITKO, Role.ADMIN):
        return query
    return query.where(
        or_(Listing.status == ListingStatus.PUBLISHED, Listing.provider_land_ags == actor.land_ags)
    )


def _matching_ids(condition) -> list[int]:
    """Ids of the listings whose search document matches (PostgreSQL).

    The planner prices parsing a document (``to_tsvector``) far below its real cost and,
    for common prefixes, parses every listing instead of reading the GIN index: 30 ms
    instead of 0.5 ms with the national data set. Sequential scans are ruled out for this
    one statement only."""
    db.session.execute(text("SET LOCAL enable_seqscan = off"))
    try:
        return list(db.session.scalars(select(Listing.id).where(condition)))
    finally:
        db.session.execute(text("SET LOCAL enable_seqscan TO DEFAULT"))


def _text_filter(query: Select, q: str, dialect: str):
    terms = stems_of(q)
    if not terms:
        return query, literal(0)
    if dialect == "postgresql":
        # Every word, stemmed by PostgreSQL's German configuration, as a prefix: the
        # same semantics as the SQLite branch below. Words are [0-9a-zäöüß]+ only.
        words = words_of(q)
        vector = func.to_tsvector("german", Listing.search_document)
        tsquery = func.to_tsquery("german", " & ".join(f"{word}:*" for word in words))
        # The filter uses the GIN-indexed expression; the rank weights title words higher
        # (A) than the rest of the document (D), like the SQLite branch's title bonus.
        weighted = func.setweight(
            func.to_tsvector("german", Listing.title), literal_column("'A'")
        ).op("||")(vector)
        # Match once, then filter by id: the catalogue asks for the count, the page and
        # four facets of the same matches.
        matching = _matching_ids(vector.op("@@")(tsquery))
        return query.where(Listing.id.in_(matching)), func.ts_rank(weighted, tsquery)
    conditions = []
    rank = literal(0)
    for term in terms:
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        # A stem matches a word that starts with it: "aufenthaltstitel" finds "aufenthaltstitel(s)".
        condition = Listing.search_stems.like(f"% {escaped}%", escape="\\")
        conditions.append(condition)
        title_hit = func.lower(Listing.title).like(f"%{escaped}%", escape="\\")
        rank = rank + case((title_hit, 2), else_=0) + case((condition, 1), else_=0)
    return query.where(and_(*conditions)), rank


def _apply_filters(query: Select, params: CatalogueQuery, skip: str | None = None) -> Select:
    if params.themenfeld and skip != "themenfeld":
        query = query.where(Listing.themenfeld_number.in_(params.themenfeld))
    if params.land and skip != "land":
        query = query.where(Listing.provider_land_ags.in_(params.land))
    if params.reifegrad and skip != "reifegrad":
        query = query.where(Listing.reifegrad.in_(params.reifegrad))
    if params.transport and skip != "transport":
        query = query.where(Listing.transport.in_(params.transport))
    if params.status and skip != "status":
        query = query.where(Listing.status.in_(params.status))
    return query


def _catalogue_base(actor, params: CatalogueQuery):
    dialect = db.session.get_bind().dialect.name
    return _text_filter(_visible(actor, select(Listing)), params.q, dialect)


def catalogue_select(actor, params: CatalogueQuery, base_and_rank=None) -> Select:
    """Every visible listing matching ``params`` in the requested order, without paging
    (the catalogue pages it; the exports read it whole)."""
    base, rank = base_and_rank or _catalogue_base(actor, params)
    query = _apply_filters(base, params)
    if params.sort == "title":
        return query.order_by(Listing.title, Listing.id)
    if params.sort == "date":
        return query.order_by(
            func.coalesce(Listing.published_at, Listing.created_at).desc(), Listing.id
        )
    if params.q:
        return query.order_by(rank.desc(), Listing.title, Listing.id)
    return query.order_by(Listing.title, Listing.id)


def search_catalogue(actor, params: CatalogueQuery) -> tuple[Page, list[Facet]]:
    """Visible listings matching ``params`` plus facet counts; a fixed number of queries."""
    base_and_rank = _catalogue_base(actor, params)
    base = base_and_rank[0]
    page = paginate(catalogue_select(actor, params, base_and_rank), params.page, params.per_page)

    facets = []
    themenfelder = {t.number: t.name for t in db.session.scalars(select(Themenfeld))}
    laender = {land.ags: land.name for land in db.session.scalars(select(Land))}
    specs = [
        (
            "themenfeld",
            Listing.themenfeld_number,
            lambda v: themenfelder.get(v, str(v)),
            params.themenfeld,
        ),
        ("land", Listing.provider_land_ags, lambda v: laender.get(v, v), params.land),
        ("reifegrad", Listing.reifegrad, lambda v: _("Reifegrad %(n)d", n=v), params.reifegrad),
        ("transport", Listing.transport, transport_label, params.transport),
    ]
    if can(actor, Permission.VIEW_INTERNAL_LISTINGS):
        specs.append(("status", Listing.status, status_label, params.status))
    for name, column, label, selected in specs:
        counted = (
            _apply_filters(base, params, skip=name)
            .with_only_columns(column, func.count(Listing.id))
            .group_by(column)
            .order_by(column)
        )
        values = []
        for value, count in db.session.execute(counted):
            raw = value.value if hasattr(value, "value") else value
            values.append((raw, label(value), count, raw in selected))
        facets.append(Facet(name, values))
    return page, facets


def transport_label(value) -> str:
    return {Transport.FIT_CONNECT: "FIT-Connect", Transport.OSCI_DVDV: "OSCI/DVDV"}.get(
        Transport(value), str(value)
    )


_STATUS_LABELS = {
    ListingStatus.DRAFT: _l("Entwurf"),
    ListingStatus.SUBMITTED: _l("Eingereicht"),
    ListingStatus.PUBLISHED: _l("Veröffentlicht"),
    ListingStatus.WITHDRAWN: _l("Zurückgezogen"),
}


def status_label(value) -> str:
    # One translation per call (lists call this for every row), not all four.
    return str(_STATUS_LABELS[ListingStatus(value)])


def review_queue(actor) -> tuple[list[Listing], list[ListingRevision]]:
    """Permission REVIEW_LISTINGS: submitted listings and pending revisions, oldest first."""
    require(actor, Permission.REVIEW_LISTINGS)
    submitted = list(
        db.session.scalars(
            select(Listing)
            .where(Listing.status == ListingStatus.SUBMITTED)
            .order_by(Listing.submitted_at, Listing.id)
        )
    )
    revisions = list(
        db.session.scalars(
            select(ListingRevision)
            .where(ListingRevision.status == RevisionStatus.PENDING)
            .options(
                selectinload(ListingRevision.listing), selectinload(ListingRevision.created_by)
            )
            .order_by(ListingRevision.created_at, ListingRevision.id)
        )
    )
    return submitted, revisions


def versions(actor, listing_id: int) -> tuple[Listing, list[tuple[ListingVersion, list]]]:
    """Each published version with what changed against the one before."""
    listing = get_listing(actor, listing_id)
    result = []
    previous: dict[str, Any] = {}
    for version in db.session.scalars(
        select(ListingVersion)
        .where(ListingVersion.listing_id == listing.id)
        .options(selectinload(ListingVersion.published_by))  # no query per version
        .order_by(ListingVersion.number)
    ):
        content = json.loads(version.content)
        result.append((version, diff(previous, content) if previous else []))
        previous = content
    return listing, result
