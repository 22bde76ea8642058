"""The listings service, called directly: lifecycle, permissions, validation, audit and
notifications, revisions and versions, optimistic concurrency, search, facets, uploads.

Every listing an assertion depends on is created here through the service; the demo
listings only appear in the demo's own idempotency test. A token no demo text contains
(``TOKEN``) narrows searches to this module's listings.
"""

from __future__ import annotations

import hashlib
import json
import re
from itertools import product

import pytest
from sqlalchemy import func, select

from fitstore.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed
from fitstore.extensions import db
from fitstore.models import (
    AuditEvent,
    Listing,
    ListingDocument,
    ListingRevision,
    ListingStatus,
    ListingVersion,
    Notification,
    Organisation,
    RevisionStatus,
    Role,
    User,
)
from fitstore.services import listings
from fitstore.services.listings import TRANSITIONS, CatalogueQuery
from tests.factories import listing_content, user_by_email

TOKEN = "zebrafink"
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def content(**overrides) -> dict:
    overrides.setdefault("title", "Testleistung Zebrafink")
    overrides.setdefault("description", f"Eine Testleistung ({TOKEN}).")
    return listing_content(**overrides)


user = user_by_email


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def reason() -> str:
    return "Die Kostenangaben fehlen noch."


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def people(ctx):
    return {
        key: user(f"{key}@demo.test")
        for key in (
            "editor-bb",
            "viewer-bb",
            "editor-by",
            "editor-he",
            "fitko-1",
            "fitko-2",
            "admin",
        )
    }


def make(people, status: ListingStatus, editor: str = "editor-bb", **overrides) -> Listing:
    """A listing in ``status``, moved there through the service."""
    listing = listings.create_listing(people[editor], content(**overrides))
    if status == ListingStatus.DRAFT:
        return listing
    listings.submit_listing(people[editor], listing.id)
    if status == ListingStatus.SUBMITTED:
        return listing
    listings.publish_listing(people["fitko-1"], listing.id)
    if status == ListingStatus.PUBLISHED:
        return listing
    return listings.withdraw_listing(people[editor], listing.id)


def status_in_db(listing_id: int) -> ListingStatus:
    db.session.expire_all()
    return db.session.get(Listing, listing_id).status


def search(actor, **params):
    params.setdefault("per_page", 200)
    return listings.search_catalogue(actor, CatalogueQuery(**params))


def found_ids(actor, **params) -> list[int]:
    page, _facets = search(actor, **params)
    return [listing.id for listing in page.items]


# --- lifecycle ---------------------------------------------------------------------------

ACTIONS = ("submit", "publish", "reject", "withdraw")


def run_action(people, action: str, listing_id: int):
    if action == "submit":
        return listings.submit_listing(people["editor-bb"], listing_id)
    if action == "publish":
        return listings.publish_listing(people["fitko-1"], listing_id)
    if action == "reject":
        return listings.reject_listing(people["fitko-1"], listing_id, reason())
    return listings.withdraw_listing(people["editor-bb"], listing_id)


def test_the_matrix_covers_every_transition():
    assert set(TRANSITIONS) <= set(product(ListingStatus, ACTIONS))


@pytest.mark.parametrize(("status", "action"), list(product(ListingStatus, ACTIONS)))
def test_every_status_and_action(people, status, action):
    listing = make(people, status)
    audit_rows = count(AuditEvent)
    target = TRANSITIONS.get((status, action))
    if target is None:
        with pytest.raises(Conflict):
            run_action(people, action, listing.id)
        assert status_in_db(listing.id) == status
        assert count(AuditEvent) == audit_rows
    else:
        run_action(people, action, listing.id)
        assert status_in_db(listing.id) == target
        assert count(AuditEvent) == audit_rows + 1


def test_a_rejection_needs_a_reason_and_keeps_it_on_the_draft(people):
    listing = make(people, ListingStatus.SUBMITTED)
    with pytest.raises(Invalid) as error:
        listings.reject_listing(people["fitko-1"], listing.id, "   ")
    assert "reason" in error.value.errors
    assert status_in_db(listing.id) == ListingStatus.SUBMITTED
    listings.reject_listing(people["fitko-1"], listing.id, reason())
    rejected = db.session.get(Listing, listing.id)
    assert rejected.status == ListingStatus.DRAFT and rejected.rejection_reason == reason()
    # Submitting again clears the old reason.
    listings.submit_listing(people["editor-bb"], listing.id)
    assert db.session.get(Listing, listing.id).rejection_reason is None


def test_fitko_may_withdraw_too(people):
    listing = make(people, ListingStatus.PUBLISHED)
    listings.withdraw_listing(people["fitko-1"], listing.id)
    assert status_in_db(listing.id) == ListingStatus.WITHDRAWN


@pytest.mark.parametrize("status", [ListingStatus.SUBMITTED, ListingStatus.WITHDRAWN])
def test_submitted_and_withdrawn_listings_cannot_be_edited(people, status):
    listing = make(people, status)
    with pytest.raises(Conflict):
        listings.update_listing(people["editor-bb"], listing.id, content(title="Neuer Titel"))
    db.session.expire_all()
    assert db.session.get(Listing, listing.id).title == "Testleistung Zebrafink"


@pytest.mark.parametrize("status", [ListingStatus.DRAFT, ListingStatus.SUBMITTED])
def test_revision_decisions_need_a_pending_revision(people, status):
    listing = make(people, status)
    with pytest.raises(Conflict):
        listings.accept_revision(people["fitko-1"], listing.id)
    with pytest.raises(Conflict):
        listings.reject_revision(people["fitko-1"], listing.id, reason())
    published = make(people, ListingStatus.PUBLISHED)
    with pytest.raises(Conflict):
        listings.accept_revision(people["fitko-1"], published.id)


# --- who may do what -------------------------------------------------------------------------


def _review(people, who: str, action: str, listing_id: int):
    actor = people[who]
    if action == "publish":
        return listings.publish_listing(actor, listing_id)
    if action == "reject":
        return listings.reject_listing(actor, listing_id, reason())
    if action == "accept_revision":
        return listings.accept_revision(actor, listing_id)
    return listings.reject_revision(actor, listing_id, reason())


@pytest.mark.parametrize("who", ["editor-bb", "viewer-bb", "editor-by", "admin"])
@pytest.mark.parametrize("action", ["publish", "reject", "accept_revision", "reject_revision"])
def test_only_fitko_reviews(people, who, action):
    if action in ("publish", "reject"):
        listing = make(people, ListingStatus.SUBMITTED)
        expected_status = ListingStatus.SUBMITTED
    else:
        listing = make(people, ListingStatus.PUBLISHED)
        listings.update_listing(people["editor-bb"], listing.id, content(title="Neuer Titel"))
        expected_status = ListingStatus.PUBLISHED
    audit_rows = count(AuditEvent)
    with pytest.raises((Forbidden, NotFound)):
        _review(people, who, action, listing.id)
    assert status_in_db(listing.id) == expected_status
    assert count(AuditEvent) == audit_rows
    assert count(ListingVersion, ListingVersion.listing_id == listing.id) == (
        0 if expected_status == ListingStatus.SUBMITTED else 1
    )
    # ... and FITKO may.
    _review(people, "fitko-2", action, listing.id)
    assert count(AuditEvent) == audit_rows + 1


def test_another_lands_editor_neither_sees_nor_edits_a_draft(people):
    draft = make(people, ListingStatus.DRAFT)
    stranger = people["editor-by"]
    for attempt in (
        lambda: listings.get_listing(stranger, draft.id),
        lambda: listings.update_listing(stranger, draft.id, content(title="Übernommen")),
        lambda: listings.submit_listing(stranger, draft.id),
        lambda: listings.versions(stranger, draft.id),
        lambda: listings.add_document(
            stranger, draft.id, title="Fremd", filename="a.pdf", content=PDF
        ),
    ):
        with pytest.raises(NotFound):
            attempt()
    assert found_ids(stranger, q=TOKEN) == []
    assert found_ids(stranger, q=TOKEN, status=["draft"]) == []
    page, facets = search(stranger, q=TOKEN)
    assert page.total == 0 and all(facet.values == [] for facet in facets)
    db.session.expire_all()
    assert db.session.get(Listing, draft.id).title == "Testleistung Zebrafink"
    assert count(ListingDocument, ListingDocument.listing_id == draft.id) == 0
    # The own Land and FITKO do see it; a viewer of the own Land cannot edit it.
    assert found_ids(people["viewer-bb"], q=TOKEN) == [draft.id]
    assert found_ids(people["fitko-1"], q=TOKEN) == [draft.id]
    with pytest.raises(NotFound):
        listings.update_listing(people["viewer-bb"], draft.id, content(title="Geändert"))


def test_fitko_and_admin_cannot_create_or_edit(people):
    draft = make(people, ListingStatus.DRAFT)
    for who in ("fitko-1", "admin", "viewer-bb"):
        with pytest.raises(Forbidden):
            listings.create_listing(people[who], content())
        with pytest.raises(NotFound):
            listings.update_listing(people[who], draft.id, content(title="Geändert"))


def test_the_public_sees_only_published_listings(people):
    made = {status: make(people, status) for status in ListingStatus}
    published = made[ListingStatus.PUBLISHED]
    assert found_ids(None, q=TOKEN) == [published.id]
    assert found_ids(None, q=TOKEN, status=["draft", "submitted", "withdrawn"]) == []
    assert listings.get_listing(None, published.id).id == published.id
    for status, listing in made.items():
        if status != ListingStatus.PUBLISHED:
            with pytest.raises(NotFound):
                listings.get_listing(None, listing.id)
    page, facets = search(None, q=TOKEN)
    assert "status" not in {facet.name for facet in facets}
    # Internal users filter by status and get a status facet.
    page, facets = search(people["fitko-1"], q=TOKEN)
    statuses = {value: n for value, _label, n, _sel in _facet(facets, "status").values}
    assert statuses == {"draft": 1, "submitted": 1, "published": 1, "withdrawn": 1}
    assert found_ids(people["fitko-1"], q=TOKEN, status=["submitted"]) == [
        made[ListingStatus.SUBMITTED].id
    ]


# --- validation ---------------------------------------------------------------------------------

BAD_INPUT = [
    ("leika_keys", ["980000000000"], "14 Ziffern"),
    ("leika_keys", ["9800000000000"], "14 Ziffern"),
    ("leika_keys", [], "mindestens einen"),
    ("ozg_id", "10a55", "nur aus Ziffern"),
    ("themenfeld_number", 99, "14 Themenfelder"),
    ("reifegrad", 7, "zwischen 0 und 4"),
    ("annual_cost_cents", -1, "nicht negativ"),
    ("annual_cost_cents", 2**63, "zu groß"),
    ("connection_cost_cents", 12.5, "ganze Zahl"),
    ("connection_cost_cents", "100", "ganze Zahl"),
    ("checklist", {"gibt_es_nicht": True}, "Unbekannte Kriterien"),
    ("checklist", {"ui_barrierefrei": "ja"}, "ja oder nein"),
    ("transport", "brieftaube", "Unbekannter Wert"),
    ("title", "", "erforderlich"),
    ("contact_email", "keine-adresse", "E-Mail-Adresse"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT)
def test_bad_input_is_refused_with_a_message_and_nothing_is_saved(people, field, value, message):
    before = count(Listing), count(AuditEvent)
    with pytest.raises(Invalid) as error:
        listings.create_listing(people["editor-bb"], content(**{field: value}))
    assert list(error.value.errors) == [field]
    assert any(message in text for text in error.value.errors[field])
    db.session.rollback()
    assert (count(Listing), count(AuditEvent)) == before


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT[:6])
def test_a_bad_update_leaves_the_draft_unchanged(people, field, value, message):
    draft = make(people, ListingStatus.DRAFT)
    before = listings.content_of(draft), draft.lock_version, count(AuditEvent)
    with pytest.raises(Invalid):
        listings.update_listing(
            people["editor-bb"], draft.id, content(title="Geändert", **{field: value})
        )
    db.session.rollback()
    db.session.expire_all()
    fresh = db.session.get(Listing, draft.id)
    assert (listings.content_of(fresh), fresh.lock_version, count(AuditEvent)) == before


def test_several_bad_fields_are_all_named(people):
    with pytest.raises(Invalid) as error:
        listings.create_listing(
            people["editor-bb"],
            content(ozg_id="abc", reifegrad=7, themenfeld_number=99, leika_keys="123"),
        )
    assert set(error.value.errors) == {"ozg_id", "reifegrad", "themenfeld_number", "leika_keys"}


def test_good_values_are_normalised(people):
    listing = listings.create_listing(
        people["editor-bb"],
        content(
            leika_keys="98000000000001, 98000000000002;98000000000001",
            reifegrad="2",
            themenfeld_number="6",
            checklist={"ui_barrierefrei": True},
        ),
    )
    assert listing.leika_list == ["98000000000001", "98000000000002"]
    assert (listing.reifegrad, listing.themenfeld_number) == (2, 6)
    state = listings.checklist_state(listing)
    assert state["ui_barrierefrei"] is True and state["ui_mandantenfaehig"] is False
    assert len(state) == len(listings.criteria())


def test_a_script_in_the_description_is_stored_as_written(people):
    # Stored verbatim (the text is the provider's); the pages render it sanitised.
    text = f'Hallo <script>alert("x")</script> {TOKEN}'
    listing = listings.create_listing(people["editor-bb"], content(description=text))
    db.session.expire_all()
    assert db.session.get(Listing, listing.id).description == text


def test_the_operator_must_be_an_active_it_dienstleister(people):
    land = db.session.scalar(select(Organisation.id).where(Organisation.short_name == "LAND-BB"))
    with pytest.raises(Invalid) as error:
        listings.create_listing(people["editor-bb"], content(operator_id=land))
    assert "operator_id" in error.value.errors
    zit = db.session.scalar(select(Organisation.id).where(Organisation.short_name == "ZIT-BB"))
    assert listings.create_listing(people["editor-bb"], content(operator_id=zit)).operator_id == zit


# --- audit rows and notifications -------------------------------------------------------------------


def _notified(users) -> dict[int, int]:
    return {
        u.id: count(Notification, Notification.user_id == u.id)
        for u in users
        if u.active and u.organisation.active
    }


def _fitko_users() -> list[User]:
    return list(db.session.scalars(select(User).where(User.role == Role.FITKO)))


def _provider_editors(ags: str) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .join(User.organisation)
            .where(User.role == Role.EDITOR, Organisation.land_ags == ags)
        )
    )


def _step(step, expected_action: str, told: list[User]):
    """Run ``step``; exactly one audit row with ``expected_action``; each of ``told`` got one notice."""
    audit_rows = count(AuditEvent)
    others = [u for u in db.session.scalars(select(User)) if u not in told]
    before, before_others = _notified(told), _notified(others)
    result = step()
    assert count(AuditEvent) == audit_rows + 1
    last = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert last.action == expected_action
    assert before  # somebody is on the other side
    assert _notified(told) == {uid: n + 1 for uid, n in before.items()}
    assert _notified(others) == before_others
    return result


def test_every_change_writes_one_audit_row_and_tells_the_other_side(people):
    editor, fitko = people["editor-bb"], people["fitko-1"]
    fitko_users, editors = _fitko_users(), _provider_editors("12")

    audit_rows = count(AuditEvent)
    listing = listings.create_listing(editor, content())
    assert count(AuditEvent) == audit_rows + 1
    listing_id = listing.id

    _step(lambda: listings.submit_listing(editor, listing_id), "listing.submitted", fitko_users)
    _step(lambda: listings.reject_listing(fitko, listing_id, reason()), "listing.rejected", editors)
    audit_rows = count(AuditEvent)
    listings.update_listing(editor, listing_id, content(title="Zweiter Anlauf"))
    assert count(AuditEvent) == audit_rows + 1
    _step(lambda: listings.submit_listing(editor, listing_id), "listing.submitted", fitko_users)
    _step(lambda: listings.publish_listing(fitko, listing_id), "listing.published", editors)
    _step(
        lambda: listings.update_listing(editor, listing_id, content(title="Dritter Titel")),
        "listing.revision_proposed",
        fitko_users,
    )
    _step(
        lambda: listings.reject_revision(fitko, listing_id, reason()),
        "listing.revision_rejected",
        editors,
    )
    _step(
        lambda: listings.update_listing(editor, listing_id, content(title="Vierter Titel")),
        "listing.revision_proposed",
        fitko_users,
    )
    _step(lambda: listings.accept_revision(fitko, listing_id), "listing.revision_accepted", editors)
    _step(lambda: listings.withdraw_listing(editor, listing_id), "listing.withdrawn", fitko_users)
    event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert (event.object_type, event.object_id, event.land_ags) == (
        "listing",
        str(listing_id),
        "12",
    )
    assert event.actor_email == "editor-bb@demo.test"


def test_a_withdrawal_by_fitko_tells_the_provider(people):
    listing = make(people, ListingStatus.PUBLISHED)
    _step(
        lambda: listings.withdraw_listing(people["fitko-2"], listing.id),
        "listing.withdrawn",
        _provider_editors("12"),
    )


# --- revisions and versions -----------------------------------------------------------------------


def test_a_pending_revision_leaves_the_published_text_until_accepted(people):
    listing = make(people, ListingStatus.PUBLISHED, title=f"Alter Titel {TOKEN}")
    revision = listings.update_listing(
        people["editor-bb"],
        listing.id,
        content(title="Neuer Titel Kranichflug", description=f"Neue Beschreibung {TOKEN}"),
    )
    assert isinstance(revision, ListingRevision) and revision.status == RevisionStatus.PENDING
    db.session.expire_all()
    public = listings.get_listing(None, listing.id)
    assert public.title == f"Alter Titel {TOKEN}" and public.published_version == 1
    assert found_ids(None, q="Kranichflug") == []
    submitted, revisions = listings.review_queue(people["fitko-1"])
    assert revision.id in [r.id for r in revisions]
    # A second edit replaces the pending revision instead of queueing another one.
    listings.update_listing(
        people["editor-bb"], listing.id, content(title="Neuer Titel Kranichflug 2")
    )
    pending = db.session.scalars(
        select(ListingRevision).where(
            ListingRevision.listing_id == listing.id,
            ListingRevision.status == RevisionStatus.PENDING,
        )
    ).all()
    assert len(pending) == 1
    listings.accept_revision(people["fitko-1"], listing.id)
    db.session.expire_all()
    accepted = listings.get_listing(None, listing.id)
    assert accepted.title == "Neuer Titel Kranichflug 2" and accepted.published_version == 2
    assert found_ids(None, q="Kranichflug") == [listing.id]
    assert listings.pending_revision(accepted) is None


def test_an_unchanged_edit_of_a_published_listing_is_refused(people):
    listing = make(people, ListingStatus.PUBLISHED)
    with pytest.raises(Invalid):
        listings.update_listing(people["editor-bb"], listing.id, content())


def test_versions_keep_old_texts_readable_with_a_diff(people):
    listing = make(people, ListingStatus.PUBLISHED, title="Version eins")
    listings.update_listing(
        people["editor-bb"], listing.id, content(title="Version zwei", reifegrad=4)
    )
    listings.accept_revision(people["fitko-1"], listing.id)
    _listing, history = listings.versions(None, listing.id)
    assert [version.number for version, _changes in history] == [1, 2]
    (first, first_changes), (second, second_changes) = history
    assert json.loads(first.content)["title"] == "Version eins"
    assert json.loads(second.content)["title"] == "Version zwei"
    assert first_changes == []
    assert sorted(second_changes) == [
        ("reifegrad", 3, 4),
        ("title", "Version eins", "Version zwei"),
    ]
    assert second.published_by_id == people["fitko-1"].id


def test_withdrawing_closes_a_pending_revision(people):
    listing = make(people, ListingStatus.PUBLISHED)
    revision = listings.update_listing(people["editor-bb"], listing.id, content(title="Neu"))
    listings.withdraw_listing(people["editor-bb"], listing.id)
    db.session.expire_all()
    assert db.session.get(ListingRevision, revision.id).status == RevisionStatus.REJECTED


# --- optimistic concurrency -----------------------------------------------------------------------


def test_a_stale_expected_version_is_refused(people):
    draft = make(people, ListingStatus.DRAFT)
    stale = draft.lock_version
    listings.update_listing(people["editor-bb"], draft.id, content(title="Erste Änderung"), stale)
    audit_rows = count(AuditEvent)
    with pytest.raises(PreconditionFailed):
        listings.update_listing(people["editor-bb"], draft.id, content(title="Verloren"), stale)
    with pytest.raises(PreconditionFailed):
        listings.submit_listing(people["editor-bb"], draft.id, stale)
    db.session.expire_all()
    fresh = db.session.get(Listing, draft.id)
    assert fresh.title == "Erste Änderung" and fresh.status == ListingStatus.DRAFT
    assert count(AuditEvent) == audit_rows
    before_submit = fresh.lock_version
    listings.submit_listing(people["editor-bb"], draft.id, before_submit)
    with pytest.raises(PreconditionFailed):
        listings.publish_listing(people["fitko-1"], draft.id, before_submit)
    assert status_in_db(draft.id) == ListingStatus.SUBMITTED


def test_two_sessions_editing_the_same_listing_the_second_gets_a_conflict(app, people):
    """Session B loads the listing, session A changes and commits it, then B writes its stale
    copy: B gets a Conflict (the version column's StaleDataError, mapped), A's change stays.

    Both sessions go through the service. B ends its read transaction before A writes (as a web
    form does between GET and POST), so this runs unchanged on PostgreSQL, where the harness puts
    every session on the test's one connection and a commit is a released savepoint.
    """
    draft = make(people, ListingStatus.DRAFT)
    draft_id = draft.id
    session_b = db.session()
    session_a = db.session.session_factory()  # a second session, same configuration
    session_b.expire_on_commit = False
    try:
        loaded_by_b = session_b.get(Listing, draft_id)
        editor_id = people["editor-bb"].id
        session_b.commit()  # B keeps its copy (and its actor), stale once A commits
        db.session.registry.set(session_a)
        listings.update_listing(
            session_a.get(User, editor_id), draft_id, content(title="Änderung von A")
        )
        version_after_a = session_a.get(Listing, draft_id).lock_version
        assert version_after_a == loaded_by_b.lock_version + 1
        session_a.close()
        db.session.registry.set(session_b)
        audit_rows = count(AuditEvent)
        with pytest.raises(Conflict):
            listings.update_listing(people["editor-bb"], draft_id, content(title="Änderung von B"))
    finally:
        db.session.registry.set(session_b)
        session_b.expire_on_commit = True
        session_a.close()
    db.session.expire_all()
    fresh = db.session.get(Listing, draft_id)
    assert (fresh.title, fresh.lock_version) == ("Änderung von A", version_after_a)
    assert count(AuditEvent) == audit_rows


# --- search, facets, sorting --------------------------------------------------------------------------


@pytest.fixture
def seed_cases(people):
    """The seed's three services, published, with their own test keys."""
    made = {}
    for key, editor, title, ozg_id, leika in [
        ("aufenthalt", "editor-bb", "Aufenthaltstitel", "98255", "98000000010255"),
        ("einbuergerung", "editor-by", "Einbürgerung", "98301", "98000000010301"),
        ("verpflichtung", "editor-he", "Verpflichtungserklärung", "98302", "98000000010302"),
    ]:
        made[key] = make(
            people,
            ListingStatus.PUBLISHED,
            editor=editor,
            title=f"{title} (Test)",
            ozg_name=title,
            ozg_id=ozg_id,
            leika_keys=[leika],
        )
    return made


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("Aufenthaltstitels", "aufenthalt"),
        ("aufenthaltstitel", "aufenthalt"),
        ("Einbürgerungen", "einbuergerung"),
        ("EINBÜRGERUNG", "einbuergerung"),
        ("Verpflichtungserklärungen", "verpflichtung"),
        ("98000000010255", "aufenthalt"),
        ("98302", "verpflichtung"),
        ("Einbürgerungen Bayern", "einbuergerung"),
    ],
)
def test_german_word_forms_codes_and_names_are_found(people, seed_cases, query, key):
    for actor in (None, people["fitko-1"]):
        ids = found_ids(actor, q=query)
        assert seed_cases[key].id in ids
        assert not {m.id for k, m in seed_cases.items() if k != key} & set(ids)


@pytest.mark.parametrize("query", ["Quastenflosserzucht", "Aufenthaltstitel Quastenflosser"])
def test_a_term_that_is_nowhere_finds_nothing(people, seed_cases, query):
    page, facets = search(people["fitko-1"], q=query)
    assert page.total == 0 and page.items == []
    assert all(facet.values == [] for facet in facets)


@pytest.mark.parametrize(
    "query", ["", "   ", "!!! ???", "a:* & | !b", "und die der", "'; DROP TABLE listing; --"]
)
def test_odd_queries_never_fail(people, query):
    page, _facets = search(None, q=query)
    assert page.total >= 0


def _facet(facets, name):
    return next(facet for facet in facets if facet.name == name)


def _counts(facets, name) -> dict:
    return {value: n for value, _label, n, _selected in _facet(facets, name).values}


@pytest.fixture
def facet_set(people):
    made = [
        make(people, ListingStatus.PUBLISHED, themenfeld_number=4, reifegrad=3),
        make(
            people,
            ListingStatus.PUBLISHED,
            themenfeld_number=4,
            reifegrad=2,
            transport="osci_dvdv",
        ),
        make(people, ListingStatus.PUBLISHED, themenfeld_number=6, reifegrad=3),
        make(people, ListingStatus.PUBLISHED, editor="editor-he", themenfeld_number=6, reifegrad=4),
        make(people, ListingStatus.DRAFT, themenfeld_number=9, reifegrad=1),
    ]
    return made


def test_facet_counts(people, facet_set):
    page, facets = search(None, q=TOKEN)
    assert page.total == 4
    assert _counts(facets, "themenfeld") == {4: 2, 6: 2}
    assert _counts(facets, "land") == {"06": 1, "12": 3}
    assert _counts(facets, "reifegrad") == {2: 1, 3: 2, 4: 1}
    assert _counts(facets, "transport") == {"fit_connect": 3, "osci_dvdv": 1}
    labels = {value: label for value, label, _n, _s in _facet(facets, "themenfeld").values}
    assert labels[4] == "Ein- & Auswanderung"
    # The provider sees its draft too, and a status facet.
    page, facets = search(people["editor-bb"], q=TOKEN)
    assert page.total == 5
    assert _counts(facets, "themenfeld") == {4: 2, 6: 2, 9: 1}
    assert _counts(facets, "status") == {"draft": 1, "published": 4}


def test_selecting_a_facet_keeps_its_own_counts_and_narrows_the_others(people, facet_set):
    page, facets = search(None, q=TOKEN, themenfeld=[4])
    assert page.total == 2
    assert _counts(facets, "themenfeld") == {4: 2, 6: 2}
    selected = {value for value, _l, _n, chosen in _facet(facets, "themenfeld").values if chosen}
    assert selected == {4}
    assert _counts(facets, "land") == {"12": 2}
    assert _counts(facets, "reifegrad") == {2: 1, 3: 1}
    assert _counts(facets, "transport") == {"fit_connect": 1, "osci_dvdv": 1}

    page, facets = search(None, q=TOKEN, themenfeld=[4], land=["06"])
    assert page.total == 0
    assert _counts(facets, "themenfeld") == {6: 1}
    assert _counts(facets, "land") == {"12": 2}

    page, facets = search(None, q=TOKEN, reifegrad=[3], transport=["fit_connect"])
    assert page.total == 2
    assert _counts(facets, "reifegrad") == {3: 2, 4: 1}
    assert _counts(facets, "transport") == {"fit_connect": 2}


def test_sorting_by_title_date_and_relevance(people):
    first = make(people, ListingStatus.PUBLISHED, title="Cäsium-Genehmigung")
    second = make(people, ListingStatus.PUBLISHED, title="Anmeldung Bienenstand")
    third = make(people, ListingStatus.PUBLISHED, title="Bootsführerschein")
    assert found_ids(None, q=TOKEN, sort="title") == [second.id, third.id, first.id]
    assert found_ids(None, q=TOKEN, sort="date") == [third.id, second.id, first.id]

    description_hit = make(
        people,
        ListingStatus.PUBLISHED,
        title="Allgemeine Genehmigung",
        description=f"Auch für Wanderfalken {TOKEN}. " + "Weitere Angaben. " * 20,
    )
    title_hit = make(
        people,
        ListingStatus.PUBLISHED,
        title="Genehmigung Wanderfalken",
        description=f"Kurz {TOKEN}.",
    )
    assert found_ids(None, q="Wanderfalken") == [title_hit.id, description_hit.id]
    assert found_ids(None, q="wanderfalke", sort="relevance") == [
        title_hit.id,
        description_hit.id,
    ]
    assert found_ids(None, q="Wanderfalken", sort="title") == [description_hit.id, title_hit.id]


def test_pagination_counts_all_and_pages_through(people):
    made = [make(people, ListingStatus.DRAFT, title=f"Seite {n:02d}") for n in range(5)]
    page, _facets = search(people["editor-bb"], q=TOKEN, sort="title", per_page=2, page=2)
    assert (page.total, page.pages, page.has_prev, page.has_next) == (5, 3, True, True)
    assert [listing.id for listing in page.items] == [made[2].id, made[3].id]


# --- documents ---------------------------------------------------------------------------------------


def test_a_pdf_is_stored_with_its_sha256(people):
    draft = make(people, ListingStatus.DRAFT)
    audit_rows = count(AuditEvent)
    document = listings.add_document(
        people["editor-bb"],
        draft.id,
        title="Leistungsbeschreibung",
        filename="../x y.pdf",
        content=PDF,
    )
    db.session.expire_all()
    stored = db.session.get(ListingDocument, document.id)
    assert stored.sha256 == hashlib.sha256(PDF).hexdigest()
    assert stored.size == len(PDF) and stored.content == PDF
    assert stored.filename == "x_y.pdf"
    assert count(AuditEvent) == audit_rows + 1
    assert listings.get_document(people["viewer-bb"], draft.id, document.id).id == document.id
    with pytest.raises(NotFound):
        listings.get_document(people["editor-by"], draft.id, document.id)


@pytest.mark.parametrize(
    ("filename", "payload", "message"),
    [
        ("x.pdf", PNG, "kein PDF"),
        ("x.pdf", b"%PDF-1.4\n" + b"0" * 4096, "kein PDF"),  # no %%EOF trailer
        ("gross.pdf", b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024) + b"\n%%EOF\n", "10 MB"),
    ],
)
def test_refused_uploads_store_nothing(people, filename, payload, message):
    draft = make(people, ListingStatus.DRAFT)
    before = count(ListingDocument), count(AuditEvent)
    with pytest.raises(Invalid) as error:
        listings.add_document(
            people["editor-bb"], draft.id, title="Anlage", filename=filename, content=payload
        )
    assert any(message in text for text in error.value.errors["file"])
    db.session.rollback()
    assert (count(ListingDocument), count(AuditEvent)) == before


def test_exactly_ten_megabytes_are_accepted(people):
    draft = make(people, ListingStatus.DRAFT)
    payload = b"%PDF-1.4\n"
    payload += b"0" * (listings.MAX_DOCUMENT_BYTES - len(payload) - 7) + b"\n%%EOF\n"
    assert len(payload) == listings.MAX_DOCUMENT_BYTES
    document = listings.add_document(
        people["editor-bb"], draft.id, title="Grenzfall", filename="g.pdf", content=payload
    )
    assert document.size == listings.MAX_DOCUMENT_BYTES


def test_documents_only_by_the_provider_and_not_when_withdrawn(people):
    listing = make(people, ListingStatus.PUBLISHED)
    for who in ("fitko-1", "editor-he", "viewer-bb"):
        with pytest.raises((Forbidden, NotFound)):
            listings.add_document(
                people[who], listing.id, title="Anlage", filename="a.pdf", content=PDF
            )
    listings.withdraw_listing(people["editor-bb"], listing.id)
    with pytest.raises(Conflict):
        listings.add_document(
            people["editor-bb"], listing.id, title="Anlage", filename="a.pdf", content=PDF
        )
    assert count(ListingDocument, ListingDocument.listing_id == listing.id) == 0


# --- the demo listings ----------------------------------------------------------------------------


def _demo_counts() -> tuple[int, ...]:
    return tuple(
        count(model)
        for model in (
            Listing,
            ListingVersion,
            ListingRevision,
            ListingDocument,
            AuditEvent,
            Notification,
            Organisation,
            User,
        )
    )


def _demo_listing(short: str, ozg_id: str) -> Listing:
    return db.session.scalar(
        select(Listing).where(Listing.ozg_id == ozg_id, Listing.provider_land.has(short=short))
    )


def test_loading_the_demo_again_creates_nothing(ctx):
    from fitstore.services.demo import load_demo

    before = _demo_counts()
    report = load_demo()
    assert (report.organisations_created, report.users_created, report.listings_created) == (
        0,
        0,
        0,
    )
    assert _demo_counts() == before


def test_the_demo_listings_cover_the_seed_and_every_state(ctx):
    from fitstore.services.demo import DEMO_LISTINGS

    demo = [_demo_listing(spec.land, spec.content["ozg_id"]) for spec in DEMO_LISTINGS]
    assert all(demo) and len(demo) >= 18
    by_status = {status: [x for x in demo if x.status == status] for status in ListingStatus}
    assert len(by_status[ListingStatus.PUBLISHED]) >= 3
    assert len(by_status[ListingStatus.DRAFT]) >= 2
    assert len(by_status[ListingStatus.SUBMITTED]) >= 2
    assert len(by_status[ListingStatus.WITHDRAWN]) >= 1
    assert any(x.rejection_reason for x in by_status[ListingStatus.DRAFT])
    assert any(listings.pending_revision(x) for x in by_status[ListingStatus.PUBLISHED])
    assert any(x.published_version == 2 for x in by_status[ListingStatus.PUBLISHED])
    assert {x.themenfeld_number for x in demo} == set(range(1, 15))
    assert len({x.provider_land_ags for x in demo}) == 16
    for listing in demo:
        assert all(len(key) == 14 and key.isdigit() for key in listing.leika_list)
        assert len(listing.ozg_id) == 5 and listing.ozg_id.isdigit()
        assert "Demodaten" in listing.description
        # Made through the service: its creation is in the audit trail, by its Land's editor.
        created = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "listing.created", AuditEvent.object_id == str(listing.id)
            )
        )
        assert created.actor_email == f"editor-{listing.provider_land.short.lower()}@demo.test"
        if listing.status == ListingStatus.PUBLISHED:
            assert count(ListingVersion, ListingVersion.listing_id == listing.id) == (
                listing.published_version
            )
    submitted, _revisions = listings.review_queue(user("fitko-1@demo.test"))
    assert {x.id for x in by_status[ListingStatus.SUBMITTED]} <= {x.id for x in submitted}


def test_the_seeds_three_services_in_the_demo(ctx):
    titel = _demo_listing("BB", "10255")
    assert titel.title == "Aufenthaltstitel" and titel.themenfeld.name == "Ein- & Auswanderung"
    assert (titel.operator.short_name, titel.reifegrad, titel.transport.value) == (
        "ZIT-BB",
        3,
        "fit_connect",
    )
    assert titel.xoev_standard == "XAusländer"
    for place in ("Elbe-Elster", "Teltow-Fläming", "Potsdam", "Dezember 2020"):
        assert place in titel.description
    assert titel.status == ListingStatus.PUBLISHED and titel.published_version == 2
    (document,) = titel.documents
    assert document.content.startswith(b"%PDF-1.4") and document.content.rstrip().endswith(b"%%EOF")
    assert document.sha256 == hashlib.sha256(document.content).hexdigest()
    # A well-formed xref: every offset points at its object.
    pdf = document.content
    offsets = [int(o) for o in re.findall(rb"(\d{10}) 00000 n", pdf)]
    assert offsets and all(
        pdf[offset:].startswith(b"%d 0 obj" % number)
        for number, offset in enumerate(offsets, start=1)
    )
    start = int(re.search(rb"startxref\s+(\d+)", pdf).group(1))
    assert pdf[start:].startswith(b"xref")

    pflicht = db.session.scalar(select(Listing).where(Listing.title == "Verpflichtungserklärung"))
    assert pflicht.provider_land.short == "HE" and pflicht.operator.short_name == "ekom21"
    assert "zwei hessischen Kommunen" in pflicht.description

    einbuergerung = db.session.scalar(select(Listing).where(Listing.title == "Einbürgerung"))
    assert einbuergerung.provider_land.short == "NW"
    assert "München" in einbuergerung.description and "Bayern" in einbuergerung.description
    assert "bundesweit nachnutzbare" in einbuergerung.description


def test_stop_words_mean_the_same_on_both_databases(app):
    """PostgreSQL's german configuration ignores "und"/"für"; the SQLite search must agree."""
    from fitstore.services.text_search import words_of

    assert words_of("Antrag für den Aufenthaltstitel und die Blaue Karte") == [
        "antrag",
        "aufenthaltstitel",
        "blaue",
        "karte",
    ]
    with app.test_request_context():
        everything = listings.search_catalogue(None, listings.CatalogueQuery())[0].total
        only_stop_words = listings.search_catalogue(None, listings.CatalogueQuery(q="und die der"))[
            0
        ].total
        assert only_stop_words == everything
        with_stop_words = listings.search_catalogue(
            None, listings.CatalogueQuery(q="Antrag für Aufenthaltstitel")
        )[0]
        without = listings.search_catalogue(
            None, listings.CatalogueQuery(q="Antrag Aufenthaltstitel")
        )[0]
        assert without.total >= 1
        assert [item.id for item in with_stop_words.items] == [item.id for item in without.items]


def test_an_operator_deactivated_since_can_be_kept_but_not_chosen_anew(app):
    from fitstore.services.admin import set_organisation_active
    from fitstore.services.system import SystemActor

    with app.test_request_context():
        editor = user("editor-bb@demo.test")
        zit = db.session.scalar(select(Organisation).where(Organisation.short_name == "ZIT-BB"))
        akdb = db.session.scalar(select(Organisation).where(Organisation.short_name == "AKDB"))
        listing = listings.create_listing(editor, content(operator_id=zit.id))
        set_organisation_active(SystemActor(), zit.id, False)
        set_organisation_active(SystemActor(), akdb.id, False)
        listings.update_listing(editor, listing.id, content(operator_id=zit.id, payment="Giropay"))
        assert db.session.get(Listing, listing.id).operator_id == zit.id
        with pytest.raises(Invalid) as refused:
            listings.update_listing(editor, listing.id, content(operator_id=akdb.id))
        assert "operator_id" in refused.value.errors


def test_no_documents_while_fitko_reviews_and_new_ones_on_published_listings_are_announced(people):
    submitted = make(people, ListingStatus.SUBMITTED)
    with pytest.raises(Conflict):
        listings.add_document(
            people["editor-bb"], submitted.id, title="Leitfaden", filename="l.pdf", content=PDF
        )
    assert count(ListingDocument, ListingDocument.listing_id == submitted.id) == 0

    published = make(people, ListingStatus.PUBLISHED)
    version_before = db.session.get(Listing, published.id).lock_version
    notices_before = count(Notification, Notification.user_id == people["fitko-1"].id)
    listings.add_document(
        people["editor-bb"], published.id, title="Leitfaden", filename="l.pdf", content=PDF
    )
    db.session.expire_all()
    assert db.session.get(Listing, published.id).lock_version > version_before
    assert count(Notification, Notification.user_id == people["fitko-1"].id) == notices_before + 1


def test_a_revision_decision_needs_the_version_the_reviewer_saw(people):
    listing = make(people, ListingStatus.PUBLISHED)
    listings.update_listing(people["editor-bb"], listing.id, content(payment="Giropay"))
    seen = db.session.get(Listing, listing.id).lock_version
    listings.update_listing(people["editor-bb"], listing.id, content(payment="Bargeld"))
    with pytest.raises(PreconditionFailed):
        listings.accept_revision(people["fitko-1"], listing.id, expected_version=seen)
    with pytest.raises(PreconditionFailed):
        listings.reject_revision(
            people["fitko-1"], listing.id, "Passt nicht.", expected_version=seen
        )
    db.session.rollback()
    assert db.session.get(Listing, listing.id).payment == "ePayBL"


def test_the_provider_can_take_back_a_pending_revision(people):
    listing = make(people, ListingStatus.PUBLISHED)
    listings.update_listing(people["editor-bb"], listing.id, content(payment="Giropay"))
    audit_before = count(AuditEvent)
    notices_before = count(Notification, Notification.user_id == people["fitko-1"].id)
    with pytest.raises(NotFound):
        listings.discard_revision(people["editor-by"], listing.id)  # another Land
    with pytest.raises((Forbidden, NotFound)):
        listings.discard_revision(people["fitko-1"], listing.id)  # FITKO decides, not discards
    listings.discard_revision(people["editor-bb"], listing.id)
    assert listings.pending_revision(db.session.get(Listing, listing.id)) is None
    assert db.session.get(Listing, listing.id).payment == "ePayBL"
    assert count(AuditEvent) == audit_before + 1
    assert count(Notification, Notification.user_id == people["fitko-1"].id) == notices_before + 1
    with pytest.raises(Conflict):
        listings.discard_revision(people["editor-bb"], listing.id)  # nothing pending any more
