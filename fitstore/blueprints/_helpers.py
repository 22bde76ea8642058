from __future__ import annotations

from urllib.parse import urlsplit

from flask import request, session, url_for
from flask_login import login_user
from flask_wtf import FlaskForm

from fitstore.errors import Invalid


def safe_next(target: str | None) -> str | None:
    """Return ``target`` only if it is a path on this site (no scheme, host or '//' tricks)."""
    if not target:
        return None
    target = target.strip()
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def begin_session(user, action: str = "auth.login") -> None:
    """Start a fresh server-side session for ``user`` in a cleared cookie session.

    Nothing from before survives (session fixation) except the language choice.
    """
    from fitstore.services import auth

    language = session.get("lang")
    session.clear()
    session_id = auth.start_session(user, request.user_agent.string, action)
    login_user(user)
    session["sid"] = session_id
    if language:
        session["lang"] = language


def apply_errors(form: FlaskForm, error: Invalid) -> list[str]:
    """Attach a service's field errors to the form's fields; return those without a field."""
    unplaced: list[str] = []
    for field_name, messages in error.errors.items():
        field = getattr(form, field_name, None)
        if field is None:
            unplaced.extend(messages)
        else:
            field.errors = list(field.errors) + list(messages)
    if error.detail:
        unplaced.append(error.detail)
    return unplaced


def page_url(
    endpoint: str, number: int, keep=(), param: str = "page", anchor: str | None = None
) -> str:
    """The URL of page ``number`` of the current list, carrying over only the ``keep`` parameters.

    ``param`` names the page parameter (a page with several lists pages each under its
    own name and keeps the others' in ``keep``); ``anchor`` leads back to the list.
    Spreading ``request.args`` into ``url_for`` would let a visitor inject its own
    keyword arguments (``endpoint``, ``_external``, the route's own parameters).
    """
    params = {
        name: request.args.getlist(name)
        for name in keep
        if name != param and request.args.getlist(name)
    }
    return url_for(
        endpoint, **(request.view_args or {}), **params, **{param: number}, _anchor=anchor
    )


def page_arg(name: str = "page") -> int:
    value = request.args.get(name, "1")
    # isascii(): "²".isdigit() is true, but int("²") fails.
    return int(value) if value.isascii() and value.isdigit() and 0 < int(value) < 100_000 else 1
