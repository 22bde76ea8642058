"""Test data shared by the listing tests; listings themselves are made through the services."""

from __future__ import annotations

from sqlalchemy import select

from fitstore.extensions import db
from fitstore.models import User


def listing_content(**overrides) -> dict:
    """A complete, valid set of listing content fields (as the service takes them)."""
    data = {
        "title": "Testleistung",
        "ozg_name": "Testleistung",
        "ozg_id": "98001",
        "leika_keys": ["98000000000001"],
        "themenfeld_number": 4,
        "reifegrad": 3,
        "operator_id": None,
        "description": "Eine Testleistung.",
        "transport": "fit_connect",
        "xoev_standard": "XAusländer",
        "user_account": "servicekonto",
        "payment": "ePayBL",
        "requirements_note": "",
        "checklist": {},
        "annual_cost_cents": 123456,
        "connection_cost_cents": 50000,
        "contact_name": "Erika Muster",
        "contact_email": "erika.muster@example.org",
    }
    data.update(overrides)
    return data


def user_by_email(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))
