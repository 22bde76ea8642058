"""Concurrent reuse writes on PostgreSQL: two FITKO users countersigning the same contract,
two colleagues of one Land expressing interest in the same listing at the same moment.

Each thread has its own app context and its own session on a separate engine, so the
writes are real commits that really race (outside the test's rolled-back transaction).
A barrier inside the service call makes both threads read the same state before
either writes. Every row the test adds is deleted afterwards (audit rows only at the
end of the chain, so the chain stays intact).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from fitstore.extensions import db
from fitstore.models import AuditEvent, Contract, Organisation, OrganisationKind, Reuse
from fitstore.models.base import utcnow
from fitstore.services import admin, audit, listings, reuses
from tests.factories import listing_content, user_by_email
from tests.pg_concurrency import own_session, race

pytestmark = pytest.mark.postgres_only

ADOPTER = "09"  # Bayern


def new_user(email: str, role: str, organisation: Organisation):
    return admin.create_user(
        user_by_email("admin@demo.test"),
        email=email,
        name=email.split("@")[0],
        role=role,
        organisation_id=organisation.id,
        password="ein-langes-Testpasswort",
    )


def published_listing() -> int:
    provider = user_by_email("editor-bb@demo.test")
    listing = listings.create_listing(provider, listing_content(title="Nebenläufigkeit Kranich"))
    listings.submit_listing(provider, listing.id)
    listings.publish_listing(user_by_email("fitko-1@demo.test"), listing.id)
    return listing.id


def wait_after(function, barrier: threading.Barrier):
    """``function``, then wait until every racing thread has got this far."""

    def wrapped(*args, **kwargs):
        result = function(*args, **kwargs)
        barrier.wait(timeout=30)
        return result

    return wrapped


def test_two_fitko_users_countersign_at_once_and_exactly_one_wins(app, engine, monkeypatch):
    with own_session(app, engine):
        fitko = db.session.scalar(
            select(Organisation).where(Organisation.kind == OrganisationKind.FITKO)
        )
        new_user("fitko-3@demo.test", "fitko", fitko)
        adopter = user_by_email("editor-by@demo.test")
        provider = user_by_email("editor-bb@demo.test")
        reuse = reuses.express_interest(adopter, published_listing(), {})
        reuses.transition(provider, reuse.id, "start_coordination")
        reuses.propose_conditions(
            provider,
            reuse.id,
            {
                "condition_model": "annual_fee",
                "annual_fee_cents": 100_000,
                "connection_cost_cents": 0,
                "scope": "Betrieb und Support",
                "conditions_start": "2025-01-01",
            },
        )
        reuses.transition(adopter, reuse.id, "order")
        reuse_id, contract_id = reuse.id, reuse.contract.id
        reuses.check_contract(
            user_by_email("fitko-1@demo.test"),
            contract_id,
            {"eligibility_basis": "traeger", "legal_basis": reuses.DEFAULT_LEGAL_BASIS},
        )

    barrier = threading.Barrier(2)
    monkeypatch.setattr(reuses, "get_contract", wait_after(reuses.get_contract, barrier))

    def countersign(email: str):
        def call():
            actor = user_by_email(email)
            reuses.countersign_contract(actor, contract_id, {"effective_date": utcnow().date()})

        return call

    outcomes = race(
        app, engine, [countersign("fitko-2@demo.test"), countersign("fitko-3@demo.test")]
    )
    assert sorted(outcomes) == ["conflict", "ok"]

    with own_session(app, engine):
        winner = user_by_email("fitko-2@demo.test" if outcomes[0] == "ok" else "fitko-3@demo.test")
        contract = db.session.get(Contract, contract_id)
        assert (contract.status, contract.countersigned_by_id) == ("in_force", winner.id)
        assert contract.reuse.stage == "contracted"
        contracted = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "reuse.contracted", AuditEvent.object_id == str(reuse_id))
        )
        assert contracted == 1
        assert [t.to_stage for t in reuses.history(contract.reuse)].count("contracted") == 1
        assert audit.verify_chain().ok


def test_two_colleagues_express_interest_at_once_and_one_reuse_results(app, engine, monkeypatch):
    with own_session(app, engine):
        bayern = db.session.scalar(select(Organisation).where(Organisation.short_name == "LAND-BY"))
        new_user("editor2-by@demo.test", "editor", bayern)
        listing_id = published_listing()

    barrier = threading.Barrier(2)
    monkeypatch.setattr(reuses, "open_reuse", wait_after(reuses.open_reuse, barrier))

    def interest(email: str):
        return lambda: reuses.express_interest(user_by_email(email), listing_id, {})

    outcomes = race(
        app, engine, [interest("editor-by@demo.test"), interest("editor2-by@demo.test")]
    )
    assert sorted(outcomes) == ["conflict", "ok"]

    with own_session(app, engine):
        rows = list(
            db.session.scalars(
                select(Reuse).where(
                    Reuse.listing_id == listing_id, Reuse.adopter_land_ags == ADOPTER
                )
            )
        )
        assert len(rows) == 1
        expressed = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "reuse.interest_expressed",
                AuditEvent.object_id == str(rows[0].id),
            )
        )
        assert expressed == 1
        assert [(t.from_stage, t.to_stage) for t in reuses.history(rows[0])] == [(None, "interest")]
        assert audit.verify_chain().ok
