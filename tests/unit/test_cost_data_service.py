"""The cost data service, called directly: key data reading, the import by the command
line actor, who takes part in a listing's cost sharing (and so reports usage) at each
stage of a reuse, and the database's own guard against negative usage."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from fitstore.errors import Forbidden, Invalid
from fitstore.extensions import db
from fitstore.models import Reuse, UsageFigure, UsageSource
from fitstore.models.base import utcnow
from fitstore.permissions import usage_lands
from fitstore.services import cost_data, listings, reuses
from fitstore.services.system import SystemActor
from tests.factories import listing_content, user_by_email

YEAR = utcnow().year


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def test_shipped_key_data_is_readable_by_key_and_year(ctx):
    years = cost_data.key_years()
    assert {2015, 2017} <= set(years["koenigstein"])
    assert 2018 in years["population"]
    values = cost_data.key_values("koenigstein", 2017)
    assert len(values) == 16 and sum(values.values()) == Decimal(100)
    assert values["12"] == Decimal("3.03655")
    assert cost_data.key_values("koenigstein", 1999) == {}


def test_the_command_line_actor_may_import_key_data(ctx):
    rows = "\n".join(f"{ags};6,25" for ags in cost_data.key_values("koenigstein", 2017))
    values = cost_data.import_key_csv(
        SystemActor(), "koenigstein", 2030, f"land;value\n{rows}\n".encode()
    )
    assert set(values.values()) == {Decimal("6.25")}
    assert cost_data.key_values("koenigstein", 2030)["16"] == Decimal("6.25")
    assert 2030 in cost_data.key_years()["koenigstein"]


def test_an_editor_may_not_import_key_data(ctx):
    with pytest.raises(Forbidden):
        cost_data.import_key_csv(
            user_by_email("editor-bb@demo.test"), "population", 2030, b"land;value\n"
        )


def _listing():
    bb, fitko = user_by_email("editor-bb@demo.test"), user_by_email("fitko-1@demo.test")
    listing = listings.create_listing(bb, listing_content(title="Kostenprobe Kranich"))
    listings.submit_listing(bb, listing.id)
    listings.publish_listing(fitko, listing.id)
    return listing


def _reuse(listing, adopter: str, last: str) -> Reuse:
    """A reuse of ``adopter`` taken up to ``last`` (ordered, contracted)."""
    bb, editor = user_by_email("editor-bb@demo.test"), user_by_email(f"editor-{adopter}@demo.test")
    reuse = reuses.express_interest(
        editor, listing.id, {"planned_start": "2026-01-01", "expected_usage": 1, "note": ""}
    )
    reuses.transition(bb, reuse.id, "start_coordination")
    reuses.propose_conditions(
        bb,
        reuse.id,
        {
            "condition_model": "annual_fee",
            "annual_fee_cents": 1000,
            "connection_cost_cents": 0,
            "scope": "Betrieb",
            "conditions_start": "2025-01-01",
        },
    )
    reuses.transition(editor, reuse.id, "order")
    if last == "contracted":
        contract_id = db.session.get(Reuse, reuse.id).contract.id
        reuses.check_contract(
            user_by_email("fitko-1@demo.test"),
            contract_id,
            {"eligibility_basis": "traeger", "legal_basis": "§ 108 GWB"},
        )
        reuses.countersign_contract(
            user_by_email("fitko-2@demo.test"), contract_id, {"effective_date": utcnow().date()}
        )
    return db.session.get(Reuse, reuse.id)


def test_who_takes_part_in_the_cost_sharing_at_each_stage(ctx):
    listing = _listing()
    assert usage_lands(listing.id) == set()
    _reuse(listing, "by", "ordered")  # ordered: no contract yet
    held = _reuse(listing, "he", "contracted")
    reuses.transition(user_by_email("editor-he@demo.test"), held.id, "hold", "Haushaltssperre")
    ended = _reuse(listing, "sn", "contracted")
    reuses.transition(user_by_email("editor-sn@demo.test"), ended.id, "terminate")
    _reuse(listing, "nw", "contracted")
    reuses.record_own_use(user_by_email("editor-bb@demo.test"), listing.id)
    # On hold after the contract and terminated still count (usage of the year so far).
    assert usage_lands(listing.id) == {"06", "14", "05", "12"}

    with pytest.raises(Forbidden):
        cost_data.record_usage(user_by_email("editor-by@demo.test"), listing.id, YEAR, 5)
    figure = cost_data.record_usage(user_by_email("editor-sn@demo.test"), listing.id, YEAR, 5)
    assert (figure.land_ags, figure.cases, figure.source) == ("14", 5, UsageSource.ENTRY)


def test_usage_import_accepts_commas_and_refuses_everything_on_one_error(ctx):
    listing = _listing()
    fitko = user_by_email("fitko-1@demo.test")
    imported = cost_data.import_usage_csv(fitko, listing.id, YEAR, b"Land,Cases\n9,120\nHE,0\n")
    assert imported == {"09": 120, "06": 0}
    with pytest.raises(Invalid) as refused:
        cost_data.import_usage_csv(fitko, listing.id, YEAR, b"land,cases\nBY,7\nHE,1.5\n")
    assert refused.value.errors["file"] == [
        "Zeile 3 (Hessen): „1.5“ ist keine ganze Zahl. Bitte nur Ziffern, ohne"
        " Tausendertrennzeichen (z. B. 12500)."
    ]
    overview = cost_data.usage_figures(fitko, listing.id, YEAR)
    assert {row.land.ags: row.figure.cases for row in overview.rows} == {"09": 120, "06": 0}
    assert overview.total == 120 and overview.sees_all and overview.may_import


def test_the_database_refuses_negative_usage(ctx):
    listing = _listing()
    db.session.add(
        UsageFigure(
            listing_id=listing.id, year=YEAR, land_ags="09", cases=-1, source=UsageSource.ENTRY
        )
    )
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
