"""The reuse service, called directly: the stage machine (every action from every stage
by every kind of actor), hold and resume, conditions, the four-eyes contract, the
onboarding checklist, the rollout to authorities, tenant isolation and own use.

Every test works on a listing it publishes itself (Brandenburg provides, Bayern adopts,
Hessen is a second adopter, Nordrhein-Westfalen is uninvolved), so demo reuses never
matter. ``drive``/``advance`` take a reuse through the services to any stage; they
date each order ``ORDER_AGE`` days back, so that dates between the order, the contract
start and today exist. Other direct writes: the database-constraint test, and the
alliance membership in the tenant-isolation test (the alliance service is not under
test here).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import IntegrityError

from fitstore.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    PreconditionFailed,
)
from fitstore.extensions import db
from fitstore.models import (
    MAIN_LINE,
    Alliance,
    AllianceMembership,
    AuditEvent,
    Authority,
    AuthorityLevel,
    Contract,
    ContractStatus,
    EligibilityBasis,
    Listing,
    MembershipStatus,
    Notification,
    OnboardingItem,
    Organisation,
    OrganisationKind,
    Reuse,
    ReuseStage,
    ReuseTransition,
    Rollout,
    RolloutEvent,
    RolloutStatus,
)
from fitstore.models.base import utcnow
from fitstore.services import admin, audit, listings, reuses
from tests.factories import listing_content, user_by_email

PROVIDER, ADOPTER, SECOND_ADOPTER, OUTSIDER = "12", "09", "06", "05"  # BB, BY, HE, NW
ORDER_AGE = 30  # days the helper dates every order back
EFFECTIVE_AGE = 20  # days ago the helper's contracts take effect

PEOPLE = {
    "adopter": "editor-by",
    "adopter_viewer": "viewer-by",
    "second_adopter": "editor-he",
    "provider": "editor-bb",
    "provider_viewer": "viewer-bb",
    "outsider": "editor-nw",
    "outsider_viewer": "viewer-nw",
    "fitko": "fitko-1",  # the helper's checker
    "fitko2": "fitko-2",  # the helper's countersigner
    "admin": "admin",
}

CONDITIONS = {
    "condition_model": "annual_fee",
    "annual_fee_cents": 1_250_000,
    "connection_cost_cents": 300_000,
    "scope": "Betrieb, Pflege und Support des Onlinedienstes für alle Behörden des Landes",
    "conditions_start": "2025-01-01",
}
CHECK = {"eligibility_basis": "traeger", "legal_basis": reuses.DEFAULT_LEGAL_BASIS}


def today() -> date:
    return utcnow().date()


def effective_date() -> date:
    return today() - timedelta(days=EFFECTIVE_AGE)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def inbox(user) -> int:
    return count(Notification, Notification.user_id == user.id)


def _no_fsync(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=OFF")


@pytest.fixture
def ctx(app):
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            # Each test drives dozens of commits through the services; on the throwaway
            # SQLite copy they need not wait for the disk (same semantics, no fsync).
            event.listen(db.engine, "connect", _no_fsync)
            db.session.execute(text("PRAGMA synchronous=OFF"))
        yield app


@pytest.fixture
def people(ctx):
    return {key: user_by_email(f"{email}@demo.test") for key, email in PEOPLE.items()}


# --- helpers: listings and reuses in any stage, state snapshots ---------------------------


def publish(people, **overrides) -> Listing:
    """A fresh listing of Brandenburg, published through the listing service."""
    overrides.setdefault("title", "Nachnutzungstest Kranich")
    listing = listings.create_listing(people["provider"], listing_content(**overrides))
    listings.submit_listing(people["provider"], listing.id)
    listings.publish_listing(people["fitko"], listing.id)
    return listing


def _backdate_order(reuse: Reuse) -> None:
    db.session.execute(
        update(Contract)
        .where(Contract.reuse_id == reuse.id)
        .values(ordered_at=utcnow() - timedelta(days=ORDER_AGE))
    )
    db.session.commit()


def tick_mandatory(people, reuse: Reuse, adopter: str = "adopter") -> None:
    for item in reuse.onboarding_items:
        if item.mandatory and not item.done:
            reuses.update_onboarding_item(
                people[adopter], reuse.id, item.key, True, effective_date()
            )


def advance(people, reuse: Reuse, stage: str, adopter: str = "adopter", conditions=True) -> Reuse:
    """Move ``reuse`` along the main line up to ``stage`` the way its parties would."""
    actor, provider = people[adopter], people["provider"]
    target = MAIN_LINE.index(ReuseStage(stage))
    while MAIN_LINE.index(reuse.stage) < target:
        following = MAIN_LINE[MAIN_LINE.index(reuse.stage) + 1]
        if following == ReuseStage.COORDINATION:
            reuses.transition(provider, reuse.id, "start_coordination")
            if conditions:
                reuses.propose_conditions(provider, reuse.id, CONDITIONS)
        elif following == ReuseStage.ORDERED:
            reuses.transition(actor, reuse.id, "order")
            _backdate_order(reuse)
        elif following == ReuseStage.CONTRACTED:
            contract_id = reuse.contract.id
            reuses.check_contract(people["fitko"], contract_id, CHECK)
            reuses.countersign_contract(
                people["fitko2"], contract_id, {"effective_date": effective_date()}
            )
        elif following == ReuseStage.CONNECTING:
            reuses.transition(actor, reuse.id, "start_connecting")
        elif following == ReuseStage.TESTING:
            tick_mandatory(people, reuse, adopter)
            reuses.transition(actor, reuse.id, "start_testing")
        else:
            reuses.transition(actor, reuse.id, "go_live")
        reuse = db.session.get(Reuse, reuse.id)
    return reuse


def drive(
    people, state: str, listing=None, adopter="adopter", conditions=True, checklist_done=False
) -> Reuse:
    """A new reuse in ``state``: a stage, or ``on_hold:<stage it left>``. In coordination the
    provider has proposed conditions (unless ``conditions=False``); in connecting the
    checklist is open (unless ``checklist_done``)."""
    listing = listing or publish(people)
    reuse = reuses.express_interest(
        people[adopter],
        listing.id,
        {"planned_start": "2026-01-01", "expected_usage": 12000, "note": "Bitte um Angebot."},
    )
    if state.startswith("on_hold:"):
        reuse = advance(people, reuse, state.split(":")[1], adopter)
        return reuses.transition(people[adopter], reuse.id, "hold", "Haushaltssperre")
    side_exits = {
        "declined": ("coordination", "provider", "decline"),
        "withdrawn": ("interest", adopter, "withdraw"),
        "terminated": ("contracted", adopter, "terminate"),
    }
    if state in side_exits:
        stage, actor, action = side_exits[state]
        reuse = advance(people, reuse, stage, adopter)
        return reuses.transition(people[actor], reuse.id, action)
    reuse = advance(people, reuse, state, adopter, conditions)
    if checklist_done and reuse.stage == ReuseStage.CONNECTING:
        tick_mandatory(people, reuse, adopter)
    return reuse


def _total(model, *where):
    return select(func.count()).select_from(model).where(*where).scalar_subquery()


def snapshot(reuse_id: int) -> dict:
    """What a fresh request would see of a reuse (after the failed one rolled back): its
    row, contract, checklist and rollout, and how many audit rows, notices etc. exist."""
    db.session.rollback()
    state = (
        db.session.execute(
            select(
                Reuse.stage,
                Reuse.resume_stage,
                Reuse.lock_version,
                Reuse.conditions_proposed_at,
                Reuse.terminated_on,
                Contract.status.label("contract_status"),
                Contract.lock_version.label("contract_version"),
                _total(ReuseTransition, ReuseTransition.reuse_id == reuse_id).label("transitions"),
                _total(RolloutEvent).label("rollout_events"),
                _total(AuditEvent).label("audit"),
                _total(Notification).label("notifications"),
            )
            .outerjoin(Contract, Contract.reuse_id == Reuse.id)
            .where(Reuse.id == reuse_id)
        )
        .one()
        ._asdict()
    )
    state["items"] = db.session.execute(
        select(OnboardingItem.key, OnboardingItem.done_on)
        .where(OnboardingItem.reuse_id == reuse_id)
        .order_by(OnboardingItem.position)
    ).all()
    state["rollouts"] = db.session.execute(
        select(Rollout.authority_id, Rollout.status, Rollout.status_on)
        .where(Rollout.reuse_id == reuse_id)
        .order_by(Rollout.id)
    ).all()
    return state


def assert_refused(error, call, reuse_id: int, what: str = "", before: dict | None = None):
    """``call`` raises exactly ``error`` and changes nothing; returns the exception.
    (``before``: a snapshot taken earlier, when nothing has changed since.)"""
    before = before or snapshot(reuse_id)
    try:
        call()
    except DomainError as exc:
        assert type(exc) is error, f"{what}: {type(exc).__name__} ({exc}), not {error.__name__}"
        refused = exc
    else:
        pytest.fail(f"{what}: succeeded, expected {error.__name__}")
    assert snapshot(reuse_id) == before, f"{what}: changed something"
    return refused


def last_audit() -> AuditEvent:
    return db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))


def last_transition(reuse_id: int) -> ReuseTransition:
    return db.session.scalar(
        select(ReuseTransition)
        .where(ReuseTransition.reuse_id == reuse_id)
        .order_by(ReuseTransition.id.desc())
        .limit(1)
    )


def authorities(land_ags: str, level: AuthorityLevel, limit: int) -> list[Authority]:
    return list(
        db.session.scalars(
            select(Authority)
            .where(Authority.land_ags == land_ags, Authority.level == level)
            .order_by(Authority.ags)
            .limit(limit)
        )
    )


def statuses(reuse_id: int) -> dict[str, RolloutStatus]:
    return {
        row.authority.ags: row.status
        for row in db.session.scalars(select(Rollout).where(Rollout.reuse_id == reuse_id))
    }


# --- 1. the transition table ----------------------------------------------------------------

ACTOR_KINDS = ("adopter", "provider", "fitko", "admin", "adopter_viewer", "outsider")
HOLDABLE = ("interest", "coordination", "ordered", "contracted", "connecting", "testing")
SOURCES = (
    *(str(stage) for stage in MAIN_LINE),
    "declined",
    "withdrawn",
    "terminated",
    "on_hold:coordination",  # left before the contract
    "on_hold:contracted",  # left after it
)
# action: (the states it is legal from, target (None: where it left), who may, audit action)
RULES = {
    "start_coordination": (
        ("interest",),
        "coordination",
        ("provider",),
        "reuse.coordination_started",
    ),
    "order": (("coordination",), "ordered", ("adopter",), "reuse.ordered"),
    "start_connecting": (("contracted",), "connecting", ("adopter",), "reuse.connecting_started"),
    "start_testing": (("connecting",), "testing", ("adopter",), "reuse.testing_started"),
    "go_live": (("testing",), "live", ("adopter",), "reuse.live"),
    "decline": (("coordination",), "declined", ("provider",), "reuse.declined"),
    "withdraw": (
        ("interest", "coordination", "ordered", "on_hold:coordination"),
        "withdrawn",
        ("adopter",),
        "reuse.withdrawn",
    ),
    "hold": (HOLDABLE, "on_hold", ("adopter", "fitko"), "reuse.put_on_hold"),
    "resume": (
        ("on_hold:coordination", "on_hold:contracted"),
        None,
        ("adopter", "fitko"),
        "reuse.resumed",
    ),
    "terminate": (
        ("contracted", "connecting", "testing", "live", "on_hold:contracted"),
        "terminated",
        ("adopter", "fitko"),
        "reuse.terminated",
    ),
}


def expected_outcome(source: str, action: str, kind: str):
    """The new stage, or the error type, for ``kind`` trying ``action`` in ``source``."""
    sources, target, movers, _audit = RULES[action]
    if kind == "outsider":
        return NotFound  # cannot even see the reuse
    if kind not in movers:
        return Forbidden
    if source not in sources:
        return Conflict
    return target or source.split(":")[1]


def legal_moves(source: str) -> list[tuple[str, str]]:
    return [
        (action, mover)
        for action, (sources, _target, movers, _audit) in RULES.items()
        if source in sources
        for mover in movers
    ]


@pytest.mark.parametrize("source", SOURCES)
def test_every_action_from_every_stage_by_every_actor(people, source):
    """One reuse in ``source`` takes every refused attempt (each must change nothing);
    every legal move is then made on a reuse of its own (a fresh listing each)."""
    probe = drive(people, source, checklist_done=True).id
    unchanged = snapshot(probe)
    for action in RULES:
        for kind in ACTOR_KINDS:
            outcome = expected_outcome(source, action, kind)
            if isinstance(outcome, str):
                continue  # a legal move, made below
            assert_refused(
                outcome,
                lambda kind=kind, action=action: reuses.transition(
                    people[kind], probe, action, "Versuch"
                ),
                probe,
                f"{source}: {action} by {kind}",
                unchanged,
            )
    for action, mover in legal_moves(source):
        assert_legal_move(people, source, action, mover)


def assert_legal_move(people, source: str, action: str, mover: str) -> None:
    what = f"{source}: {action} by {mover}"
    reuse_id = drive(people, source, checklist_done=True).id
    actor = people[mover]
    parties = [people[key] for key in ("adopter", "provider", "fitko", "fitko2")]
    before = snapshot(reuse_id)
    inbox_before = {user.id: inbox(user) for user in parties}
    comment = f"Schritt {action} durch {mover}"
    reuses.transition(actor, reuse_id, action, comment, expected_version=before["lock_version"])

    after = snapshot(reuse_id)
    target = expected_outcome(source, action, mover)
    assert after["stage"] == target, what
    assert after["lock_version"] > before["lock_version"], what
    assert after["transitions"] == before["transitions"] + 1, what
    assert after["audit"] == before["audit"] + 1, what
    row = last_audit()
    assert (row.action, row.object_type, row.object_id) == (
        RULES[action][3],
        "reuse",
        str(reuse_id),
    ), what
    assert (row.actor_id, row.land_ags) == (actor.id, ADOPTER), what
    move = last_transition(reuse_id)
    assert (move.actor_id, move.from_stage, move.to_stage, move.comment) == (
        actor.id,
        before["stage"],
        target,
        comment,
    ), what
    assert audit.verify_chain().ok, what
    for user in parties:
        expected = inbox_before[user.id] + (0 if user.id == actor.id else 1)
        assert inbox(user) == expected, f"{what}: inbox of {user.email}"


def test_the_table_covers_every_action_of_the_service():
    assert set(RULES) == set(reuses.ACTIONS)
    assert {name: rule[3] for name, rule in RULES.items()} == {
        name: action.audit_action for name, action in reuses.ACTIONS.items()
    }


def test_available_actions_offer_exactly_the_legal_moves(people):
    reuse = drive(people, "on_hold:contracted")
    offered = {
        kind: {a.name for a in reuses.available_actions(people[kind], reuse)}
        for kind in ACTOR_KINDS
    }
    assert offered == {
        "adopter": {"resume", "terminate"},
        "provider": set(),
        "fitko": {"resume", "terminate"},
        "admin": set(),
        "adopter_viewer": set(),
        "outsider": set(),
    }
    reuse = drive(people, "coordination", listing=reuse.listing, adopter="second_adopter")
    assert {a.name for a in reuses.available_actions(people["second_adopter"], reuse)} == {
        "order",
        "withdraw",
        "hold",
    }
    assert {a.name for a in reuses.available_actions(people["provider"], reuse)} == {"decline"}


def test_unknown_action_long_comment_and_stale_version_change_nothing(people):
    reuse = drive(people, "interest")
    provider = people["provider"]
    error = assert_refused(
        Invalid, lambda: reuses.transition(provider, reuse.id, "skip_to_live"), reuse.id
    )
    assert "action" in error.errors
    error = assert_refused(
        Invalid,
        lambda: reuses.transition(provider, reuse.id, "start_coordination", "x" * 2001),
        reuse.id,
    )
    assert "comment" in error.errors
    version = reuse.lock_version
    assert_refused(
        PreconditionFailed,
        lambda: reuses.transition(
            provider, reuse.id, "start_coordination", expected_version=version - 1
        ),
        reuse.id,
    )


# --- interest ---------------------------------------------------------------------------------


def test_expressing_interest(people):
    listing = publish(people)
    data = {"planned_start": "2026-03-01", "expected_usage": 5000, "note": "Ab Frühjahr"}
    for kind, error in (
        ("adopter_viewer", Forbidden),
        ("fitko", Forbidden),
        ("admin", Forbidden),
        ("provider", Conflict),  # its own listing
    ):
        audit_before = count(AuditEvent)
        with pytest.raises(error):
            reuses.express_interest(people[kind], listing.id, data)
        db.session.rollback()
        assert count(AuditEvent) == audit_before
    for bad, field in (
        ({"expected_usage": -1}, "expected_usage"),
        ({"expected_usage": "viele"}, "expected_usage"),
        ({"planned_start": "2026-02-30"}, "planned_start"),
    ):
        with pytest.raises(Invalid) as info:
            reuses.express_interest(people["adopter"], listing.id, {**data, **bad})
        assert field in info.value.errors
    assert count(Reuse, Reuse.listing_id == listing.id) == 0

    inbox_before = {key: inbox(people[key]) for key in ("adopter", "provider", "fitko")}
    reuse = reuses.express_interest(people["adopter"], listing.id, data)
    assert (reuse.stage, reuse.adopter_land_ags, reuse.expected_usage) == (
        "interest",
        ADOPTER,
        5000,
    )
    assert reuse.planned_start == date(2026, 3, 1)
    assert [(t.from_stage, t.to_stage) for t in reuses.history(reuse)] == [(None, "interest")]
    assert last_audit().action == "reuse.interest_expressed"
    assert inbox(people["provider"]) == inbox_before["provider"] + 1
    assert inbox(people["fitko"]) == inbox_before["fitko"] + 1
    assert inbox(people["adopter"]) == inbox_before["adopter"]
    assert reuses.waiting_for(reuse) == "provider"

    with pytest.raises(Conflict):  # one open reuse per Land and listing
        reuses.express_interest(people["adopter"], listing.id, data)
    db.session.rollback()
    assert count(Reuse, Reuse.listing_id == listing.id) == 1

    # Once closed, the Land may start again; the stage map shows the open one.
    reuses.transition(people["adopter"], reuse.id, "withdraw")
    again = reuses.express_interest(people["adopter"], listing.id, data)
    assert again.id != reuse.id
    assert reuses.land_stages(listing.id)[ADOPTER].id == again.id


def test_no_interest_in_a_listing_that_is_not_published(people):
    draft = listings.create_listing(people["provider"], listing_content())
    with pytest.raises(NotFound):  # another Land cannot even see the draft
        reuses.express_interest(people["adopter"], draft.id, {})
    assert count(Reuse, Reuse.listing_id == draft.id) == 0


# --- 2. on hold, withdraw, terminate ----------------------------------------------------------


@pytest.mark.parametrize("stage", HOLDABLE)
def test_on_hold_resumes_where_it_left_and_exits_by_that_stage(people, stage):
    reuse = drive(people, stage)
    contract_before = reuse.contract and (reuse.contract.status, reuse.contract.effective_date)
    items_before = [(item.key, item.done_on) for item in reuse.onboarding_items]

    reuses.transition(people["fitko"], reuse.id, "hold", "Klärung offen")
    assert (reuse.stage, reuse.resume_stage) == ("on_hold", stage)
    assert reuses.main_line_position(reuse) == MAIN_LINE.index(ReuseStage(stage))
    assert reuses.waiting_for(reuse) == "adopter"
    reuses.transition(people["adopter"], reuse.id, "resume")

    db.session.expire_all()
    reuse = db.session.get(Reuse, reuse.id)
    assert (reuse.stage, reuse.resume_stage) == (stage, None)
    assert [(t.from_stage, t.to_stage) for t in reuses.history(reuse)[-2:]] == [
        (stage, "on_hold"),
        ("on_hold", stage),
    ]
    assert (reuse.contract and (reuse.contract.status, reuse.contract.effective_date)) == (
        contract_before
    )
    assert [(item.key, item.done_on) for item in reuse.onboarding_items] == items_before

    # On hold again: withdrawing is for before the contract, terminating for after it.
    reuses.transition(people["adopter"], reuse.id, "hold")
    before_contract = MAIN_LINE.index(ReuseStage(stage)) < MAIN_LINE.index(ReuseStage.CONTRACTED)
    legal, illegal = ("withdraw", "terminate") if before_contract else ("terminate", "withdraw")
    assert {a.name for a in reuses.available_actions(people["adopter"], reuse)} == {
        "resume",
        legal,
    }
    assert_refused(
        Conflict, lambda: reuses.transition(people["adopter"], reuse.id, illegal), reuse.id
    )
    reuses.transition(people["adopter"], reuse.id, legal)
    db.session.expire_all()
    reuse = db.session.get(Reuse, reuse.id)
    assert reuse.resume_stage is None
    if legal == "withdraw":
        assert (reuse.stage, reuse.terminated_on) == ("withdrawn", None)
        if stage == "ordered":
            assert reuse.contract.status == ContractStatus.CANCELLED
        else:
            assert reuse.contract is None
    else:
        assert (reuse.stage, reuse.terminated_on) == ("terminated", today())
        assert (reuse.contract.status, reuse.contract.ended_on) == ("terminated", today())


@pytest.mark.parametrize("checked", [False, True], ids=["awaiting_check", "awaiting_countersign"])
def test_withdrawing_an_order_cancels_the_waiting_contract(people, checked):
    reuse = drive(people, "ordered")
    if checked:
        reuses.check_contract(people["fitko"], reuse.contract.id, CHECK)
    reuses.transition(people["adopter"], reuse.id, "withdraw", "Kein Bedarf mehr")
    db.session.expire_all()
    reuse = db.session.get(Reuse, reuse.id)
    assert reuse.stage == "withdrawn"
    assert (reuse.contract.status, reuse.contract.countersigned_by_id) == ("cancelled", None)
    assert reuse.contract not in reuses.contract_queue(people["fitko"])[int(checked)]
    with pytest.raises(Conflict):
        reuses.countersign_contract(
            people["fitko2"], reuse.contract.id, {"effective_date": today()}
        )


def test_terminating_ends_the_contract(people):
    reuse = drive(people, "live")
    reuses.transition(people["fitko"], reuse.id, "terminate", "Kündigung zum Monatsende")
    db.session.expire_all()
    reuse = db.session.get(Reuse, reuse.id)
    assert (reuse.stage, reuse.terminated_on) == ("terminated", today())
    contract = reuse.contract
    assert (contract.status, contract.ended_on) == (ContractStatus.TERMINATED, today())
    assert contract.effective_date == effective_date()  # the history of the contract stays
    assert last_audit().action == "reuse.terminated"
    assert reuses.available_actions(people["adopter"], reuse) == []
    with pytest.raises(Conflict):  # no rollout on a terminated reuse
        reuses.add_rollout_authorities(
            people["adopter"], reuse.id, [authorities(ADOPTER, AuthorityLevel.KREIS, 1)[0].ags]
        )


# --- 3. conditions ---------------------------------------------------------------------------


def test_only_the_provider_proposes_conditions(people):
    reuse = drive(people, "coordination", conditions=False)
    for kind, error in (
        ("adopter", Forbidden),
        ("adopter_viewer", Forbidden),
        ("provider_viewer", Forbidden),
        ("fitko", Forbidden),
        ("admin", Forbidden),
        ("outsider", NotFound),
    ):
        assert_refused(
            error,
            lambda kind=kind: reuses.propose_conditions(people[kind], reuse.id, CONDITIONS),
            reuse.id,
            kind,
        )
    assert reuses.waiting_for(reuse) == "provider"
    reuses.propose_conditions(people["provider"], reuse.id, CONDITIONS)
    assert reuse.has_conditions and reuses.waiting_for(reuse) == "adopter"


def test_conditions_only_in_coordination(people):
    for stage in ("interest", "ordered", "contracted", "on_hold:coordination"):
        reuse = drive(people, stage)
        assert_refused(
            Conflict,
            lambda reuse=reuse: reuses.propose_conditions(people["provider"], reuse.id, CONDITIONS),
            reuse.id,
            stage,
        )


def test_ordering_without_conditions_changes_nothing(people):
    reuse = drive(people, "coordination", conditions=False)
    assert_refused(
        Conflict, lambda: reuses.transition(people["adopter"], reuse.id, "order"), reuse.id
    )
    assert count(Contract, Contract.reuse_id == reuse.id) == 0


MISSING = object()
BAD_CONDITIONS = [
    ({"annual_fee_cents": -1}, "annual_fee_cents"),
    ({"connection_cost_cents": -100}, "connection_cost_cents"),
    ({"annual_fee_cents": 2**63}, "annual_fee_cents"),
    ({"connection_cost_cents": 2**63}, "connection_cost_cents"),
    ({"annual_fee_cents": "1.250,00"}, "annual_fee_cents"),
    ({"annual_fee_cents": True}, "annual_fee_cents"),
    ({"scope": MISSING}, "scope"),
    ({"scope": "  "}, "scope"),
    ({"annual_fee_cents": MISSING}, "annual_fee_cents"),
    ({"connection_cost_cents": MISSING}, "connection_cost_cents"),
    ({"condition_model": "flatrate"}, "condition_model"),
    ({"condition_model": "share_rule", "share_rule": ""}, "share_rule"),
    ({"conditions_start": "2025-02-30"}, "conditions_start"),
    ({"conditions_start": "01.01.2025"}, "conditions_start"),
    ({"conditions_start": MISSING}, "conditions_start"),
]


def test_invalid_conditions_name_the_field(people):
    reuse = drive(people, "coordination", conditions=False)
    for change, field in BAD_CONDITIONS:
        data = {**CONDITIONS, **change}
        data = {key: value for key, value in data.items() if value is not MISSING}
        error = assert_refused(
            Invalid,
            lambda data=data: reuses.propose_conditions(people["provider"], reuse.id, data),
            reuse.id,
            repr(change),
        )
        assert field in error.errors, repr(change)
    assert not db.session.get(Reuse, reuse.id).has_conditions


def test_the_largest_amount_is_accepted(people):
    reuse = drive(people, "coordination", conditions=False)
    biggest = 2**63 - 1
    data = {**CONDITIONS, "annual_fee_cents": biggest, "connection_cost_cents": biggest}
    reuses.propose_conditions(people["provider"], reuse.id, data)
    db.session.expire_all()
    reuse = db.session.get(Reuse, reuse.id)
    assert (reuse.annual_fee_cents, reuse.connection_cost_cents) == (biggest, biggest)


def test_reproposing_overwrites_and_is_audited(people):
    reuse = drive(people, "coordination")  # annual fee proposed
    revised = {
        "condition_model": "share_rule",
        "annual_fee_cents": 999,  # ignored for a share rule
        "share_rule": "Anteil nach dem Kostenschlüssel der Allianz",
        "connection_cost_cents": 0,
        "scope": "Betrieb ohne Fachverfahrensanbindung",
        "conditions_start": "2025-07-01",
    }
    audit_before = count(AuditEvent)
    reuses.propose_conditions(
        people["provider"], reuse.id, revised, expected_version=reuse.lock_version
    )
    assert count(AuditEvent) == audit_before + 1
    event = last_audit()
    assert (event.action, event.actor_id) == ("reuse.conditions_proposed", people["provider"].id)
    assert "Kostenschlüssel" in event.details
    db.session.expire_all()
    reuse = db.session.get(Reuse, reuse.id)
    assert reuses.conditions_of(reuse) == {
        "condition_model": "share_rule",
        "annual_fee_cents": None,
        "share_rule": "Anteil nach dem Kostenschlüssel der Allianz",
        "connection_cost_cents": 0,
        "scope": "Betrieb ohne Fachverfahrensanbindung",
        "conditions_start": "2025-07-01",
    }
    reuses.transition(people["adopter"], reuse.id, "order")
    assert reuses.contract_conditions(reuse.contract) == reuses.conditions_of(reuse)


def test_ordering_on_terms_that_changed_meanwhile_is_refused(people):
    reuse = drive(people, "coordination")
    seen = reuse.lock_version  # the adopter reads the first proposal ...
    reuses.propose_conditions(  # ... the provider revises it ...
        people["provider"], reuse.id, {**CONDITIONS, "annual_fee_cents": 2_000_000}
    )
    assert_refused(  # ... and the adopter's order on the old terms fails.
        PreconditionFailed,
        lambda: reuses.transition(people["adopter"], reuse.id, "order", expected_version=seen),
        reuse.id,
    )
    assert_refused(
        PreconditionFailed,
        lambda: reuses.propose_conditions(
            people["provider"], reuse.id, CONDITIONS, expected_version=seen
        ),
        reuse.id,
    )
    current = db.session.get(Reuse, reuse.id).lock_version
    reuses.transition(people["adopter"], reuse.id, "order", expected_version=current)
    assert reuses.contract_conditions(reuse.contract)["annual_fee_cents"] == 2_000_000


# --- 4. the contract: four eyes ----------------------------------------------------------------


def test_order_creates_a_contract_waiting_for_the_check(people):
    reuse = drive(people, "ordered")
    contract = reuse.contract
    assert contract.status == ContractStatus.AWAITING_CHECK
    assert contract.number == f"NV-{utcnow().year}-{reuse.id:06d}"
    assert contract.ordered_by_id == people["adopter"].id
    assert reuses.waiting_for(reuse) == "fitko"
    waiting_check, waiting_sign = reuses.contract_queue(people["fitko2"])
    assert contract in waiting_check and contract not in waiting_sign


def test_countersigning_needs_the_check_first(people):
    reuse = drive(people, "ordered")
    assert_refused(
        Conflict,
        lambda: reuses.countersign_contract(
            people["fitko2"], reuse.contract.id, {"effective_date": today()}
        ),
        reuse.id,
    )


def test_the_checker_cannot_countersign_but_a_second_fitko_user_can(people):
    reuse = drive(people, "ordered")
    contract_id = reuse.contract.id
    with pytest.raises(Invalid) as info:
        reuses.check_contract(people["fitko"], contract_id, {"eligibility_basis": "gut"})
    assert {"eligibility_basis", "legal_basis"} <= set(info.value.errors)
    db.session.rollback()

    reuses.check_contract(people["fitko"], contract_id, {**CHECK, "remarks": "Träger"})
    contract = db.session.get(Contract, contract_id)
    assert contract.status == ContractStatus.AWAITING_COUNTERSIGN
    assert (contract.checked_by_id, contract.eligibility_basis) == (
        people["fitko"].id,
        EligibilityBasis.TRAEGER,
    )
    assert last_audit().action == "contract.checked"
    assert reuse.stage == "ordered"
    assert contract in reuses.contract_queue(people["fitko2"])[1]

    error = assert_refused(
        Forbidden,
        lambda: reuses.countersign_contract(
            people["fitko"], contract_id, {"effective_date": today()}
        ),
        reuse.id,
    )
    assert "Vier-Augen" in error.detail

    parties = [people[key] for key in ("adopter", "provider", "fitko", "fitko2")]
    inbox_before = {user.id: inbox(user) for user in parties}
    audit_before = count(AuditEvent)
    reuses.countersign_contract(people["fitko2"], contract_id, {"effective_date": today()})
    db.session.expire_all()
    contract = db.session.get(Contract, contract_id)
    assert contract.status == ContractStatus.IN_FORCE
    assert (contract.countersigned_by_id, contract.effective_date) == (people["fitko2"].id, today())
    assert contract.reuse.stage == "contracted"
    assert count(AuditEvent) == audit_before + 1
    assert last_audit().action == "reuse.contracted"
    move = last_transition(reuse.id)
    assert (move.actor_id, move.from_stage, move.to_stage) == (
        people["fitko2"].id,
        "ordered",
        "contracted",
    )
    for user in parties:
        expected = inbox_before[user.id] + (0 if user.id == people["fitko2"].id else 1)
        assert inbox(user) == expected, user.email
    assert audit.verify_chain().ok
    with pytest.raises(Conflict):  # signed once is signed
        reuses.countersign_contract(people["fitko2"], contract_id, {"effective_date": today()})


def test_only_fitko_staff_check_and_countersign(people):
    reuse = drive(people, "ordered")
    contract_id = reuse.contract.id
    refused = (
        ("admin", Forbidden),
        ("adopter", Forbidden),
        ("provider", Forbidden),
        ("adopter_viewer", Forbidden),
        ("outsider", NotFound),
    )
    for kind, error in refused:
        assert_refused(
            error,
            lambda kind=kind: reuses.check_contract(people[kind], contract_id, CHECK),
            reuse.id,
        )
    reuses.check_contract(people["fitko"], contract_id, CHECK)
    for kind, error in refused:
        assert_refused(
            error,
            lambda kind=kind: reuses.countersign_contract(
                people[kind], contract_id, {"effective_date": today()}
            ),
            reuse.id,
        )


def test_the_contract_cannot_take_effect_before_the_order(people):
    reuse = drive(people, "ordered")  # ordered ORDER_AGE days ago
    contract_id = reuse.contract.id
    ordered_on = reuse.contract.ordered_at.date()
    reuses.check_contract(people["fitko"], contract_id, CHECK)
    for value in (ordered_on - timedelta(days=1), "2025-02-30", "", None):
        error = assert_refused(
            Invalid,
            lambda value=value: reuses.countersign_contract(
                people["fitko2"], contract_id, {"effective_date": value}
            ),
            reuse.id,
        )
        assert "effective_date" in error.errors
    reuses.countersign_contract(people["fitko2"], contract_id, {"effective_date": ordered_on})
    assert db.session.get(Contract, contract_id).effective_date == ordered_on


def test_the_database_enforces_four_eyes(people):
    """Even a write that bypasses the service cannot let the checker countersign."""
    reuse = drive(people, "ordered")
    contract_id = reuse.contract.id
    table = Contract.__table__
    with pytest.raises(IntegrityError):  # countersigned before any check
        db.session.execute(
            table.update()
            .where(table.c.id == contract_id)
            .values(countersigned_by_id=people["fitko2"].id)
        )
    db.session.rollback()
    reuses.check_contract(people["fitko"], contract_id, CHECK)
    with pytest.raises(IntegrityError) as info:
        db.session.execute(
            table.update()
            .where(table.c.id == contract_id)
            .values(countersigned_by_id=table.c.checked_by_id, status="in_force")
        )
    assert "four_eyes" in str(info.value)
    db.session.rollback()
    contract = db.session.get(Contract, contract_id)
    assert (contract.status, contract.countersigned_by_id) == ("awaiting_countersign", None)


# --- 5. technical onboarding -------------------------------------------------------------------

REQUIREMENTS = [  # listing fields -> the mandatory checklist items
    ({}, {"transport", "user_account", "payment", "xoev"}),
    ({"user_account": "bundid", "payment": "", "xoev_standard": ""}, {"transport", "user_account"}),
    ({"user_account": "none", "payment": "ePayBL", "xoev_standard": ""}, {"transport", "payment"}),
    (
        {"user_account": "none", "payment": "", "xoev_standard": "", "transport": "osci_dvdv"},
        {"transport"},
    ),
]


def test_checklist_follows_the_listing(people):
    for requirements, mandatory in REQUIREMENTS:
        listing = publish(people, **requirements)
        reuse = drive(people, "contracted", listing=listing)
        assert reuse.onboarding_items == []
        reuses.transition(people["adopter"], reuse.id, "start_connecting")
        items = {item.key: item.mandatory for item in reuse.onboarding_items}
        assert set(items) == {"transport", "user_account", "payment", "xoev"}
        assert {key for key, flag in items.items() if flag} == mandatory, requirements
        assert not any(item.done for item in reuse.onboarding_items)
        # The mandatory items are enough; optional ones may stay open.
        for key in sorted(mandatory):
            reuses.update_onboarding_item(people["adopter"], reuse.id, key, True)
        reuses.transition(people["adopter"], reuse.id, "start_testing")
        assert reuse.stage == "testing", requirements


def test_the_transport_item_names_the_listings_transport(people):
    listing = publish(people, transport="osci_dvdv")
    reuse = drive(people, "connecting", listing=listing)
    transport = next(item for item in reuse.onboarding_items if item.key == "transport")
    assert "DVDV" in reuses.onboarding_label(transport, listing)
    xoev = next(item for item in reuse.onboarding_items if item.key == "xoev")
    assert "XAusländer" in reuses.onboarding_label(xoev, listing)


def test_testing_waits_for_every_mandatory_item(people):
    reuse = drive(people, "connecting")  # the default listing needs all four
    for key in ("transport", "user_account", "xoev"):
        reuses.update_onboarding_item(people["adopter"], reuse.id, key, True)
    error = assert_refused(
        Conflict, lambda: reuses.transition(people["adopter"], reuse.id, "start_testing"), reuse.id
    )
    assert "Bezahldienst" in error.detail
    reuses.update_onboarding_item(people["adopter"], reuse.id, "payment", True)
    reuses.update_onboarding_item(people["adopter"], reuse.id, "payment", False)  # opened again
    assert_refused(
        Conflict, lambda: reuses.transition(people["adopter"], reuse.id, "start_testing"), reuse.id
    )
    reuses.update_onboarding_item(people["adopter"], reuse.id, "payment", True, note="ePayBL")
    reuses.transition(people["adopter"], reuse.id, "start_testing")
    assert db.session.get(Reuse, reuse.id).stage == "testing"


def test_item_dates_lie_between_the_contract_start_and_today(people):
    reuse = drive(people, "connecting")
    adopter = people["adopter"]
    for value in (effective_date() - timedelta(days=1), today() + timedelta(days=1), "2025-13-01"):
        error = assert_refused(
            Invalid,
            lambda value=value: reuses.update_onboarding_item(
                adopter, reuse.id, "transport", True, value
            ),
            reuse.id,
        )
        assert "done_on" in error.errors
    audit_before = count(AuditEvent)
    reuses.update_onboarding_item(adopter, reuse.id, "transport", True, effective_date())
    reuses.update_onboarding_item(adopter, reuse.id, "payment", True)  # no date: today
    assert count(AuditEvent) == audit_before + 2
    assert last_audit().action == "reuse.onboarding_item_updated"
    done = {item.key: (item.done_on, item.done_by_id) for item in reuse.onboarding_items}
    assert done["transport"] == (effective_date(), adopter.id)
    assert done["payment"] == (today(), adopter.id)
    assert done["xoev"] == (None, None)


def test_only_the_adopter_ticks_and_only_while_connecting(people):
    reuse = drive(people, "connecting")
    for kind, error in (
        ("provider", Forbidden),
        ("fitko", Forbidden),
        ("admin", Forbidden),
        ("adopter_viewer", Forbidden),
        ("outsider", NotFound),
    ):
        assert_refused(
            error,
            lambda kind=kind: reuses.update_onboarding_item(
                people[kind], reuse.id, "transport", True
            ),
            reuse.id,
        )
    assert_refused(
        NotFound,
        lambda: reuses.update_onboarding_item(people["adopter"], reuse.id, "kaffee", True),
        reuse.id,
    )
    reuse = advance(people, reuse, "testing")
    assert_refused(
        Conflict,
        lambda: reuses.update_onboarding_item(people["adopter"], reuse.id, "transport", False),
        reuse.id,
    )
    other = drive(people, "contracted", listing=reuse.listing, adopter="second_adopter")
    assert_refused(
        Conflict,
        lambda: reuses.update_onboarding_item(
            people["second_adopter"], other.id, "transport", True
        ),
        other.id,
    )


# --- 6. rollout to authorities -------------------------------------------------------------


def test_rollout_starts_with_the_contract(people):
    kreis = authorities(ADOPTER, AuthorityLevel.KREIS, 1)[0]
    for stage in ("interest", "coordination", "ordered", "on_hold:contracted"):
        reuse = drive(people, stage)
        assert_refused(
            Conflict,
            lambda reuse=reuse: reuses.add_rollout_authorities(
                people["adopter"], reuse.id, [kreis.ags]
            ),
            reuse.id,
            stage,
        )


def test_adding_authorities(people):
    reuse = drive(people, "contracted")
    adopter = people["adopter"]
    kreis = authorities(ADOPTER, AuthorityLevel.KREIS, 1)[0]
    gemeinde = db.session.scalar(
        select(Authority)
        .where(Authority.level == AuthorityLevel.GEMEINDE, Authority.kreis_ags != kreis.ags)
        .where(Authority.land_ags == ADOPTER)
        .limit(1)
    )
    hessian = authorities(SECOND_ADOPTER, AuthorityLevel.GEMEINDE, 1)[0]
    for kind, error in (
        ("provider", Forbidden),
        ("fitko", Forbidden),
        ("adopter_viewer", Forbidden),
        ("outsider", NotFound),
    ):
        assert_refused(
            error,
            lambda kind=kind: reuses.add_rollout_authorities(people[kind], reuse.id, [kreis.ags]),
            reuse.id,
        )
    for codes, planned_on, field, message in (
        ([kreis.ags, hessian.ags], None, "authorities", hessian.ags),  # another Land's
        ([kreis.ags, "09999999"], None, "authorities", "09999999"),  # unknown
        ([kreis.ags, "9184"], None, "authorities", "9184"),  # not a key at all
        ([], None, "authorities", ""),
        ([kreis.ags], effective_date() - timedelta(days=1), "date", "Vertragsbeginn"),
        ([kreis.ags], "2025-02-30", "date", ""),
    ):
        error = assert_refused(
            Invalid,
            lambda codes=codes, planned_on=planned_on: reuses.add_rollout_authorities(
                adopter, reuse.id, codes, planned_on
            ),
            reuse.id,
        )
        assert message in error.errors[field][0]

    audit_before, events_before = count(AuditEvent), count(RolloutEvent)
    added = reuses.add_rollout_authorities(adopter, reuse.id, f"{kreis.ags}, {gemeinde.ags}")
    assert added == 2
    assert count(AuditEvent) == audit_before + 1
    assert last_audit().action == "rollout.planned"
    assert count(RolloutEvent) == events_before + 2
    rows = {
        row.authority.ags: row
        for row in db.session.scalars(select(Rollout).where(Rollout.reuse_id == reuse.id))
    }
    assert set(rows) == {kreis.ags, gemeinde.ags}
    assert rows[gemeinde.ags].kreis_ags == gemeinde.ags[:5]
    assert {(row.status, row.status_on) for row in rows.values()} == {("planned", today())}

    # Adding again (also twice in one go) keeps one row per authority and writes nothing.
    audit_before = count(AuditEvent)
    assert reuses.add_rollout_authorities(adopter, reuse.id, [kreis.ags, kreis.ags]) == 0
    assert count(Rollout, Rollout.reuse_id == reuse.id) == 2
    assert count(AuditEvent) == audit_before
    assert count(RolloutEvent) == events_before + 2


def test_rollout_steps_cannot_be_skipped_or_dated_back(people):
    reuse = drive(people, "live")
    adopter = people["adopter"]
    first, second = (a.ags for a in authorities(ADOPTER, AuthorityLevel.GEMEINDE, 2))
    planned_on = effective_date() + timedelta(days=5)
    reuses.add_rollout_authorities(adopter, reuse.id, [first, second], planned_on)
    assert_refused(  # planned -> live skips a step
        Conflict,
        lambda: reuses.update_rollout(adopter, reuse.id, [first], "live", today()),
        reuse.id,
    )
    assert_refused(  # back to planned is no step at all
        Invalid,
        lambda: reuses.update_rollout(adopter, reuse.id, [first], "planned", today()),
        reuse.id,
    )
    for on, message in (
        (planned_on - timedelta(days=1), "letzten Schritt"),
        (effective_date() - timedelta(days=1), "Vertragsbeginn"),
        (today() + timedelta(days=1), "Zukunft"),
    ):
        error = assert_refused(
            Invalid,
            lambda on=on: reuses.update_rollout(adopter, reuse.id, [first], "connecting", on),
            reuse.id,
        )
        assert message in error.errors["date"][0]
    assert reuses.update_rollout(adopter, reuse.id, [first], "connecting", planned_on) == 1
    assert_refused(  # connecting -> connecting is no step either
        Conflict,
        lambda: reuses.update_rollout(adopter, reuse.id, [first], "connecting", today()),
        reuse.id,
    )
    assert reuses.update_rollout(adopter, reuse.id, [first], "live", today()) == 1
    assert statuses(reuse.id) == {first: "live", second: "planned"}


def test_authorities_go_live_only_once_the_reuse_is_live(people):
    reuse = drive(people, "contracted")
    adopter = people["adopter"]
    code = authorities(ADOPTER, AuthorityLevel.KREIS, 1)[0].ags
    reuses.add_rollout_authorities(adopter, reuse.id, [code], effective_date())
    reuses.update_rollout(adopter, reuse.id, [code], "connecting", effective_date())
    for stage in ("contracted", "connecting", "testing"):
        reuse = advance(people, reuse, stage)
        error = assert_refused(
            Conflict,
            lambda reuse=reuse: reuses.update_rollout(adopter, reuse.id, [code], "live", today()),
            reuse.id,
            stage,
        )
        assert "Produktivbetrieb" in error.detail
    reuse = advance(people, reuse, "live")
    provider_inbox = inbox(people["provider"])
    assert reuses.update_rollout(adopter, reuse.id, [code], "live", today()) == 1
    row = db.session.scalar(select(Rollout).where(Rollout.reuse_id == reuse.id))
    assert (row.status, row.live_on) == ("live", today())
    assert inbox(people["provider"]) == provider_inbox + 1


def test_bulk_updates_are_all_or_nothing(people):
    reuse = drive(people, "live")
    adopter = people["adopter"]
    fifty = [a.ags for a in authorities(ADOPTER, AuthorityLevel.GEMEINDE, 51)]
    not_added, fifty = fifty[50], fifty[:50]
    hessian = authorities(SECOND_ADOPTER, AuthorityLevel.GEMEINDE, 1)[0].ags

    audit_before, events_before = count(AuditEvent), count(RolloutEvent)
    assert reuses.add_rollout_authorities(adopter, reuse.id, fifty, effective_date()) == 50
    assert count(AuditEvent) == audit_before + 1  # one row for the whole batch
    assert count(RolloutEvent) == events_before + 50
    assert '"count":50' in last_audit().details

    reuses.update_rollout(adopter, reuse.id, fifty[:1], "connecting", effective_date())
    for codes, error, field in (
        (fifty, Conflict, None),  # the first one is connecting already
        (fifty[1:] + [hessian], Invalid, "authorities"),
        (fifty[1:] + [not_added], Invalid, "authorities"),
        (fifty[1:] + ["09999999"], Invalid, "authorities"),
    ):
        refused = assert_refused(
            error,
            lambda codes=codes: reuses.update_rollout(
                adopter, reuse.id, codes, "connecting", today()
            ),
            reuse.id,
        )
        if field:
            assert field in refused.errors
    counts = reuses.rollout_progress([reuse.id])[reuse.id]
    assert (counts.planned, counts.connecting, counts.live) == (49, 1, 0)

    audit_before, events_before = count(AuditEvent), count(RolloutEvent)
    assert reuses.update_rollout(adopter, reuse.id, fifty[1:], "connecting", today()) == 49
    assert reuses.update_rollout(adopter, reuse.id, fifty, "live", today()) == 50
    assert count(AuditEvent) == audit_before + 2
    assert [
        e.action
        for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(2))
    ] == ["rollout.live", "rollout.connecting"]
    assert count(RolloutEvent) == events_before + 99
    assert set(statuses(reuse.id).values()) == {"live"}
    assert reuses.rollout_progress([reuse.id])[reuse.id].percent_live == 100


def test_rollout_history_progress_and_map_agree(people):
    reuse = drive(people, "live")
    adopter = people["adopter"]
    kreise = authorities(ADOPTER, AuthorityLevel.KREIS, 3)
    gemeinden = [
        db.session.scalar(
            select(Authority)
            .where(Authority.level == AuthorityLevel.GEMEINDE, Authority.kreis_ags == kreis.ags)
            .limit(1)
        )
        for kreis in kreise
    ]
    codes = [a.ags for a in kreise + gemeinden if a is not None]
    start = effective_date()
    reuses.add_rollout_authorities(adopter, reuse.id, codes, start)
    reuses.update_rollout(adopter, reuse.id, codes[:4], "connecting", start + timedelta(days=3))
    reuses.update_rollout(adopter, reuse.id, codes[:2], "live", start + timedelta(days=7))

    progress = reuses.rollout_progress([reuse.id])[reuse.id]
    assert (progress.planned, progress.connecting, progress.live) == (len(codes) - 4, 2, 2)
    assert progress.total == len(codes)
    by_kreis = reuses.rollout_by_kreis(reuse)
    assert set(by_kreis) == {kreis.ags for kreis in kreise}
    for status in ("planned", "connecting", "live"):
        assert sum(c.get(status, 0) for c in by_kreis.values()) == getattr(progress, status)
    assert reuses.kreis_status(by_kreis[codes[0][:5]]) == "live"
    assert reuses.kreis_status({}) == "none"

    row = db.session.scalar(
        select(Rollout)
        .join(Rollout.authority)
        .where(Rollout.reuse_id == reuse.id, Authority.ags == codes[0])
    )
    events = db.session.scalars(
        select(RolloutEvent).where(RolloutEvent.rollout_id == row.id).order_by(RolloutEvent.id)
    )
    assert [(e.from_status, e.to_status, e.on, e.actor_id) for e in events] == [
        (None, "planned", start, adopter.id),
        ("planned", "connecting", start + timedelta(days=3), adopter.id),
        ("connecting", "live", start + timedelta(days=7), adopter.id),
    ]
    _reuse, page = reuses.list_rollouts(people["provider"], reuse.id, status="live")
    assert sorted(r.authority.ags for r in page.items) == sorted(codes[:2])


# --- 7. tenant isolation ------------------------------------------------------------------


def visible(actor, listing_id: int) -> set[int]:
    page = reuses.list_reuses(actor, listing_id=listing_id, per_page=200)
    return {reuse.id for reuse in page.items}


def test_outsiders_see_a_reuse_only_as_alliance_members(people):
    reuse = drive(people, "ordered")
    listing_id, reuse_id, contract_id = reuse.listing_id, reuse.id, reuse.contract.id
    for kind in ("adopter", "adopter_viewer", "provider", "provider_viewer", "fitko", "admin"):
        assert visible(people[kind], listing_id) == {reuse_id}, kind
        assert reuses.get_reuse(people[kind], reuse_id).id == reuse_id
        assert reuses.get_contract(people[kind], contract_id).id == contract_id

    def assert_hidden(kind, contract_too=True):
        actor = people[kind]
        assert visible(actor, listing_id) == set()
        assert reuse_id not in {r.id for r in reuses.list_reuses(actor, per_page=200).items}
        for call in (
            lambda: reuses.get_reuse(actor, reuse_id),
            lambda: reuses.list_rollouts(actor, reuse_id),
            lambda: reuses.transition(actor, reuse_id, "hold"),
        ):
            with pytest.raises(NotFound):
                call()

    for kind in ("outsider", "outsider_viewer"):
        assert_hidden(kind)
        with pytest.raises(NotFound):
            reuses.get_contract(people[kind], contract_id)

    alliance = db.session.scalar(select(Alliance).where(Alliance.listing_id == listing_id))
    if alliance is None:
        alliance = Alliance(listing_id=listing_id, lead_land_ags=PROVIDER)
        db.session.add(alliance)
        db.session.flush()
    membership = AllianceMembership(
        alliance_id=alliance.id, land_ags=OUTSIDER, status=MembershipStatus.REQUESTED
    )
    db.session.add(membership)
    db.session.commit()
    assert_hidden("outsider")  # asking to join is not being a member

    membership.status = MembershipStatus.MEMBER
    db.session.commit()
    for kind in ("outsider", "outsider_viewer"):
        assert visible(people[kind], listing_id) == {reuse_id}
        assert reuses.get_reuse(people[kind], reuse_id).id == reuse_id
        with pytest.raises(NotFound):  # the contract binds FITKO and the adopter only
            reuses.get_contract(people[kind], contract_id)
    with pytest.raises(Forbidden):  # seeing is not acting
        reuses.transition(people["outsider"], reuse_id, "hold")


def test_bund_staff_see_no_lands_reuses(people):
    reuse = drive(people, "ordered")
    bmi = db.session.scalar(select(Organisation).where(Organisation.kind == OrganisationKind.BUND))
    bund = admin.create_user(
        people["admin"],
        email="referat-dv@bmi.test",
        name="Referat DV (BMI)",
        role="editor",
        organisation_id=bmi.id,
        password="ein-langes-Testpasswort",
    )
    assert count(Reuse) > 0
    assert reuses.list_reuses(bund, per_page=200).total == 0
    for call in (
        lambda: reuses.get_reuse(bund, reuse.id),
        lambda: reuses.get_contract(bund, reuse.contract.id),
    ):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(Forbidden):
        reuses.express_interest(bund, reuse.listing_id, {})


def test_list_filters_stay_within_the_visible_rows(people):
    reuse = drive(people, "coordination")
    other = drive(people, "interest", listing=reuse.listing, adopter="second_adopter")
    provider, adopter = people["provider"], people["adopter"]
    assert visible(provider, reuse.listing_id) == {reuse.id, other.id}
    assert visible(adopter, reuse.listing_id) == {reuse.id}  # not Hessen's reuse
    page = reuses.list_reuses(provider, listing_id=reuse.listing_id, stage="interest")
    assert [r.id for r in page.items] == [other.id]
    page = reuses.list_reuses(provider, listing_id=reuse.listing_id, land=SECOND_ADOPTER)
    assert [r.id for r in page.items] == [other.id]
    page = reuses.list_reuses(provider, listing_id=reuse.listing_id, side="adopter")
    assert page.items == []
    page = reuses.list_reuses(adopter, listing_id=reuse.listing_id, land=SECOND_ADOPTER)
    assert page.items == []
    with pytest.raises(Invalid):
        reuses.list_reuses(provider, stage="irgendwas")


# --- 8. own use ---------------------------------------------------------------------------------


def test_own_use(people):
    listing = publish(people)
    provider = people["provider"]
    for kind in ("adopter", "provider_viewer", "fitko", "admin", "outsider"):
        with pytest.raises(Forbidden):
            reuses.record_own_use(people[kind], listing.id)
    with pytest.raises(Invalid) as info:
        reuses.record_own_use(provider, listing.id, today() + timedelta(days=1))
    assert "live_since" in info.value.errors
    assert count(Reuse, Reuse.listing_id == listing.id) == 0

    since = today() - timedelta(days=100)
    reuse = reuses.record_own_use(provider, listing.id, since)
    assert (reuse.stage, reuse.adopter_land_ags, reuse.contract) == ("live", PROVIDER, None)
    assert reuses.is_own_use(reuse)
    assert [(t.from_stage, t.to_stage, t.actor_id) for t in reuses.history(reuse)] == [
        (None, "live", provider.id)
    ]
    assert last_audit().action == "reuse.own_use_recorded"

    # The rollout needs no contract.
    codes = [a.ags for a in authorities(PROVIDER, AuthorityLevel.GEMEINDE, 2)]
    assert reuses.add_rollout_authorities(provider, reuse.id, codes, since) == 2
    assert reuses.update_rollout(provider, reuse.id, codes, "connecting", since) == 2
    assert reuses.update_rollout(provider, reuse.id, codes[:1], "live", today()) == 1
    assert reuses.rollout_progress([reuse.id])[reuse.id].live == 1
    bavarian = authorities(ADOPTER, AuthorityLevel.GEMEINDE, 1)[0].ags
    assert_refused(
        Invalid,
        lambda: reuses.add_rollout_authorities(provider, reuse.id, [bavarian]),
        reuse.id,
    )
    assert_refused(  # the reuse is Brandenburg's own: Bayern does not even see it
        NotFound,
        lambda: reuses.add_rollout_authorities(people["adopter"], reuse.id, codes),
        reuse.id,
    )
    assert_refused(
        Forbidden,
        lambda: reuses.add_rollout_authorities(people["provider_viewer"], reuse.id, codes),
        reuse.id,
    )

    with pytest.raises(Conflict):
        reuses.record_own_use(provider, listing.id)
    db.session.rollback()
    assert count(Reuse, Reuse.listing_id == listing.id) == 1
