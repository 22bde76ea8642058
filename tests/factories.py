"""Test data shared by the listing tests; listings themselves are made through the services."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from unittest import mock

from sqlalchemy import select

from fitstore.extensions import db
from fitstore.models import User
from fitstore.models.base import utcnow


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


# --- cost sharing ----------------------------------------------------------------------

#: The worked example of domain.md ("Cost sharing"): Königsteiner Schlüssel 2017 of the
#: four participants, an annual cost of 1,200,000.00 EUR, and the expected cents.
WORKED_EXAMPLE_YEAR = 2027
WORKED_EXAMPLE_TOTAL_CENTS = 120_000_000
WORKED_EXAMPLE_FULL_YEAR = {
    "12": 14_679_636,
    "06": 35_768_364,
    "03": 45_110_821,
    "14": 24_441_179,
}
WORKED_EXAMPLE_SN_FROM_JULY = {
    "12": 16_344_089,
    "06": 39_823_967,
    "03": 50_225_720,
    "14": 13_606_224,
}


def contracted_reuse(
    listing_id: int, adopter: str, effective: date, *, provider: str = "bb", connection_cents=0
):
    """A reuse of ``listing_id`` by the Land ``adopter`` (short code, e.g. "he") whose
    contract takes effect on ``effective``: interest, conditions by the provider (the
    short code of the listing's Land), order,
    check by fitko-1 and countersignature by fitko-2, all through the services."""

    # A contract cannot take effect before its order: for an effective date in the past
    # (the worked example's 2027 once 2027 has begun) the reuse is ordered a month before.
    ordered_on = effective - timedelta(days=30)
    if ordered_on < utcnow().date():
        ordered_at = datetime.combine(ordered_on, time(9))
        with mock.patch("fitstore.services.reuses.utcnow", lambda: ordered_at):
            return _contracted_reuse(listing_id, adopter, effective, provider, connection_cents)
    return _contracted_reuse(listing_id, adopter, effective, provider, connection_cents)


def _contracted_reuse(listing_id, adopter, effective, provider, connection_cents):
    from fitstore.models import Reuse
    from fitstore.services import reuses

    provider = user_by_email(f"editor-{provider}@demo.test")
    editor = user_by_email(f"editor-{adopter}@demo.test")
    reuse = reuses.express_interest(
        editor, listing_id, {"planned_start": effective.isoformat(), "expected_usage": 1000}
    )
    reuse_id = reuse.id
    reuses.transition(provider, reuse_id, "start_coordination")
    reuses.propose_conditions(
        provider,
        reuse_id,
        {
            "condition_model": "share_rule",
            "share_rule": "Anteil nach dem Kostenschlüssel der Allianz",
            "connection_cost_cents": connection_cents,
            "scope": "Betrieb und Pflege",
            "conditions_start": effective.isoformat(),
        },
    )
    reuses.transition(editor, reuse_id, "order")
    contract_id = db.session.get(Reuse, reuse_id).contract.id
    reuses.check_contract(
        user_by_email("fitko-1@demo.test"),
        contract_id,
        {"eligibility_basis": "traeger", "legal_basis": "§ 108 Abs. 4 GWB"},
    )
    reuses.countersign_contract(
        user_by_email("fitko-2@demo.test"), contract_id, {"effective_date": effective}
    )
    return db.session.get(Reuse, reuse_id)


def worked_example(*, sn_from_july: bool = False, title: str = "Kostenbeispiel Aufenthalt"):
    """The worked example as stored data: a listing of Brandenburg, published, with
    Brandenburg's own use since before the year, contracts of HE, NI and SN in force for
    all of 2027 (SN from 1 July with ``sn_from_july``), the Königsteiner Schlüssel 2017
    loaded as the key data of 2027, the alliance's decision for "koenigstein" /
    "participants" in 2027 (the lead is the only member, so its proposal adopts it), and
    a cost plan of 1,200,000.00 EUR in two items. Returns the listing id."""
    from fitstore.services import alliances, cost_data, cost_sharing, listings, reuses
    from fitstore.services.system import SystemActor

    year = WORKED_EXAMPLE_YEAR
    bb, fitko = user_by_email("editor-bb@demo.test"), user_by_email("fitko-1@demo.test")
    listing = listings.create_listing(bb, listing_content(title=title))
    listing_id = listing.id
    listings.submit_listing(bb, listing_id)
    listings.publish_listing(fitko, listing_id)
    reuses.record_own_use(bb, listing_id, "2025-01-01")
    for adopter in ("he", "ni"):
        contracted_reuse(listing_id, adopter, date(year, 1, 1))
    contracted_reuse(listing_id, "sn", date(year, 7 if sn_from_july else 1, 1))
    if not cost_data.key_values("koenigstein", year):
        rows = "".join(
            f"{ags};{value}\n" for ags, value in cost_data.key_values("koenigstein", 2017).items()
        )
        cost_data.import_key_csv(SystemActor(), "koenigstein", year, f"land;value\n{rows}".encode())
    alliances.propose_cost_key(bb, listing_id, year, "koenigstein", "participants", {}, "")
    cost_sharing.add_plan_item(bb, listing_id, year, "infrastructure", 80_000_000, "Rechenzentrum")
    cost_sharing.add_plan_item(bb, listing_id, year, "development", 40_000_000, "Pflege")
    return listing_id
