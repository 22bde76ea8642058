"""The cost API: the worked example of domain.md to the cent, the statement of a Land,
cost plan items with their audit rows and versions, the what-if simulation (which never
writes), bad input, and who sees what.

Every test builds the worked example (``tests.factories.worked_example``) as stored data:
a listing of Brandenburg, contracts of Hessen, Niedersachsen and Sachsen, the
Königsteiner Schlüssel of 2017 as the key data of 2027, and a plan of 1,200,000.00 EUR.
Runs on SQLite and on PostgreSQL (FITSTORE_TEST_DATABASE_URL).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from fitstore.costs import to_decimal
from fitstore.extensions import db
from fitstore.models import (
    AuditEvent,
    Contract,
    CostKeyDecision,
    CostKeyValue,
    CostPlanItem,
    Reuse,
    UsageFigure,
)
from fitstore.services import audit
from fitstore.services.auth import create_token
from tests.conftest import login
from tests.factories import (
    WORKED_EXAMPLE_FULL_YEAR,
    WORKED_EXAMPLE_SN_FROM_JULY,
    WORKED_EXAMPLE_TOTAL_CENTS,
    WORKED_EXAMPLE_YEAR,
    contracted_reuse,
    user_by_email,
    worked_example,
)

API = "/api/v1"
PROBLEM_JSON = "application/problem+json"
YEAR = WORKED_EXAMPLE_YEAR
BB, HE, NI, SN, MV, SH = "12", "06", "03", "14", "13", "01"
ROLES = {
    "provider": "editor-bb@demo.test",
    "viewer": "viewer-bb@demo.test",
    "participant": "editor-he@demo.test",
    "outsider": "editor-by@demo.test",
    "fitko": "fitko-1@demo.test",
    "admin": "admin@demo.test",
}
# Everything the cost API could write to, directly or through the audit trail.
STORED = (AuditEvent, CostPlanItem, CostKeyDecision, CostKeyValue, UsageFigure, Reuse, Contract)


@pytest.fixture
def auth(api_token):
    return {role: api_token(email) for role, email in ROLES.items()}


@pytest.fixture
def example(app) -> int:
    with app.app_context():
        return worked_example()


def costs(listing_id: int, rest: str = "", year: int = YEAR) -> str:
    return f"{API}/listings/{listing_id}/costs/{year}{rest}"


def statement(land: str, year: int = YEAR) -> str:
    return f"{API}/lands/{land}/statements/{year}"


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json(force=True)
    assert body["status"] == status
    if field is not None:
        assert field in body.get("errors", {}), body
    return body


def counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in STORED
        }


def actions(app) -> list[str]:
    """The actions of the audit rows, oldest first."""
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def plan_item_row(app, item_id: int) -> tuple | None:
    with app.app_context():
        item = db.session.get(CostPlanItem, item_id)
        if item is None:
            return None
        return (item.cost_type.value, item.amount_cents, item.description, item.lock_version)


def line(body: dict, pool: str, payer: str) -> dict:
    lines = next(p["lines"] for p in body["pools"] if p["name"] == pool)
    return next(entry for entry in lines if entry["payer"] == payer)


# --- the worked example ----------------------------------------------------------------------


def test_the_worked_example_full_year_comes_out_to_the_cent(client, auth, example):
    response = client.get(costs(example), headers=auth["fitko"])
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body["cents"] == WORKED_EXAMPLE_FULL_YEAR
    assert sum(body["cents"].values()) == body["total_cents"] == WORKED_EXAMPLE_TOTAL_CENTS
    assert (body["key"], body["funding_model"], body["decided"]) == (
        "koenigstein",
        "participants",
        True,
    )
    assert body["simulated"] is False
    assert body["listing"]["id"] == example
    assert body["listing"]["title"] == "Kostenbeispiel Aufenthalt"
    assert body["listing"]["provider"]["ags"] == BB
    assert sorted(item["amount_cents"] for item in body["items"]) == [40_000_000, 80_000_000]
    [pool] = body["pools"]
    assert pool["name"] == "participants" and pool["cents"] == WORKED_EXAMPLE_TOTAL_CENTS
    # The figures of domain.md: weights, renormalised shares, exact cents, left-over cents.
    he, ni, bb, sn = (line(body, "participants", ags) for ags in (HE, NI, BB, SN))
    assert (he["weight"], bb["weight"], ni["weight"], sn["weight"]) == (
        "7.39885",
        "3.03655",
        "9.33138",
        "5.05577",
    )
    assert [x["share_percent"] for x in (bb, he, ni, sn)] == [
        "12.23303",
        "29.80697",
        "37.59235",
        "20.36765",
    ]
    # Exact cents carry six places; rounded to two they are the figures of domain.md.
    # (Two places are not the exact value: HE's is 35,768,363.846583..., not .85.)
    koenigstein = {BB: "3.03655", HE: "7.39885", NI: "9.33138", SN: "5.05577"}
    weights = {ags: Fraction(value) for ags, value in koenigstein.items()}
    for entry, expected in (
        (bb, "14679636.06"),
        (he, "35768363.85"),
        (ni, "45110820.60"),
        (sn, "24441179.49"),
    ):
        exact = (
            Fraction(WORKED_EXAMPLE_TOTAL_CENTS) * weights[entry["payer"]] / sum(weights.values())
        )
        assert entry["exact_cents"] == f"{to_decimal(exact, 6):f}"
        assert Decimal(entry["exact_cents"]).quantize(Decimal("0.01")) == Decimal(expected)
    assert he["exact_cents"] == "35768363.846583"
    assert sum(x["floor_cents"] for x in (bb, he, ni, sn)) == 119_999_998
    assert {x["payer"] for x in (bb, he, ni, sn) if x["extra_cent"]} == {HE, NI}
    assert (he["floor_cents"], he["cents"]) == (35_768_363, 35_768_364)
    assert {p["land"]: p["months"] for p in body["participants"]} == {
        BB: 12,
        HE: 12,
        NI: 12,
        SN: 12,
    }
    own = next(p for p in body["participants"] if p["land"] == BB)
    assert own["own_use"] is True and own["contracts"] == []
    assert next(p for p in body["participants"] if p["land"] == HE)["contracts"]


def test_a_participant_outside_the_alliance_sees_only_its_own_contract(client, auth, example):
    # Hessen takes part but is no member (the lead is the only one): as in the reuse API,
    # the other Länder's contracts stay with their parties; the provider sees them all.
    def contracts(role):
        body = client.get(costs(example), headers=auth[role]).json
        return {p["land"]: (p["contracts"], p["since"]) for p in body["participants"]}

    seen = contracts("participant")
    assert seen["06"][0] and seen["06"][1] == "2027-01-01"
    assert seen["03"] == ([], None) and seen["14"] == ([], None)
    assert seen["12"][1] == "2025-01-01"  # the provider's own use is no contract
    by_provider = contracts("provider")
    assert all(by_provider[land][0] for land in ("03", "06", "14"))


def test_the_worked_example_with_sachsen_from_july(app, client, auth):
    with app.app_context():
        listing_id = worked_example(sn_from_july=True)
    body = client.get(costs(listing_id), headers=auth["provider"]).json
    assert body["cents"] == WORKED_EXAMPLE_SN_FROM_JULY
    assert sum(body["cents"].values()) == WORKED_EXAMPLE_TOTAL_CENTS
    sachsen = next(p for p in body["participants"] if p["land"] == SN)
    assert sachsen["months"] == 6
    assert sachsen["months_in_force"] == [7, 8, 9, 10, 11, 12]
    assert sachsen["since"] == f"{YEAR}-07-01"
    assert line(body, "participants", SN)["months"] == 6


def test_a_split_that_cannot_be_computed_is_a_problem_naming_the_field(client, auth, example):
    body = assert_problem(client.get(costs(example, year=YEAR + 1), headers=auth["fitko"]), 422)
    assert list(body["errors"]) == ["plan"]
    assert "Kostenplan" in body["detail"] and str(YEAR + 1) in body["detail"]
    assert_problem(client.get(costs(example, year=1999), headers=auth["fitko"]), 422, "year")


# --- the statement of a Land ---------------------------------------------------------------


def test_the_statement_of_hessen_equals_its_cents_in_the_split(client, auth, example):
    split = client.get(costs(example), headers=auth["fitko"]).json
    for who, code in (("participant", HE), ("fitko", "HE"), ("admin", "DE-HE")):
        response = client.get(statement(code), headers=auth[who])
        assert response.status_code == 200, (who, response.get_data(as_text=True))
        body = response.json
        assert body["land"]["ags"] == HE and body["year"] == YEAR
        [entry] = [e for e in body["lines"] if e["listing"]["id"] == example]
        assert entry["cents"] == split["cents"][HE] == 35_768_364
        assert entry["participants_cents"] == entry["cents"] and entry["laender_cents"] == 0
        assert entry["share_percent"] == "29.80697" and entry["months"] == 12
        assert entry["total_cents"] == WORKED_EXAMPLE_TOTAL_CENTS
        assert (entry["key"], entry["funding_model"]) == ("koenigstein", "participants")
        assert body["shared_cents"] == sum(e["cents"] for e in body["lines"])
        assert body["total_cents"] == body["shared_cents"] + body["connection_cents"]


def test_fitko_sees_every_lands_statement_and_a_land_only_its_own(client, auth, example):
    sachsen = client.get(statement("SN"), headers=auth["fitko"])
    assert sachsen.status_code == 200
    [entry] = [e for e in sachsen.json["lines"] if e["listing"]["id"] == example]
    assert entry["cents"] == WORKED_EXAMPLE_FULL_YEAR[SN]
    for code in (HE, "HE", "DE-HE"):
        assert_problem(client.get(statement(code), headers=auth["provider"]), 404)
    assert_problem(client.get(statement(HE), headers=auth["outsider"]), 404)
    assert_problem(client.get(statement("XX"), headers=auth["fitko"]), 404)
    assert_problem(client.get(statement(HE, year=2101), headers=auth["fitko"]), 422, "year")
    assert_problem(client.get(statement(HE)), 401)
    brandenburg = client.get(statement(BB), headers=auth["viewer"])
    assert brandenburg.status_code == 200
    [own] = [e for e in brandenburg.json["lines"] if e["listing"]["id"] == example]
    assert own["cents"] == WORKED_EXAMPLE_FULL_YEAR[BB]


def test_connection_costs_go_to_the_adopter_alone_in_the_year_the_contract_takes_effect(
    app, client, auth, example
):
    with app.app_context():
        contracted_reuse(example, "mv", date(YEAR, 4, 1), connection_cents=250_000)
    body = client.get(statement(MV), headers=auth["fitko"]).json
    [cost] = [c for c in body["connection_costs"] if c["listing"]["id"] == example]
    assert cost["cents"] == 250_000 and cost["effective_date"] == f"{YEAR}-04-01"
    assert cost["contract_number"]
    assert body["connection_cents"] >= 250_000
    assert body["total_cents"] == body["shared_cents"] + body["connection_cents"]
    # Mecklenburg-Vorpommern now takes part from April: the split is shared by five.
    split = client.get(costs(example), headers=auth["fitko"]).json
    assert set(split["cents"]) == {BB, HE, NI, SN, MV}
    assert line(split, "participants", MV)["months"] == 9
    # The one-off cost is not shared, and not billed again the next year.
    assert sum(split["cents"].values()) == WORKED_EXAMPLE_TOTAL_CENTS
    later = client.get(statement(MV, year=YEAR + 1), headers=auth["fitko"]).json
    assert not [c for c in later["connection_costs"] if c["listing"]["id"] == example]
    # Next year's plan cannot be split yet (no decision: the default key "usage", but no
    # usage figures): an open item of the Land, with the reason.
    response = client.post(
        costs(example, "/items", year=YEAR + 1),
        json={"cost_type": "direct", "amount_cents": 500_000},
        headers=auth["provider"],
    )
    assert response.status_code == 201
    later = client.get(statement(MV, year=YEAR + 1), headers=auth["fitko"]).json
    [open_item] = [o for o in later["open_items"] if o["listing"]["id"] == example]
    assert open_item["field"] == "usage" and "Nutzungszahlen" in open_item["problem"]
    assert not [e for e in later["lines"] if e["listing"]["id"] == example]


def test_the_statement_runs_a_constant_number_of_queries(app, client, auth, example, count_queries):
    url = statement(HE)
    client.get(url, headers=auth["fitko"])
    with count_queries() as one:
        assert client.get(url, headers=auth["fitko"]).status_code == 200
    with app.app_context():
        worked_example(title="Zweites Kostenbeispiel")
    with count_queries() as two:
        body = client.get(url, headers=auth["fitko"]).json
    assert len([e for e in body["lines"] if e["cents"] == 35_768_364]) >= 2
    assert two.count == one.count


# --- cost plan items ----------------------------------------------------------------------


def test_the_provider_adds_changes_and_removes_an_item_with_audit_rows(app, client, auth, example):
    before = actions(app)
    response = client.post(
        costs(example, "/items"),
        json={"cost_type": "platform_fees", "amount_cents": 8_500_000, "description": "Hosting"},
        headers=auth["provider"],
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    item = response.json
    assert (item["cost_type"], item["amount_cents"], item["description"]) == (
        "platform_fees",
        8_500_000,
        "Hosting",
    )
    assert response.headers["ETag"] == f'"{item["version"]}"'
    location = response.headers["Location"]
    assert location == item["url"] == costs(example, f"/items/{item['id']}")
    read = client.get(location, headers=auth["participant"])
    assert read.status_code == 200 and read.json == item
    assert read.headers["ETag"] == response.headers["ETag"]
    assert actions(app)[len(before) :] == ["cost_plan.item_added"]
    plan = client.get(costs(example, "/items"), headers=auth["provider"]).json
    assert plan["total_cents"] == WORKED_EXAMPLE_TOTAL_CENTS + 8_500_000
    assert plan["may_edit"] is True and item in plan["items"]
    assert (
        client.get(costs(example), headers=auth["provider"]).json["total_cents"]
        == WORKED_EXAMPLE_TOTAL_CENTS + 8_500_000
    )

    # PATCH changes only what it names; If-Match with the version read.
    etag = response.headers["ETag"]
    changed = client.patch(
        location, json={"amount_cents": 9_000_000}, headers={**auth["provider"], "If-Match": etag}
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert (
        changed.json["amount_cents"],
        changed.json["cost_type"],
        changed.json["description"],
    ) == (
        9_000_000,
        "platform_fees",
        "Hosting",
    )
    assert changed.headers["ETag"] != etag
    assert actions(app)[len(before) :] == ["cost_plan.item_added", "cost_plan.item_changed"]

    # The stale version is refused, for a change and for removal alike; nothing changes.
    row = plan_item_row(app, item["id"])
    stale = {**auth["provider"], "If-Match": etag}
    assert_problem(client.patch(location, json={"amount_cents": 1}, headers=stale), 412)
    assert_problem(client.delete(location, headers=stale), 412)
    # An empty or unreadable tag names no version: stale as well, never an error.
    for tag in ('""', 'W/""', "garbage"):
        odd = {**auth["provider"], "If-Match": tag}
        assert_problem(client.patch(location, json={"amount_cents": 1}, headers=odd), 412)
        assert_problem(client.delete(location, headers=odd), 412)
    assert plan_item_row(app, item["id"]) == row

    removed = client.delete(
        location, headers={**auth["provider"], "If-Match": changed.headers["ETag"]}
    )
    assert removed.status_code == 204 and removed.data == b""
    assert plan_item_row(app, item["id"]) is None
    assert_problem(client.get(location, headers=auth["provider"]), 404)
    assert actions(app)[len(before) :] == [
        "cost_plan.item_added",
        "cost_plan.item_changed",
        "cost_plan.item_removed",
    ]
    with app.app_context():
        assert audit.verify_chain().ok


def test_if_match_is_optional_and_a_wildcard_matches(app, client, auth, example):
    plan = client.get(costs(example, "/items"), headers=auth["provider"]).json
    item = plan["items"][0]
    response = client.patch(
        item["url"], json={"description": "Betrieb RZ"}, headers=auth["provider"]
    )
    assert response.status_code == 200 and response.json["description"] == "Betrieb RZ"
    response = client.patch(
        item["url"], json={"cost_type": "direct"}, headers={**auth["provider"], "If-Match": "*"}
    )
    assert response.status_code == 200 and response.json["cost_type"] == "direct"


def test_an_item_is_found_only_under_its_own_listing_and_year(client, auth, example):
    item = client.get(costs(example, "/items"), headers=auth["provider"]).json["items"][0]
    for url in (
        costs(example, f"/items/{item['id']}", year=YEAR + 1),
        costs(example, "/items/2147483647"),
        costs(example, "/items/2147483648"),
        costs(example, "/items/99999999999999999999"),
        f"{API}/listings/1/costs/{YEAR}/items/{item['id']}",
    ):
        assert_problem(client.get(url, headers=auth["fitko"]), 404)
        assert_problem(client.patch(url, json={"amount_cents": 1}, headers=auth["provider"]), 404)
        assert_problem(client.delete(url, headers=auth["provider"]), 404)


def test_who_may_change_the_plan(app, client, auth, example):
    item = client.get(costs(example, "/items"), headers=auth["provider"]).json["items"][0]
    body = {"cost_type": "direct", "amount_cents": 100, "description": "Fremd"}
    before = counts(app)
    # Hessen takes part: it sees the plan (not editable) but may not change it.
    plan = client.get(costs(example, "/items"), headers=auth["participant"])
    assert plan.status_code == 200 and plan.json["may_edit"] is False
    participant = auth["participant"]
    assert_problem(client.post(costs(example, "/items"), json=body, headers=participant), 403)
    assert_problem(client.patch(item["url"], json=body, headers=participant), 403)
    assert_problem(client.delete(item["url"], headers=participant), 403)
    # Bayern has nothing to do with it: the costs do not exist for it.
    outsider = auth["outsider"]
    assert_problem(client.post(costs(example, "/items"), json=body, headers=outsider), 404)
    assert_problem(client.patch(item["url"], json=body, headers=outsider), 404)
    assert_problem(client.delete(item["url"], headers=outsider), 404)
    # Viewers and FITKO never edit a plan, not even the provider's viewers.
    for who in ("viewer", "fitko", "admin"):
        assert_problem(client.post(costs(example, "/items"), json=body, headers=auth[who]), 403)
        assert_problem(client.delete(item["url"], headers=auth[who]), 403)
    assert_problem(client.post(costs(example, "/items"), json=body), 401)
    assert_problem(client.delete(item["url"]), 401)
    assert counts(app) == before


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (-1, "nicht negativ"),
        (1.5, "ganze Zahl"),
        ("100", "ganze Zahl"),
        (True, "ganze Zahl"),
        (None, "nicht null"),
        (2**63, "zu groß"),
        (10**30, "zu groß"),
    ],
)
def test_bad_amounts_are_refused_in_german_and_nothing_is_stored(
    app, client, auth, example, amount, message
):
    item = client.get(costs(example, "/items"), headers=auth["provider"]).json["items"][0]
    before, row = counts(app), plan_item_row(app, item["id"])
    for response in (
        client.post(
            costs(example, "/items"),
            json={"cost_type": "direct", "amount_cents": amount},
            headers=auth["provider"],
        ),
        client.patch(item["url"], json={"amount_cents": amount}, headers=auth["provider"]),
    ):
        body = assert_problem(response, 422, "amount_cents")
        assert message in " ".join(body["errors"]["amount_cents"]), body
    assert counts(app) == before
    assert plan_item_row(app, item["id"]) == row


def test_the_largest_bigint_is_accepted_but_a_plan_cannot_sum_beyond_it(app, client, auth, example):
    response = client.post(
        costs(example, "/items", year=YEAR + 1),
        json={"cost_type": "direct", "amount_cents": 2**63 - 1},
        headers=auth["provider"],
    )
    assert response.status_code == 201 and response.json["amount_cents"] == 2**63 - 1
    body = assert_problem(
        client.post(
            costs(example, "/items", year=YEAR + 1),
            json={"cost_type": "direct", "amount_cents": 1},
            headers=auth["provider"],
        ),
        422,
        "amount_cents",
    )
    assert "Summe des Kostenplans" in body["errors"]["amount_cents"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cost_type": "direct", "amount_cents": 1, "listing_id": 1}, "listing_id"),
        ({"cost_type": "direct", "amount_cents": 1, "version": 7}, "version"),
        ({"cost_type": "direct", "amount_cents": 1, "year": 2030}, "year"),
        ({"cost_type": "anbindung", "amount_cents": 1}, "cost_type"),
        ({"amount_cents": 1}, "cost_type"),
        ({"cost_type": "direct"}, "amount_cents"),
        ({"cost_type": "direct", "amount_cents": 1, "description": "x" * 201}, "description"),
        ({"cost_type": "direct", "amount_cents": 1, "description": "a\u0000b"}, "description"),
    ],
)
def test_unknown_and_malformed_properties_are_refused(app, client, auth, example, body, field):
    before = counts(app)
    response = client.post(costs(example, "/items"), json=body, headers=auth["provider"])
    assert_problem(response, 422, field)
    assert counts(app) == before


def test_the_messages_of_the_schema_are_german(client, auth, example):
    url = costs(example, "/items")
    body = client.post(
        url, json={"cost_type": "miete", "amount_cents": 1, "extra": 1}, headers=auth["provider"]
    ).json
    assert body["errors"]["extra"] == ["Unbekanntes Feld."]
    assert body["errors"]["cost_type"][0].startswith("Unbekannte Kostenart. Erlaubt: ")
    body = client.post(url, json={"cost_type": "direct"}, headers=auth["provider"]).json
    assert body["errors"]["amount_cents"] == ["Bitte geben Sie dieses Feld an."]
    for description in (None, {"a": 1}):  # every field's errors are a list of messages
        body = client.post(
            url,
            json={"cost_type": "direct", "amount_cents": 1, "description": description},
            headers=auth["provider"],
        ).json
        assert isinstance(body["errors"]["description"], list), body
    item = client.get(url, headers=auth["provider"]).json["items"][0]
    body = assert_problem(client.patch(item["url"], json={}, headers=auth["provider"]), 422)
    assert "was sich ändert" in " ".join(sum(body["errors"].values(), []))


def test_bodies_must_be_json(client, auth, example):
    url = costs(example, "/items")
    response = client.post(
        url,
        data="cost_type=direct&amount_cents=1",
        headers={**auth["provider"], "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 415)
    response = client.post(
        url, data='{"cost_type": ', headers={**auth["provider"], "Content-Type": "application/json"}
    )
    assert_problem(response, 400)
    response = client.post(
        url, data="[1, 2]", headers={**auth["provider"], "Content-Type": "application/json"}
    )
    assert_problem(response, 422)


# --- the simulation ------------------------------------------------------------------------

EXAMPLE_LANDS = [{"land": BB}, {"land": HE}, {"land": NI}, {"land": SN}]


def test_simulating_mv_and_sh_from_april_stores_nothing(app, client, auth, example):
    before, audit_trail = counts(app), actions(app)
    response = client.post(
        costs(example, "/simulation"),
        json={
            "participants": [
                *EXAMPLE_LANDS,
                {"land": "MV", "months": 9},
                {"land": "DE-SH", "months": 9},
            ],
            "key": "koenigstein",
        },
        headers=auth["participant"],
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert body["simulated"] is True
    assert len(body["participants"]) == 6
    assert set(body["cents"]) == {SH, NI, HE, BB, MV, SN}
    assert sum(body["cents"].values()) == body["total_cents"] == WORKED_EXAMPLE_TOTAL_CENTS
    mv = next(p for p in body["participants"] if p["land"] == MV)
    assert mv["months"] == 9 and mv["months_in_force"] == [4, 5, 6, 7, 8, 9, 10, 11, 12]
    # Joining Länder pay for nine months and relieve the others.
    for ags in (BB, HE, NI, SN):
        assert 0 < body["cents"][ags] < WORKED_EXAMPLE_FULL_YEAR[ags]
    assert line(body, "participants", MV)["months"] == 9
    # Nothing was written: no row, no audit event; the real split is as before.
    assert counts(app) == before and actions(app) == audit_trail
    real = client.get(costs(example), headers=auth["participant"]).json
    assert real["cents"] == WORKED_EXAMPLE_FULL_YEAR and real["simulated"] is False


def test_an_empty_simulation_is_the_real_split(client, auth, example):
    body = client.post(costs(example, "/simulation"), json={}, headers=auth["fitko"]).json
    assert body["cents"] == WORKED_EXAMPLE_FULL_YEAR and body["simulated"] is True


def test_simulating_efa_2024_shows_the_three_pools(client, auth, example):
    body = client.post(
        costs(example, "/simulation"),
        json={"funding_model": "efa_2024", "total_cents": 1_000_001},
        headers=auth["provider"],
    ).json
    assert body["funding_model"] == "efa_2024" and body["total_cents"] == 1_000_001
    pools = {pool["name"]: pool for pool in body["pools"]}
    assert list(pools) == ["participants", "bund", "laender"]
    assert pools["participants"]["exact_cents"] == "500000.500000"
    assert pools["bund"]["exact_cents"] == "250000.250000"
    assert sum(pool["cents"] for pool in pools.values()) == 1_000_001
    assert body["cents"]["bund"] == pools["bund"]["cents"]
    assert len(pools["laender"]["lines"]) == 16
    # Bayern does not take part but pays its part of the all-Länder pool, for 12 months.
    assert line(body, "laender", "09")["months"] == 12 and body["cents"]["09"] > 0
    assert sum(body["cents"].values()) == 1_000_001


def test_simulating_a_mixed_key_that_does_not_sum_to_100_is_refused(client, auth, example):
    body = assert_problem(
        client.post(
            costs(example, "/simulation"),
            json={"key": "mixed", "parameters": {"usage": 60, "koenigstein": 30}},
            headers=auth["provider"],
        ),
        422,
        "parameters",
    )
    assert "100" in " ".join(body["errors"]["parameters"])
    assert "90" in " ".join(body["errors"]["parameters"])


def test_a_mixed_key_given_as_decimal_strings_is_computed(client, auth, example):
    body = client.post(
        costs(example, "/simulation"),
        json={"key": "mixed", "parameters": {"equal": "50", "koenigstein": "50.00"}},
        headers=auth["provider"],
    )
    assert body.status_code == 200, body.get_data(as_text=True)
    assert body.json["parameters"] == {"equal": "50", "koenigstein": "50"}
    assert sum(body.json["cents"].values()) == WORKED_EXAMPLE_TOTAL_CENTS


def test_simulating_a_year_without_key_data_names_the_key(client, auth, example):
    body = assert_problem(
        client.post(
            costs(example, "/simulation", year=2031),
            json={"key": "koenigstein", "total_cents": 100_000},
            headers=auth["provider"],
        ),
        422,
    )
    assert "Königsteiner Schlüssel" in body["detail"] and "2031" in body["detail"]
    assert body["errors"] == {"year": [body["detail"]]}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"participants": [{"land": "XX"}]}, "participants", "Unbekanntes Land"),
        ({"participants": [{"land": "MV", "months": 13}]}, "participants", "0 bis 12"),
        ({"participants": [{"land": "MV", "months": -1}]}, "participants", "0 bis 12"),
        ({"participants": [{"land": "12"}, {"land": "BB"}]}, "participants", "doppelt"),
        ({"participants": [{"months": 3}]}, "participants", "Bitte geben Sie"),
        ({"participants": [{"land": "MV"}, 1]}, "participants", "2: Erwartet wird ein JSON-Objekt"),
        ({"participants": [None]}, "participants", "nicht null"),
        ({"participants": "MV"}, "participants", "Liste"),
        ({"total_cents": -5}, "total_cents", "nicht negativ"),
        ({"total_cents": 2**63}, "total_cents", "zu groß"),
        ({"total_cents": "viel"}, "total_cents", "ganze Zahl"),
        ({"key": "lottery"}, "key", "Unbekannter Schlüssel"),
        ({"funding_model": "bund"}, "funding_model", "Finanzierungsmodell"),
        ({"key": "koenigstein", "parameters": {"usage": 1}}, "parameters", "keine Parameter"),
        ({"key": "mixed", "parameters": {"usage": "viel"}}, "parameters", "Zahl"),
        ({"participants": []}, "participants", "niemanden"),
        ({"listing_id": 1}, "listing_id", "Unbekanntes Feld"),
    ],
)
def test_invalid_simulations_are_refused_with_field_errors(
    app, client, auth, example, body, field, message
):
    before = counts(app)
    response = client.post(costs(example, "/simulation"), json=body, headers=auth["provider"])
    problem = assert_problem(response, 422, field)
    assert message in " ".join(problem["errors"][field]), problem
    assert counts(app) == before


# --- who sees what -------------------------------------------------------------------------


def test_an_uninvolved_land_sees_no_costs_of_the_listing(client, auth, example):
    item = client.get(costs(example, "/items"), headers=auth["provider"]).json["items"][0]
    outsider = auth["outsider"]
    for response in (
        client.get(costs(example), headers=outsider),
        client.get(costs(example, "/items"), headers=outsider),
        client.get(item["url"], headers=outsider),
        client.post(costs(example, "/simulation"), json={}, headers=outsider),
    ):
        body = assert_problem(response, 404)
        assert "Kostenbeispiel" not in response.get_data(as_text=True)
        assert "errors" not in body


@pytest.mark.parametrize("who", ["provider", "viewer", "participant", "fitko", "admin"])
def test_the_parties_fitko_and_admins_see_the_split(client, auth, example, who):
    response = client.get(costs(example), headers=auth[who])
    assert response.status_code == 200
    assert response.json["cents"] == WORKED_EXAMPLE_FULL_YEAR


def test_the_api_needs_a_token_and_ignores_the_session_cookie(client, example):
    login(client, "editor-bb@demo.test")
    for response in (
        client.get(costs(example)),
        client.get(costs(example, "/items")),
        client.post(costs(example, "/items"), json={"cost_type": "direct", "amount_cents": 1}),
        client.post(costs(example, "/simulation"), json={}),
        client.get(statement(BB)),
    ):
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_openapi_document_describes_the_cost_operations(client):
    spec = client.get(f"{API}/openapi.json").get_json()
    paths = spec["paths"]
    split = "/api/v1/listings/{listing_id}/costs/{year}"
    operations = {
        (split, "get"),
        (f"{split}/items", "get"),
        (f"{split}/items", "post"),
        (f"{split}/items/{{item_id}}", "get"),
        (f"{split}/items/{{item_id}}", "patch"),
        (f"{split}/items/{{item_id}}", "delete"),
        (f"{split}/simulation", "post"),
        ("/api/v1/lands/{land_ags}/statements/{year}", "get"),
    }
    for path, method in operations:
        operation = paths[path][method]
        assert operation["security"] == [{"bearerAuth": []}], (path, method)
        assert {"401", "404"} <= set(operation["responses"]), (path, method)
    assert "422" in paths[split]["get"]["responses"]
    assert "412" in paths[f"{split}/items/{{item_id}}"]["patch"]["responses"]
    schemas = spec["components"]["schemas"]
    assert schemas["PlanItemIn"]["additionalProperties"] is False
    assert schemas["SimulationIn"]["additionalProperties"] is False
    assert schemas["PlanItemIn"]["properties"]["amount_cents"]["maximum"] == 2**63 - 1
    assert "six" in paths[split]["get"]["description"]


def test_the_simulation_needs_no_csrf_token_but_a_bearer_token(app_factory):
    # Only this app (with CSRF on) may touch the database: on PostgreSQL a second app
    # (the ``app`` fixture behind ``api_token``) would hold its own open transaction.
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        listing_id = worked_example()
        _token, secret = create_token(user_by_email("editor-he@demo.test"), "test")
    client = app.test_client()
    response = client.post(
        costs(listing_id, "/simulation"), json={}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["cents"] == WORKED_EXAMPLE_FULL_YEAR


def test_unknown_query_parameters_are_refused_and_the_language_switch_is_not(client, auth, example):
    assert client.get(costs(example, "?lang=en"), headers=auth["fitko"]).status_code == 200
    assert_problem(client.get(costs(example, "?year=2026"), headers=auth["fitko"]), 422, "year")
    assert_problem(
        client.get(statement(BB, year=YEAR) + "?land=06", headers=auth["fitko"]), 422, "land"
    )
