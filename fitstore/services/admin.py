"""Organisations and users: created and deactivated by admins, listed per tenant."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from fitstore.errors import Invalid, NotFound
from fitstore.extensions import db
from fitstore.models import Land, Organisation, OrganisationKind, Role, User
from fitstore.models.base import is_id
from fitstore.models.organisation import LAND_BOUND_KINDS
from fitstore.permissions import Permission, can, require
from fitstore.services import audit
from fitstore.services.auth import (
    hash_password,
    is_valid_email,
    normalise_email,
    revoke_all_sessions,
    revoke_all_tokens,
    validate_password,
)
from fitstore.services.pagination import Page, paginate


def _organisation_query() -> Select:
    return (
        select(Organisation)
        .options(joinedload(Organisation.land))
        .order_by(Organisation.kind, Organisation.name)
    )


def list_organisations(actor, page: int = 1, per_page: int = 50) -> Page:
    """Permission VIEW_ORGANISATIONS."""
    require(actor, Permission.VIEW_ORGANISATIONS)
    return paginate(_organisation_query(), page, per_page)


def all_organisations(actor) -> list[Organisation]:
    require(actor, Permission.VIEW_ORGANISATIONS)
    return list(db.session.scalars(_organisation_query()))


def create_organisation(
    actor, *, kind: str, name: str, short_name: str, land_ags: str | None
) -> Organisation:
    """Permission MANAGE_ORGANISATIONS. Raises Invalid for a duplicate name or a Land that
    does not fit the kind."""
    require(actor, Permission.MANAGE_ORGANISATIONS)
    errors: dict[str, list[str]] = {}
    try:
        kind_value = OrganisationKind(kind)
    except ValueError:
        errors["kind"] = [_("Unbekannte Art der Organisation.")]
        kind_value = None
    name = (name or "").strip()
    short_name = (short_name or "").strip()
    land_ags = (land_ags or "").strip() or None
    if not 2 <= len(name) <= 200:
        errors["name"] = [_("Bitte geben Sie einen Namen mit 2 bis 200 Zeichen an.")]
    if not 2 <= len(short_name) <= 40:
        errors["short_name"] = [_("Bitte geben Sie ein Kürzel mit 2 bis 40 Zeichen an.")]
    if kind_value in LAND_BOUND_KINDS:
        if land_ags is None or db.session.get(Land, land_ags) is None:
            errors["land_ags"] = [_("Diese Art von Organisation gehört zu genau einem Land.")]
    elif kind_value is not None and land_ags is not None:
        errors["land_ags"] = [_("FITKO und Bund gehören zu keinem Land.")]
    if "name" not in errors and db.session.scalar(
        select(Organisation.id).where(Organisation.name == name)
    ):
        errors["name"] = [_("Eine Organisation mit diesem Namen gibt es bereits.")]
    if "short_name" not in errors and db.session.scalar(
        select(Organisation.id).where(Organisation.short_name == short_name)
    ):
        errors["short_name"] = [_("Dieses Kürzel ist bereits vergeben.")]
    if errors:
        raise Invalid(errors=errors)
    organisation = Organisation(
        kind=kind_value, name=name, short_name=short_name, land_ags=land_ags
    )
    db.session.add(organisation)
    db.session.flush()
    audit.record(
        actor,
        "organisation.created",
        "organisation",
        organisation.id,
        land_ags=land_ags,
        details={"name": name, "kind": kind_value.value},
    )
    db.session.commit()
    return organisation


def set_organisation_active(actor, organisation_id: int, active: bool) -> Organisation:
    """Permission MANAGE_ORGANISATIONS. Deactivating revokes the sessions of all its users."""
    require(actor, Permission.MANAGE_ORGANISATIONS)
    organisation = db.session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound()
    if organisation.active == active:
        return organisation
    if not active and actor.organisation_id == organisation.id:
        raise Invalid(detail=_("Sie können Ihre eigene Organisation nicht deaktivieren."))
    organisation.active = active
    if not active:
        for user in organisation.users:
            revoke_all_sessions(user)
            revoke_all_tokens(user)
    audit.record(
        actor,
        "organisation.activated" if active else "organisation.deactivated",
        "organisation",
        organisation.id,
        land_ags=organisation.land_ags,
    )
    db.session.commit()
    return organisation


def _user_query(actor, q: str | None = None, organisation_id: int | None = None) -> Select:
    query = select(User).join(User.organisation).order_by(Organisation.name, User.email)
    if not can(actor, Permission.VIEW_ORGANISATIONS):
        # A Land user sees the users of its own Land only; others see nobody.
        query = query.where(
            Organisation.land_ags == actor.land_ags, Organisation.land_ags.is_not(None)
        )
    if q:
        escaped = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            func.lower(User.email).like(pattern, escape="\\")
            | func.lower(User.name).like(pattern, escape="\\")
        )
    if organisation_id:
        query = query.where(User.organisation_id == organisation_id)
    return query


def list_users(
    actor, q: str | None = None, page: int = 1, per_page: int = 50, organisation_id=None
) -> Page:
    """Permission VIEW_USERS, scoped to the actor's Land unless admin or FITKO."""
    require(actor, Permission.VIEW_USERS)
    return paginate(_user_query(actor, q, organisation_id), page, per_page)


def get_user(actor, user_id: int) -> User:
    """Permission VIEW_USER; another Land's user is NotFound."""
    require(actor, Permission.VIEW_USERS)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    require(actor, Permission.VIEW_USER, user, hide=True)
    return user


def create_user(
    actor, *, email: str, name: str, role: str, organisation_id: int, password: str
) -> User:
    """Permission MANAGE_USERS. Raises Invalid (duplicate e-mail, role not fitting the organisation)."""
    require(actor, Permission.MANAGE_USERS)
    errors: dict[str, list[str]] = {}
    email = normalise_email(email)
    name = (name or "").strip()
    if len(email) > 254 or not is_valid_email(email):
        errors["email"] = [_("Bitte geben Sie eine gültige E-Mail-Adresse an.")]
    elif db.session.scalar(select(User.id).where(User.email == email)):
        errors["email"] = [_("Diese E-Mail-Adresse ist bereits registriert.")]
    if not 2 <= len(name) <= 120:
        errors["name"] = [_("Bitte geben Sie einen Namen mit 2 bis 120 Zeichen an.")]
    organisation = db.session.get(Organisation, organisation_id) if is_id(organisation_id) else None
    if organisation is None or not organisation.active:
        errors["organisation_id"] = [_("Bitte wählen Sie eine aktive Organisation.")]
    try:
        role_value = Role(role)
    except ValueError:
        errors["role"] = [_("Unbekannte Rolle.")]
        role_value = None
    if (
        role_value == Role.FITKO
        and organisation is not None
        and organisation.kind != OrganisationKind.FITKO
    ):
        errors["role"] = [_("Die Rolle FITKO ist Beschäftigten der FITKO vorbehalten.")]
    if (
        role_value == Role.ADMIN
        and organisation is not None
        and organisation.kind != OrganisationKind.FITKO
    ):
        # An admin sees every Land's data: only the operator of the store administers it.
        errors["role"] = [_("Die Administration ist Beschäftigten der FITKO vorbehalten.")]
    try:
        validate_password(password)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors=errors)
    user = User(
        email=email,
        name=name,
        role=role_value,
        organisation=organisation,
        password_hash=hash_password(password),
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        actor,
        "user.created",
        "user",
        user.id,
        land_ags=organisation.land_ags,
        details={"email": email, "role": role_value.value, "organisation_id": organisation.id},
    )
    db.session.commit()
    return user


def set_user_active(actor, user_id: int, active: bool) -> User:
    """Permission MANAGE_USERS. Deactivation revokes the user's sessions at once."""
    require(actor, Permission.MANAGE_USERS)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    if not active and user.id == actor.id:
        raise Invalid(detail=_("Sie können sich nicht selbst deaktivieren."))
    if user.active == active:
        return user
    user.active = active
    if not active:
        revoke_all_sessions(user)
        revoke_all_tokens(user)
    audit.record(
        actor,
        "user.activated" if active else "user.deactivated",
        "user",
        user.id,
        land_ags=user.organisation.land_ags,
    )
    db.session.commit()
    return user
