"""Login, server-side sessions, passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from werkzeug.security import check_password_hash, generate_password_hash

from fitstore.errors import Invalid, NotFound
from fitstore.extensions import db
from fitstore.models import ApiToken, User, UserSession
from fitstore.models.base import utcnow
from fitstore.permissions import Permission, require
from fitstore.services import audit

TOKEN_PREFIX = "fst_"  # noqa: S105  (a public marker, not a secret)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def is_valid_email(email: str) -> bool:
    """Syntax only: ministries use internal and special-use domains (e.g. ``.test``)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return False
    return True


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def validate_password(password: str, field: str = "password") -> None:
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    maximum = current_app.config["PASSWORD_MAX_LENGTH"]
    if not minimum <= len(password or "") <= maximum:
        raise Invalid(
            errors={
                field: [
                    _(
                        "Das Passwort muss %(min)d bis %(max)d Zeichen lang sein.",
                        min=minimum,
                        max=maximum,
                    )
                ]
            }
        )


_dummy_hash: str | None = None


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None.

    Unknown users cost the same hashing work as wrong passwords, so timing does
    not reveal which e-mail addresses exist.
    """
    global _dummy_hash
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        if _dummy_hash is None:
            _dummy_hash = hash_password(secrets.token_hex(16))
        check_password_hash(_dummy_hash, password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    if not user.is_active:
        return None
    return user


def start_session(user: User, user_agent: str | None = None, action: str = "auth.login") -> str:
    """Create the server-side session record (after a login, or renewed after a password
    change: ``action``); returns the cookie id."""
    session_id = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            id_hash=_sha256(session_id), user_id=user.id, user_agent=(user_agent or "")[:200]
        )
    )
    audit.record(user, action, "user", user.id, land_ags=user.land_ags)
    db.session.commit()
    return session_id


def load_session_user(user_id: str, session_id: str | None) -> User | None:
    """The user of a live session, or None if it was revoked, expired or never existed."""
    if not session_id or not user_id or not str(user_id).isdigit():
        return None
    record = db.session.get(UserSession, _sha256(session_id))
    if record is None or record.revoked_at is not None or record.user_id != int(user_id):
        return None
    now = utcnow()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    # Flask converts a lifetime given in seconds (e.g. from the environment) to a timedelta.
    lifetime = current_app.permanent_session_lifetime
    if now - record.last_seen_at > idle or now - record.created_at > lifetime:
        return None
    user = record.user
    if not user.is_active:
        return None
    # Touch at most once a minute: one UPDATE per page would be wasted work.
    if now - record.last_seen_at > timedelta(minutes=1):
        record.last_seen_at = now
        db.session.commit()
    return user


def end_session(user: User, session_id: str | None) -> None:
    if session_id:
        record = db.session.get(UserSession, _sha256(session_id))
        if record is not None and record.revoked_at is None:
            record.revoked_at = utcnow()
    audit.record(user, "auth.logout", "user", user.id, land_ags=user.land_ags)
    db.session.commit()


def revoke_all_sessions(user: User) -> None:
    """Revoke every session of ``user`` in the current transaction."""
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all_tokens(user: User) -> None:
    """Revoke every API token of ``user`` in the current transaction."""
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def change_password(actor: User, current_password: str, new_password: str) -> None:
    """Permission OWN_ACCOUNT. Raises Invalid. Revokes every session and API token of the
    user: a token made with a stolen password must not outlive the password."""
    require(actor, Permission.OWN_ACCOUNT)
    if not check_password_hash(actor.password_hash, current_password or ""):
        raise Invalid(errors={"current_password": [_("Das aktuelle Passwort ist falsch.")]})
    validate_password(new_password, "new_password")
    actor.password_hash = hash_password(new_password)
    actor.password_changed_at = utcnow()
    revoke_all_sessions(actor)
    revoke_all_tokens(actor)
    audit.record(actor, "user.password_changed", "user", actor.id, land_ags=actor.land_ags)
    db.session.commit()


# --- API tokens ------------------------------------------------------------


def create_token(actor: User, name: str) -> tuple[ApiToken, str]:
    """Permission OWN_ACCOUNT. Returns the token row and the secret, which is never stored."""
    require(actor, Permission.OWN_ACCOUNT)
    name = (name or "").strip()
    if not 1 <= len(name) <= 80:
        raise Invalid(errors={"name": [_("Bitte geben Sie einen Namen mit 1 bis 80 Zeichen an.")]})
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=actor.id, name=name, token_hash=_sha256(secret), prefix=secret[:10])
    db.session.add(token)
    db.session.flush()
    audit.record(
        actor,
        "token.created",
        "api_token",
        token.id,
        land_ags=actor.land_ags,
        details={"name": name},
    )
    db.session.commit()
    return token, secret


def list_tokens(actor: User) -> list[ApiToken]:
    require(actor, Permission.OWN_ACCOUNT)
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == actor.id)
            .order_by(ApiToken.created_at.desc())
        )
    )


def revoke_token(actor: User, token_id: int) -> None:
    """Permission OWN_ACCOUNT; another user's token is NotFound."""
    require(actor, Permission.OWN_ACCOUNT)
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != actor.id:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(actor, "token.revoked", "api_token", token.id, land_ags=actor.land_ags)
        db.session.commit()


def user_for_token(secret: str) -> User | None:
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _sha256(secret)))
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        token.last_used_at = now
        db.session.commit()
    return token.user
