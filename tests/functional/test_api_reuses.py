"""The reuse API: the journey from interest to live, the stage machine's refusals, FITKO's
four eyes, rollout, strict bodies, tenant isolation, and (PostgreSQL) two countersigns
racing for the same contract.

Every scenario runs on a fresh published listing of Brandenburg created here through
the listings service, so the demo reuses never get in the way. Bayern adopts it.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, delete, func, select
from sqlalchemy.orm import Session

from fitstore import create_app
from fitstore.extensions import db
from fitstore.models import (
    ApiToken,
    AuditEvent,
    Authority,
    Contract,
    ContractStatus,
    Listing,
    ListingDocument,
    ListingRevision,
    ListingVersion,
    Notification,
    OnboardingItem,
    OutboxMail,
    Reuse,
    ReuseStage,
    ReuseTransition,
    Rollout,
    RolloutEvent,
    User,
)
from fitstore.models.base import utcnow
from fitstore.services import audit
from fitstore.services import listings as listing_service
from fitstore.services import reuses as service
from fitstore.services.auth import create_token
from tests.conftest import BASE_CONFIG, PG_URL
from tests.factories import listing_content, user_by_email

PROBLEM_JSON = "application/problem+json"
API = "/api/v1"
ADOPTER = "editor-by@demo.test"
PROVIDER = "editor-bb@demo.test"
FITKO_1 = "fitko-1@demo.test"
FITKO_2 = "fitko-2@demo.test"
OUTSIDER = "editor-he@demo.test"

# Who takes each step in these tests (the stage machine's parties).
PARTY = {
    "start_coordination": "provider",
    "decline": "provider",
    "order": "adopter",
    "start_connecting": "adopter",
    "start_testing": "adopter",
    "go_live": "adopter",
    "withdraw": "adopter",
    "hold": "fitko1",
    "resume": "fitko1",
    "terminate": "adopter",
}
# The specification: what may happen from each stage (domain.md, "Reuse").
LEGAL = {
    "interest": {"start_coordination", "withdraw", "hold"},
    "coordination": {"order", "decline", "withdraw", "hold"},
    "ordered": {"withdraw", "hold"},
    "contracted": {"start_connecting", "hold", "terminate"},
    "connecting": {"start_testing", "hold", "terminate"},
    "testing": {"go_live", "hold", "terminate"},
    "live": {"terminate"},
    "declined": set(),
    "withdrawn": set(),
    "terminated": set(),
}
CONDITIONS = {
    "condition_model": "annual_fee",
    "annual_fee_cents": 1_250_000,
    "connection_cost_cents": 300_000,
    "scope": "Betrieb des Online-Dienstes für alle Ausländerbehörden in Bayern",
    "conditions_start": "2026-01-01",
}
CHECK = {"eligibility_basis": "traeger", "legal_basis": service.DEFAULT_LEGAL_BASIS}


def today() -> str:
    return utcnow().date().isoformat()


def yesterday() -> str:
    return (utcnow().date() - timedelta(days=1)).isoformat()


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json(force=True)
    assert body["status"] == status
    if field is not None:
        assert field in body.get("errors", {}), body
    return body


@pytest.fixture
def auth(api_token):
    return {
        "adopter": api_token(ADOPTER),
        "provider": api_token(PROVIDER),
        "fitko1": api_token(FITKO_1),
        "fitko2": api_token(FITKO_2),
        "outsider": api_token(OUTSIDER),
        "viewer": api_token("viewer-by@demo.test"),
    }


def new_listing(app, title: str = "Nachnutzungstest Aufenthalt") -> int:
    """A fresh published listing of Brandenburg (no reuses, no alliance yet)."""
    with app.app_context():
        editor = user_by_email(PROVIDER)
        listing = listing_service.create_listing(editor, listing_content(title=title))
        listing_service.submit_listing(editor, listing.id)
        listing_service.publish_listing(user_by_email(FITKO_1), listing.id)
        return listing.id


@pytest.fixture
def listing_id(app):
    return new_listing(app)


def audit_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


def last_audit(app) -> AuditEvent:
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        db.session.expunge(event)
        return event


def chain_ok(app) -> bool:
    with app.app_context():
        return audit.verify_chain().ok


def authorities(app, land_ags: str, count: int) -> list[str]:
    """Kreis keys of a Land, from the reference data."""
    with app.app_context():
        return list(
            db.session.scalars(
                select(Authority.ags)
                .where(Authority.land_ags == land_ags, Authority.level == "kreis")
                .order_by(Authority.ags)
                .limit(count)
            )
        )


def drive(app, listing_id: int, target: str) -> int:
    """A reuse of Bayern at ``target`` (interest, coordination with conditions, or ordered),
    moved there through the services."""
    with app.app_context():
        adopter, provider = user_by_email(ADOPTER), user_by_email(PROVIDER)
        reuse_id = service.express_interest(adopter, listing_id, {}).id
        if target in ("coordination", "ordered"):
            service.transition(provider, reuse_id, "start_coordination")
            service.propose_conditions(provider, reuse_id, CONDITIONS)
        if target == "ordered":
            service.transition(adopter, reuse_id, "order")
        return reuse_id


class Party:
    """One reuse seen through the API by its parties."""

    def __init__(self, app, client, auth: dict, reuse_id: int):
        self.app, self.client, self.auth, self.reuse_id = app, client, auth, reuse_id

    @property
    def url(self) -> str:
        return f"{API}/reuses/{self.reuse_id}"

    def get(self, who: str = "adopter") -> dict:
        response = self.client.get(self.url, headers=self.auth[who])
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.headers["ETag"] == f'"{response.json["lock_version"]}"'
        return response.json

    def act(self, action: str, who: str | None = None, **extra):
        return self.client.post(
            f"{self.url}/transitions",
            json={"action": action, **extra},
            headers=self.auth[who or PARTY[action]],
        )

    def move(self, action: str, to: str, who: str | None = None) -> dict:
        """A legal step: 200, the new stage, exactly one audit row, one history entry."""
        before, steps = audit_rows(self.app), len(self.get()["history"])
        response = self.act(action, who, comment=f"Schritt {action}")
        assert response.status_code == 200, (action, response.get_data(as_text=True))
        assert response.json["stage"] == to
        assert audit_rows(self.app) == before + 1, action
        event = last_audit(self.app)
        assert event.action == service.ACTIONS[action].audit_action
        assert (event.object_type, event.object_id) == ("reuse", str(self.reuse_id))
        history = response.json["history"]
        assert len(history) == steps + 1
        assert history[-1]["to"] == to and history[-1]["comment"] == f"Schritt {action}"
        return response.json

    def refuse_all_but(self, legal: set[str]) -> None:
        """Every other action answers 409 and changes nothing (stage, history, audit)."""
        before = self.get()
        rows = audit_rows(self.app)
        for action in sorted(set(service.ACTIONS) - legal):
            response = self.act(action)
            assert_problem(response, 409)
            after = self.get()
            assert (after["stage"], after["resume_stage"], after["lock_version"]) == (
                before["stage"],
                before["resume_stage"],
                before["lock_version"],
            ), action
            assert len(after["history"]) == len(before["history"])
            assert audit_rows(self.app) == rows, action


# --- the journey --------------------------------------------------------------------------


def test_the_whole_journey_from_interest_to_live(app, client, auth, listing_id):
    response = client.post(
        f"{API}/reuses",
        json={
            "listing_id": listing_id,
            "planned_start": "2026-03-01",
            "expected_usage": 12000,
            "note": "Wir möchten zum Frühjahr starten.",
        },
        headers=auth["adopter"],
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.json
    assert response.headers["Location"] == f"{API}/reuses/{created['id']}"
    assert response.headers["ETag"] == f'"{created["lock_version"]}"'
    assert created["stage"] == "interest"
    assert created["adopter"] == {"ags": "09", "iso": "DE-BY", "short": "BY", "name": "Bayern"}
    assert created["listing"]["id"] == listing_id
    assert created["listing"]["provider"]["short"] == "BB"
    assert created["waiting_for"] == "provider"
    assert created["planned_start"] == "2026-03-01" and created["expected_usage"] == 12000
    assert created["conditions"] is None and created["contract"] is None
    assert created["history"][0]["from"] is None and created["history"][0]["to"] == "interest"
    assert created["history"][0]["actor"] == user_name(app, ADOPTER)
    assert created["available_actions"] == ["withdraw", "hold"]
    reuse = Party(app, client, auth, created["id"])
    assert reuse.get("provider")["available_actions"] == ["start_coordination"]

    reuse.move("start_coordination", "coordination")
    # No conditions yet: ordering is refused and changes nothing.
    rows = audit_rows(app)
    body = assert_problem(reuse.act("order"), 409)
    assert "Bedingungen" in body["detail"]
    assert reuse.get()["stage"] == "coordination" and audit_rows(app) == rows

    stale = reuse.get()["lock_version"] - 1
    response = client.post(
        f"{reuse.url}/conditions",
        json=CONDITIONS,
        headers={**auth["provider"], "If-Match": f'"{stale}"'},
    )
    assert_problem(response, 412)
    current = reuse.get()["lock_version"]
    response = client.post(
        f"{reuse.url}/conditions",
        json=CONDITIONS,
        headers={**auth["provider"], "If-Match": f'"{current}"'},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    conditions = response.json["conditions"]
    assert conditions["condition_model"] == "annual_fee"
    assert conditions["annual_fee_cents"] == 1_250_000
    assert conditions["connection_cost_cents"] == 300_000
    assert conditions["conditions_start"] == "2026-01-01"
    assert response.json["waiting_for"] == "adopter"
    assert response.headers["ETag"] == f'"{response.json["lock_version"]}"'

    ordered = reuse.move("order", "ordered")
    contract = ordered["contract"]
    assert contract["status"] == "awaiting_check" and contract["effective_date"] is None
    assert contract["number"].startswith("NV-")
    assert ordered["waiting_for"] == "fitko"
    contract_url = f"{API}/contracts/{contract['id']}"
    assert contract["url"] == contract_url

    # The contract as its parties see it: the conditions as ordered.
    seen = client.get(contract_url, headers=auth["adopter"])
    assert seen.status_code == 200
    assert seen.json["conditions"]["annual_fee_cents"] == 1_250_000
    assert seen.json["reuse"]["id"] == reuse.reuse_id
    assert seen.headers["ETag"] == f'"{seen.json["lock_version"]}"'
    assert client.get(contract_url, headers=auth["provider"]).status_code == 200

    # Four eyes: no countersignature before the check; a Land never checks or signs.
    rows = audit_rows(app)
    assert_problem(
        client.post(
            f"{contract_url}/countersign", json={"effective_date": today()}, headers=auth["fitko2"]
        ),
        409,
    )
    for who in ("adopter", "provider"):
        assert_problem(client.post(f"{contract_url}/check", json=CHECK, headers=auth[who]), 403)
        assert_problem(
            client.post(
                f"{contract_url}/countersign", json={"effective_date": today()}, headers=auth[who]
            ),
            403,
        )
    assert audit_rows(app) == rows
    checked = client.post(f"{contract_url}/check", json=CHECK, headers=auth["fitko1"])
    assert checked.status_code == 200, checked.get_data(as_text=True)
    assert checked.json["status"] == "awaiting_countersign"
    assert checked.json["checked_by"] == user_name(app, FITKO_1)
    assert checked.json["eligibility_basis"] == "traeger"
    assert audit_rows(app) == rows + 1
    body = assert_problem(
        client.post(
            f"{contract_url}/countersign", json={"effective_date": today()}, headers=auth["fitko1"]
        ),
        403,
    )
    assert "Vier-Augen-Prinzip" in body["detail"]
    assert_problem(
        client.post(
            f"{contract_url}/countersign",
            json={"effective_date": "2020-01-01"},
            headers=auth["fitko2"],
        ),
        422,
        "effective_date",
    )
    assert reuse.get()["stage"] == "ordered" and audit_rows(app) == rows + 1
    signed = client.post(
        f"{contract_url}/countersign", json={"effective_date": today()}, headers=auth["fitko2"]
    )
    assert signed.status_code == 200, signed.get_data(as_text=True)
    assert signed.json["status"] == "in_force"
    assert signed.json["effective_date"] == today()
    assert signed.json["countersigned_by"] == user_name(app, FITKO_2)
    assert audit_rows(app) == rows + 2
    assert last_audit(app).action == "reuse.contracted"
    contracted = reuse.get()
    assert contracted["stage"] == "contracted"
    assert contracted["contract"]["status"] == "in_force"
    assert contracted["history"][-1]["actor"] == user_name(app, FITKO_2)

    connecting = reuse.move("start_connecting", "connecting")
    assert [item["key"] for item in connecting["onboarding"]] == [
        "transport",
        "user_account",
        "payment",
        "xoev",
    ]
    assert all(item["mandatory"] and not item["done"] for item in connecting["onboarding"])
    # Testing needs the mandatory items done.
    assert_problem(reuse.act("start_testing"), 409)
    assert_problem(
        client.put(
            f"{reuse.url}/onboarding/transport",
            json={"done": True, "done_on": yesterday()},
            headers=auth["adopter"],
        ),
        422,
        "done_on",
    )
    assert_problem(
        client.put(
            f"{reuse.url}/onboarding/transport", json={"done": True}, headers=auth["provider"]
        ),
        403,
    )
    for key in ("transport", "user_account", "payment", "xoev"):
        response = client.put(
            f"{reuse.url}/onboarding/{key}",
            json={"done": True, "done_on": today(), "note": "erledigt"},
            headers=auth["adopter"],
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.json["key"] == key
        assert response.json["done"] is True and response.json["done_on"] == today()
    assert all(item["done"] for item in reuse.get()["onboarding"])

    # Rollout: the adopter plans its own authorities, moves them on in bulk.
    kreise = authorities(app, "09", 3)
    foreign = authorities(app, "12", 1)
    assert_problem(
        client.post(
            f"{reuse.url}/rollout", json={"authorities": kreise + foreign}, headers=auth["adopter"]
        ),
        422,
        "authorities",
    )
    assert_problem(
        client.post(
            f"{reuse.url}/rollout",
            json={"authorities": kreise, "planned_on": yesterday()},
            headers=auth["adopter"],
        ),
        422,
        "planned_on",
    )
    assert_problem(
        client.post(f"{reuse.url}/rollout", json={"authorities": kreise}, headers=auth["provider"]),
        403,
    )
    added = client.post(
        f"{reuse.url}/rollout",
        json={"authorities": kreise, "planned_on": today()},
        headers=auth["adopter"],
    )
    assert added.status_code == 200, added.get_data(as_text=True)
    assert added.json == {"added": 3}
    again = client.post(
        f"{reuse.url}/rollout", json={"authorities": kreise[:1]}, headers=auth["adopter"]
    )
    assert again.json == {"added": 0}
    moved = client.patch(
        f"{reuse.url}/rollout",
        json={"authorities": kreise[:2], "status": "connecting", "date": today()},
        headers=auth["adopter"],
    )
    assert moved.status_code == 200, moved.get_data(as_text=True)
    assert moved.json == {"updated": 2}
    # Live only once the reuse is live; an authority of another Land is not in the rollout.
    assert_problem(
        client.patch(
            f"{reuse.url}/rollout",
            json={"authorities": kreise[:2], "status": "live", "date": today()},
            headers=auth["adopter"],
        ),
        409,
    )
    assert_problem(
        client.patch(
            f"{reuse.url}/rollout",
            json={"authorities": foreign, "status": "connecting", "date": today()},
            headers=auth["adopter"],
        ),
        422,
        "authorities",
    )

    reuse.move("start_testing", "testing")
    live = reuse.move("go_live", "live")
    assert live["waiting_for"] is None
    response = client.patch(
        f"{reuse.url}/rollout",
        json={"authorities": kreise[:1], "status": "live", "date": today()},
        headers=auth["adopter"],
    )
    assert response.json == {"updated": 1}

    rollout = client.get(f"{reuse.url}/rollout", headers=auth["provider"])
    assert rollout.status_code == 200, rollout.get_data(as_text=True)
    assert rollout.json["progress"] == {"planned": 1, "connecting": 1, "live": 1, "total": 3}
    assert rollout.json["total"] == 3 and rollout.json["pages"] == 1
    rows_by_ags = {row["ags"]: row for row in rollout.json["items"]}
    assert set(rows_by_ags) == set(kreise)
    first = rows_by_ags[kreise[0]]
    assert first["status"] == "live" and first["live_on"] == today()
    assert first["level"] == "kreis" and first["kreis_ags"] == kreise[0]
    assert first["name"]
    only_live = client.get(f"{reuse.url}/rollout?status=live", headers=auth["adopter"])
    assert [row["ags"] for row in only_live.json["items"]] == [kreise[0]]
    assert only_live.json["progress"]["total"] == 3
    assert reuse.get()["rollout"] == {"planned": 1, "connecting": 1, "live": 1, "total": 3}

    stages = [step["to"] for step in reuse.get()["history"]]
    assert stages == [
        "interest",
        "coordination",
        "ordered",
        "contracted",
        "connecting",
        "testing",
        "live",
    ]
    assert chain_ok(app)


def user_name(app, email: str) -> str:
    with app.app_context():
        return user_by_email(email).name


# --- the stage machine ------------------------------------------------------------------------


def test_every_illegal_move_from_every_stage_is_409_and_changes_nothing(
    app, client, auth, listing_id
):
    first = Party(app, client, auth, drive(app, listing_id, "interest"))
    first.refuse_all_but(LEGAL["interest"])
    first.move("start_coordination", "coordination")
    first.refuse_all_but(LEGAL["coordination"])
    with app.app_context():
        service.propose_conditions(user_by_email(PROVIDER), first.reuse_id, CONDITIONS)
    first.move("order", "ordered")
    first.refuse_all_but(LEGAL["ordered"])
    # On hold, judged by the stage it left: before the contract it can be withdrawn.
    held = first.move("hold", "on_hold")
    assert held["resume_stage"] == "ordered"
    first.refuse_all_but({"resume", "withdraw"})
    resumed = first.move("resume", "ordered")
    assert resumed["resume_stage"] is None
    contract_id = resumed["contract"]["id"]
    with app.app_context():
        service.check_contract(user_by_email(FITKO_1), contract_id, CHECK)
    rows = audit_rows(app)
    response = client.post(
        f"{API}/contracts/{contract_id}/countersign",
        json={"effective_date": today()},
        headers=auth["fitko2"],
    )
    assert response.status_code == 200
    assert audit_rows(app) == rows + 1
    first.refuse_all_but(LEGAL["contracted"])
    first.move("start_connecting", "connecting")
    first.refuse_all_but(LEGAL["connecting"])
    with app.app_context():
        for key in ("transport", "user_account", "payment", "xoev"):
            service.update_onboarding_item(user_by_email(ADOPTER), first.reuse_id, key, True)
    first.move("start_testing", "testing")
    first.refuse_all_but(LEGAL["testing"])
    # The adopter holds too; after the contract, a reuse on hold can only be terminated.
    first.move("hold", "on_hold", who="adopter")
    first.refuse_all_but({"resume", "terminate"})
    first.move("resume", "testing", who="adopter")
    first.move("go_live", "live")
    first.refuse_all_but(LEGAL["live"])
    first.move("terminate", "terminated")
    first.refuse_all_but(LEGAL["terminated"])
    assert (
        client.get(f"{API}/contracts/{contract_id}", headers=auth["fitko1"]).json["status"]
        == "terminated"
    )

    # A closed reuse lets the Land start again: withdrawn, and declined.
    second = Party(app, client, auth, drive(app, listing_id, "interest"))
    second.move("withdraw", "withdrawn")
    second.refuse_all_but(LEGAL["withdrawn"])
    third = Party(app, client, auth, drive(app, listing_id, "interest"))
    third.move("start_coordination", "coordination")
    third.move("decline", "declined")
    third.refuse_all_but(LEGAL["declined"])
    assert chain_ok(app)


def test_the_wrong_party_is_refused_with_403(app, client, auth, listing_id):
    reuse = Party(app, client, auth, drive(app, listing_id, "interest"))
    rows = audit_rows(app)
    for action, who in (
        ("start_coordination", "adopter"),
        ("start_coordination", "fitko1"),
        ("withdraw", "provider"),
        ("hold", "provider"),
        ("start_coordination", "viewer"),
    ):
        assert_problem(reuse.act(action, who), 403)
    assert_problem(
        client.post(f"{reuse.url}/conditions", json=CONDITIONS, headers=auth["fitko1"]), 403
    )
    assert_problem(
        client.post(f"{reuse.url}/conditions", json=CONDITIONS, headers=auth["adopter"]), 403
    )
    assert reuse.get()["stage"] == "interest" and audit_rows(app) == rows


def test_unknown_action_and_stale_if_match(app, client, auth, listing_id):
    reuse = Party(app, client, auth, drive(app, listing_id, "interest"))
    assert_problem(reuse.act("skip_to_live", "adopter"), 422, "action")
    assert_problem(reuse.act("withdraw", comment="x" * 2001), 422, "comment")
    version = reuse.get()["lock_version"]
    response = client.post(
        f"{reuse.url}/transitions",
        json={"action": "start_coordination"},
        headers={**auth["provider"], "If-Match": f'"{version + 1}"'},
    )
    assert_problem(response, 412)
    assert reuse.get()["stage"] == "interest"
    response = client.post(
        f"{reuse.url}/transitions",
        json={"action": "start_coordination"},
        headers={**auth["provider"], "If-Match": f'"{version}"'},
    )
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{response.json["lock_version"]}"'
    assert response.json["lock_version"] > version


def test_interest_is_refused_for_own_listings_and_twice(app, client, auth, listing_id):
    own = client.post(f"{API}/reuses", json={"listing_id": listing_id}, headers=auth["provider"])
    assert_problem(own, 409)
    first = client.post(f"{API}/reuses", json={"listing_id": listing_id}, headers=auth["adopter"])
    assert first.status_code == 201
    assert_problem(
        client.post(f"{API}/reuses", json={"listing_id": listing_id}, headers=auth["adopter"]),
        409,
    )
    assert_problem(
        client.post(f"{API}/reuses", json={"listing_id": 2_147_483_647}, headers=auth["adopter"]),
        404,
    )
    assert_problem(
        client.post(f"{API}/reuses", json={"listing_id": listing_id}, headers=auth["viewer"]),
        403,
    )
    assert_problem(
        client.post(f"{API}/reuses", json={"listing_id": listing_id}, headers=auth["fitko1"]),
        403,
    )


# --- strict bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stage": "live"}, "stage"),
        ({"adopter_land_ags": "12"}, "adopter_land_ags"),
        ({"lock_version": 9}, "lock_version"),
        ({"expected_usage": -1}, "expected_usage"),
        ({"expected_usage": 1.5}, "expected_usage"),
        ({"expected_usage": "12"}, "expected_usage"),
        ({"planned_start": "20260301"}, "planned_start"),
        ({"planned_start": "2026-3-1"}, "planned_start"),
        ({"planned_start": "2026-02-30"}, "planned_start"),
        ({"listing_id": 2_147_483_648}, "listing_id"),
        ({"listing_id": "1"}, "listing_id"),
    ],
)
def test_interest_bodies_are_strict(app, client, auth, listing_id, body, field):
    data = {"listing_id": listing_id, **body}
    assert_problem(client.post(f"{API}/reuses", json=data, headers=auth["adopter"]), 422, field)
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Reuse.listing_id == listing_id)) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"proposed_by": 1}, "proposed_by"),
        ({"annual_fee_cents": -1}, "annual_fee_cents"),
        ({"annual_fee_cents": 2**63}, "annual_fee_cents"),
        ({"annual_fee_cents": 12.5}, "annual_fee_cents"),
        ({"annual_fee_cents": "100"}, "annual_fee_cents"),
        ({"connection_cost_cents": None}, "connection_cost_cents"),
        ({"condition_model": "free"}, "condition_model"),
        ({"conditions_start": "01.01.2026"}, "conditions_start"),
        ({"scope": "ab"}, "scope"),
        # The cross-field rules of the service answer 422 too.
        ({"annual_fee_cents": None}, "annual_fee_cents"),
        ({"condition_model": "share_rule", "share_rule": ""}, "share_rule"),
    ],
)
def test_condition_bodies_are_strict(app, client, auth, listing_id, changes, field):
    reuse = Party(app, client, auth, drive(app, listing_id, "interest"))
    reuse.move("start_coordination", "coordination")
    response = client.post(
        f"{reuse.url}/conditions", json={**CONDITIONS, **changes}, headers=auth["provider"]
    )
    assert_problem(response, 422, field)
    assert reuse.get()["conditions"] is None


def test_the_largest_amount_is_accepted(app, client, auth, listing_id):
    reuse = Party(app, client, auth, drive(app, listing_id, "interest"))
    reuse.move("start_coordination", "coordination")
    response = client.post(
        f"{reuse.url}/conditions",
        json={**CONDITIONS, "annual_fee_cents": 2**63 - 1, "connection_cost_cents": 0},
        headers=auth["provider"],
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["conditions"]["annual_fee_cents"] == 2**63 - 1


@pytest.mark.parametrize(
    ("path", "method", "body", "who", "field"),
    [
        ("transitions", "post", {"action": "withdraw", "actor_id": 1}, "adopter", "actor_id"),
        ("onboarding/transport", "put", {"done": True, "done_by_id": 1}, "adopter", "done_by_id"),
        ("onboarding/transport", "put", {"done": "yes"}, "adopter", "done"),
        ("rollout", "post", {"authorities": ["09162"], "status": "live"}, "adopter", "status"),
        ("rollout", "post", {"authorities": ["9162"]}, "adopter", "authorities"),
        ("rollout", "post", {"authorities": []}, "adopter", "authorities"),
        (
            "rollout",
            "patch",
            {"authorities": ["09162"], "status": "planned", "date": "2026-01-01"},
            "adopter",
            "status",
        ),
    ],
)
def test_unknown_and_malformed_properties_are_refused(
    app, client, auth, listing_id, path, method, body, who, field
):
    reuse_id = drive(app, listing_id, "interest")
    rows = audit_rows(app)
    response = getattr(client, method)(
        f"{API}/reuses/{reuse_id}/{path}", json=body, headers=auth[who]
    )
    assert_problem(response, 422, field)
    assert audit_rows(app) == rows


def test_contract_bodies_are_strict(app, client, auth, listing_id):
    reuse_id = drive(app, listing_id, "ordered")
    with app.app_context():
        contract_id = db.session.get(Reuse, reuse_id).contract.id
    url = f"{API}/contracts/{contract_id}"
    for body, field in (
        ({**CHECK, "checked_by_id": 2}, "checked_by_id"),
        ({**CHECK, "eligibility_basis": "friends"}, "eligibility_basis"),
        ({"eligibility_basis": "traeger"}, "legal_basis"),
    ):
        assert_problem(client.post(f"{url}/check", json=body, headers=auth["fitko1"]), 422, field)
    client.post(f"{url}/check", json=CHECK, headers=auth["fitko1"])
    for body, field in (
        ({"effective_date": today(), "status": "in_force"}, "status"),
        ({"effective_date": "morgen"}, "effective_date"),
        ({}, "effective_date"),
    ):
        assert_problem(
            client.post(f"{url}/countersign", json=body, headers=auth["fitko2"]), 422, field
        )
    assert client.get(url, headers=auth["fitko1"]).json["status"] == "awaiting_countersign"


def test_bodies_must_be_json_and_ids_in_range(app, client, auth, listing_id):
    reuse_id = drive(app, listing_id, "interest")
    response = client.post(
        f"{API}/reuses/{reuse_id}/transitions",
        data="action=withdraw",
        headers={**auth["adopter"], "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 415)
    response = client.post(
        f"{API}/reuses/{reuse_id}/transitions",
        data='{"action": ',
        headers={**auth["adopter"], "Content-Type": "application/json"},
    )
    assert_problem(response, 400)
    for url in (
        f"{API}/reuses/0",
        f"{API}/reuses/2147483648",
        f"{API}/reuses/99999999999999999999",
        f"{API}/contracts/2147483648",
        f"{API}/reuses/2147483648/rollout",
        f"{API}/reuses/{reuse_id}/onboarding/unknown",
    ):
        method = client.put if "onboarding" in url else client.get
        assert_problem(method(url, headers=auth["fitko1"], json={"done": True}), 404)
    assert_problem(client.get(f"{API}/reuses/{reuse_id}"), 401)
    assert_problem(client.get(f"{API}/reuses?unknown=1", headers=auth["adopter"]), 422, "unknown")


# --- lists ------------------------------------------------------------------------------------


def test_reuse_list_filters_and_envelope(app, client, auth, listing_id):
    reuse_id = drive(app, listing_id, "coordination")

    def ids(who: str, **params) -> list[int]:
        response = client.get(f"{API}/reuses", query_string=params, headers=auth[who])
        assert response.status_code == 200, response.get_data(as_text=True)
        assert set(response.json) == {"items", "page", "page_size", "total", "pages"}
        return [item["id"] for item in response.json["items"]]

    for land in ("BY", "DE-BY", "09"):
        assert ids("adopter", listing=listing_id, land=land) == [reuse_id]
    assert ids("adopter", listing=listing_id, land="BB") == []
    assert ids("adopter", listing=listing_id, side="adopter") == [reuse_id]
    assert ids("adopter", listing=listing_id, side="provider") == []
    assert ids("provider", listing=listing_id, side="provider") == [reuse_id]
    assert ids("fitko1", listing=listing_id, stage="coordination") == [reuse_id]
    assert ids("fitko1", listing=listing_id, stage="interest") == []
    page = client.get(f"{API}/reuses?page_size=1&page=1", headers=auth["fitko1"]).json
    assert page["page_size"] == 1 and len(page["items"]) == 1
    item = client.get(f"{API}/reuses?listing={listing_id}", headers=auth["adopter"]).json["items"][
        0
    ]
    assert item["url"] == f"{API}/reuses/{reuse_id}"
    assert item["waiting_for"] == "adopter" and item["stage"] == "coordination"
    for params, field in (
        ({"land": "XX"}, "land"),
        ({"stage": "done"}, "stage"),
        ({"side": "both"}, "side"),
        ({"listing": "0"}, "listing"),
        ({"page_size": "101"}, "page_size"),
    ):
        assert_problem(
            client.get(f"{API}/reuses", query_string=params, headers=auth["adopter"]), 422, field
        )


def test_contract_list_by_role_and_status(app, client, auth, listing_id):
    reuse_id = drive(app, listing_id, "ordered")
    with app.app_context():
        contract_id = db.session.get(Reuse, reuse_id).contract.id

    def ids(who: str, **params) -> list[int]:
        response = client.get(f"{API}/contracts", query_string=params, headers=auth[who])
        assert response.status_code == 200, response.get_data(as_text=True)
        return [item["id"] for item in response.json["items"]]

    for who in ("fitko1", "adopter", "provider", "viewer"):
        assert contract_id in ids(who, page_size=100), who
    assert contract_id in ids("fitko1", status="awaiting_check", page_size=100)
    assert contract_id not in ids("fitko1", status="in_force", page_size=100)
    listed = client.get(f"{API}/contracts?status=awaiting_check", headers=auth["adopter"]).json
    assert all(item["status"] == "awaiting_check" for item in listed["items"])
    assert all(
        "09" in (item["adopter"]["ags"], item["listing"]["provider"]["ags"])
        for item in listed["items"]
    )
    assert_problem(
        client.get(f"{API}/contracts?status=signed", headers=auth["fitko1"]), 422, "status"
    )


# --- tenant isolation -------------------------------------------------------------------------


def contracted_reuse(app, listing_id: int, kreise: int = 2) -> tuple[int, int]:
    """A reuse of Bayern with its contract in force and ``kreise`` authorities planned."""
    reuse_id = drive(app, listing_id, "ordered")
    with app.app_context():
        contract_id = db.session.get(Reuse, reuse_id).contract.id
        service.check_contract(user_by_email(FITKO_1), contract_id, CHECK)
        service.countersign_contract(
            user_by_email(FITKO_2), contract_id, {"effective_date": utcnow().date()}
        )
        service.add_rollout_authorities(
            user_by_email(ADOPTER), reuse_id, authorities(app, "09", kreise)
        )
    return reuse_id, contract_id


def state(app, reuse_id: int, contract_id: int) -> tuple:
    """Everything a refused request must leave as it was."""
    with app.app_context():
        reuse = db.session.get(Reuse, reuse_id)
        contract = db.session.get(Contract, contract_id)
        return (
            reuse.lock_version,
            reuse.stage,
            contract.lock_version,
            contract.status,
            db.session.scalar(select(func.count()).where(Rollout.reuse_id == reuse_id)),
            db.session.scalar(select(func.count()).select_from(AuditEvent)),
        )


def test_a_land_not_involved_sees_nothing_of_the_reuse(app, client, auth, listing_id):
    reuse_id, contract_id = contracted_reuse(app, listing_id)
    outsider = auth["outsider"]
    missing = client.get(f"{API}/reuses/2147483647", headers=outsider)
    for url in (
        f"{API}/reuses/{reuse_id}",
        f"{API}/reuses/{reuse_id}/rollout",
        f"{API}/contracts/{contract_id}",
    ):
        body = assert_problem(client.get(url, headers=outsider), 404)
        # Indistinguishable from an id that does not exist.
        assert (body["title"], body.get("detail")) == (
            missing.json["title"],
            missing.json.get("detail"),
        )
    listed = client.get(f"{API}/reuses?page_size=100", headers=outsider).json
    assert reuse_id not in [item["id"] for item in listed["items"]]
    assert client.get(f"{API}/reuses?listing={listing_id}", headers=outsider).json["total"] == 0
    contracts = client.get(f"{API}/contracts?page_size=100", headers=outsider).json
    assert contract_id not in [item["id"] for item in contracts["items"]]
    # The adopter's viewer sees it all, read-only.
    assert client.get(f"{API}/reuses/{reuse_id}", headers=auth["viewer"]).status_code == 200
    assert client.get(f"{API}/contracts/{contract_id}", headers=auth["viewer"]).status_code == 200
    assert_problem(
        client.post(
            f"{API}/reuses/{reuse_id}/transitions", json={"action": "hold"}, headers=auth["viewer"]
        ),
        403,
    )


# Every object route of this API, and what each caller who is no party gets.
OBJECT_ROUTES = {
    "read": ("get", "/reuses/{reuse}", None),
    "rollout": ("get", "/reuses/{reuse}/rollout", None),
    "contract": ("get", "/contracts/{contract}", None),
    "transition": ("post", "/reuses/{reuse}/transitions", {"action": "hold"}),
    "conditions": ("post", "/reuses/{reuse}/conditions", CONDITIONS),
    "onboarding": ("put", "/reuses/{reuse}/onboarding/transport", {"done": True}),
    "plan": ("post", "/reuses/{reuse}/rollout", {"authorities": ["09162"]}),
    "move": (
        "patch",
        "/reuses/{reuse}/rollout",
        {"authorities": ["09162"], "status": "connecting", "date": "2026-01-01"},
    ),
    "check": ("post", "/contracts/{contract}/check", CHECK),
    "countersign": ("post", "/contracts/{contract}/countersign", {"effective_date": "2026-01-01"}),
}
READS = {"read", "rollout", "contract"}
FITKO_STEPS = {"check", "countersign"}
EXPECTED = {
    # An editor of a Land not involved: the objects do not exist for it; FITKO's steps are
    # refused by role before any object is looked at.
    "editor-he@demo.test": {name: 403 if name in FITKO_STEPS else 404 for name in OBJECT_ROUTES},
    # A viewer of that Land: not even the role to write.
    "viewer-he@demo.test": {
        name: 404 if name in READS or name == "transition" else 403 for name in OBJECT_ROUTES
    },
    # Admins read everything and change nothing of a reuse.
    "admin@demo.test": {name: 200 if name in READS else 403 for name in OBJECT_ROUTES},
    None: dict.fromkeys(OBJECT_ROUTES, 401),
}


@pytest.mark.parametrize("email", list(EXPECTED), ids=lambda email: email or "anonymous")
def test_object_routes_answer_non_parties_by_role_and_change_nothing(
    app, client, api_token, listing_id, email
):
    reuse_id, contract_id = contracted_reuse(app, listing_id)
    headers = api_token(email) if email else {}
    before = state(app, reuse_id, contract_id)
    for name, (method, path, body) in OBJECT_ROUTES.items():
        url = API + path.format(reuse=reuse_id, contract=contract_id)
        kwargs = {"headers": headers} if body is None else {"headers": headers, "json": body}
        response = getattr(client, method)(url, **kwargs)
        expected = EXPECTED[email][name]
        assert response.status_code == expected, (name, response.get_data(as_text=True))
        if expected != 200:
            assert response.mimetype == PROBLEM_JSON
        assert state(app, reuse_id, contract_id) == before, name


# --- performance -------------------------------------------------------------------------------


def test_lists_and_details_run_a_constant_number_of_queries(
    app, client, auth, listing_id, count_queries
):
    reuse_id, contract_id = contracted_reuse(app, listing_id)
    urls = (
        f"{API}/reuses?page_size=100",
        f"{API}/contracts?page_size=100",
        f"{API}/reuses/{reuse_id}/rollout?page_size=100",
        f"{API}/reuses/{reuse_id}",
        f"{API}/contracts/{contract_id}",
    )

    def counts(who: str) -> list[int]:
        result = []
        for url in urls:
            client.get(url, headers=auth[who])  # the token's first use writes once
            with count_queries() as counter:
                assert client.get(url, headers=auth[who]).status_code == 200, url
            result.append(counter.count)
        return result

    before = {who: counts(who) for who in ("fitko1", "adopter")}
    # Grow everything the pages show: reuses and contracts of more Länder, more rollout
    # rows, more history.
    with app.app_context():
        provider = user_by_email(PROVIDER)
        for short in ("he", "nw", "sn", "ni"):
            adopter = user_by_email(f"editor-{short}@demo.test")
            other = service.express_interest(adopter, listing_id, {}).id
            service.transition(provider, other, "start_coordination")
            service.propose_conditions(provider, other, CONDITIONS)
            service.transition(adopter, other, "order")
        adopter = user_by_email(ADOPTER)
        service.add_rollout_authorities(adopter, reuse_id, authorities(app, "09", 12))
        service.transition(adopter, reuse_id, "hold", "kurz warten")
        service.transition(adopter, reuse_id, "resume")
        service.transition(adopter, reuse_id, "start_connecting")
    after = {who: counts(who) for who in ("fitko1", "adopter")}
    assert after == before


# --- concurrency (PostgreSQL, real commits) ---------------------------------------------------


@pytest.mark.postgres_only
def test_two_concurrent_countersigns_exactly_one_wins(database_template, monkeypatch):
    # Real commits on separate connections, outside the tests' rolled-back transaction.
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": PG_URL})
    engine = create_engine(PG_URL)
    marked = (AuditEvent, ApiToken, OutboxMail, Notification, User)
    with Session(engine) as session:
        marks = {model: session.scalar(select(func.max(model.id))) or 0 for model in marked}
    listing_id = None
    try:
        with app.app_context():
            from fitstore.services.admin import create_user
            from fitstore.services.system import SystemActor

            listing_id = new_listing(app, "Wettlauf um die Gegenzeichnung")
            reuse_id = drive(app, listing_id, "ordered")
            contract_id = db.session.get(Reuse, reuse_id).contract.id
            service.check_contract(user_by_email(FITKO_1), contract_id, CHECK)
            third = create_user(
                SystemActor(),
                email="fitko-3@demo.test",
                name="Dritte Gegenzeichnerin (FITKO)",
                role="fitko",
                organisation_id=user_by_email(FITKO_1).organisation_id,
                password="ein langes Passwort für den Test",
            )
            signers = [user_by_email(FITKO_2), third]
            headers = [
                {"Authorization": f"Bearer {create_token(signer, 'race')[1]}"} for signer in signers
            ]
            names = {signer.id: signer.name for signer in signers}
            db.session.remove()

        # Both requests pass every check (four eyes, status) before either writes.
        barrier = threading.Barrier(2)
        original = service._date

        def read_then_wait(*args, **kwargs):
            value = original(*args, **kwargs)
            barrier.wait(timeout=20)
            return value

        monkeypatch.setattr(service, "_date", read_then_wait)
        responses = []

        def countersign(auth):
            responses.append(
                app.test_client().post(
                    f"{API}/contracts/{contract_id}/countersign",
                    json={"effective_date": today()},
                    headers=auth,
                )
            )

        threads = [threading.Thread(target=countersign, args=(auth,)) for auth in headers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert sorted(response.status_code for response in responses) == [200, 409], [
            response.get_data(as_text=True) for response in responses
        ]
        winner = next(response for response in responses if response.status_code == 200)
        loser = next(response for response in responses if response.status_code == 409)
        assert loser.mimetype == PROBLEM_JSON
        assert "gleichzeitig" in loser.get_json()["detail"]
        with Session(engine) as session:
            contract = session.get(Contract, contract_id)
            assert contract.status == ContractStatus.IN_FORCE
            assert contract.countersigned_by_id in names
            assert winner.get_json()["countersigned_by"] == names[contract.countersigned_by_id]
            assert contract.countersigned_by_id != contract.checked_by_id
            assert session.get(Reuse, reuse_id).stage == ReuseStage.CONTRACTED
            moves = session.scalar(
                select(func.count()).where(
                    ReuseTransition.reuse_id == reuse_id,
                    ReuseTransition.to_stage == ReuseStage.CONTRACTED,
                )
            )
            assert moves == 1
            contracted = session.scalar(
                select(func.count()).where(
                    AuditEvent.action == "reuse.contracted",
                    AuditEvent.object_id == str(reuse_id),
                )
            )
            assert contracted == 1
        with app.app_context():
            assert audit.verify_chain().ok
    finally:
        with Session(engine) as session:
            if listing_id is not None:
                reuse_ids = select(Reuse.id).where(Reuse.listing_id == listing_id)
                rollout_ids = select(Rollout.id).where(Rollout.reuse_id.in_(reuse_ids))
                session.execute(
                    delete(RolloutEvent).where(RolloutEvent.rollout_id.in_(rollout_ids))
                )
                for model in (Rollout, OnboardingItem, Contract, ReuseTransition):
                    session.execute(delete(model).where(model.reuse_id.in_(reuse_ids)))
                session.execute(delete(Reuse).where(Reuse.listing_id == listing_id))
                for model in (ListingVersion, ListingRevision, ListingDocument):
                    session.execute(delete(model).where(model.listing_id == listing_id))
                session.execute(delete(Listing).where(Listing.id == listing_id))
            for model, mark in marks.items():
                session.execute(delete(model).where(model.id > mark))
            session.commit()
        with app.app_context():
            db.engine.dispose()
        engine.dispose()
