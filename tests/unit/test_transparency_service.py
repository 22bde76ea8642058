"""The transparency service on a hand-made history with fixed dates, whose answers are
worked out by hand below: the time series, lead times, the waiting list, reminders and
the current-state figures.

The history is written directly through the models (reuses, transitions with chosen
``occurred_at``, rollouts and rollout events with chosen ``on``) on listings this module
publishes itself; the listings are published through the listing service. Every
adopter and every authority used here is chosen so the demo data never decide an
assertion: adopters with rollouts are Länder the demo leaves alone (Baden-Württemberg,
Sachsen-Anhalt), figures over all listings are compared as differences to the same
figures before the history was added.

The story (listing L by Brandenburg; times at 09:00; days per stage in brackets)::

    A  Baden-Württemberg  interest 10.01.2024 (10) coordination (12) ordered (14)
                          contracted (15) connecting (20) testing (15) live 05.04.2024
                          authorities: a1 live 10.04., a2 (same Kreis) live 03.06.,
                          a3 planned only, a4 (second Kreis) live 05.11.2024
    B  Niedersachsen      interest 01.02.2024 (20) coordination (3) on hold (10)
                          coordination (4) ordered (6) contracted (5) connecting (30)
                          testing (21) live 10.05.2024, terminated 16.09.2024
                          authorities: b1 live 15.05., b2 live 01.07.2024
    C  Sachsen            interest 01.03.2024 (30) coordination (40) ordered (10)
                          contracted (12) connecting (10) on hold since 11.06.2024
    D  Bayern             interest 01.04.2024 (5) coordination since 06.04.2024,
                          conditions proposed 01.11.2024 (waits for Bayern)
    E  Schleswig-Holstein interest since 20.11.2024 (waits for Brandenburg)

Listing L2 by Brandenburg: F Nordrhein-Westfalen ordered since 01.10.2024 (contract
waits for its check), G Rheinland-Pfalz ordered since 20.10.2024, checked by fitko-1
on 10.11.2024 (waits for the countersignature). Mecklenburg-Vorpommern is a member of
L's alliance; Sachsen-Anhalt of the alliances of L and L2.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from fitstore.errors import NotFound
from fitstore.extensions import db
from fitstore.models import (
    Alliance,
    AllianceMembership,
    AuditEvent,
    Authority,
    AuthorityLevel,
    Contract,
    ContractStatus,
    MembershipStatus,
    Notification,
    OutboxMail,
    Reminder,
    Reuse,
    ReuseStage,
    ReuseTransition,
    Rollout,
    RolloutEvent,
    RolloutStatus,
    User,
)
from fitstore.services import audit, listings, transparency
from tests.factories import listing_content, user_by_email
from tests.pg_concurrency import own_session, race

S = ReuseStage
TODAY = date(2024, 12, 15)
NOW = datetime(2024, 12, 15, 9)
BB, BW, NI, SN, BY, SH, NW, RP, MV, ST = (
    "12",
    "08",
    "03",
    "14",
    "09",
    "01",
    "05",
    "07",
    "13",
    "15",
)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 9)


# --- building the history ----------------------------------------------------------------


def published_listing(title: str, provider: str = "bb") -> int:
    """A listing of ``provider`` (short code), created, submitted and published."""
    author = user_by_email(f"editor-{provider}@demo.test")
    listing = listings.create_listing(author, listing_content(title=title))
    listings.submit_listing(author, listing.id)
    listings.publish_listing(user_by_email("fitko-1@demo.test"), listing.id)
    return listing.id


def reuse_with_history(
    listing_id: int,
    land: str,
    steps: list[tuple[ReuseStage, datetime]],
    *,
    resume_stage: ReuseStage | None = None,
    conditions_at: datetime | None = None,
) -> Reuse:
    """A reuse whose transitions are ``steps`` (the first from nowhere); it stands in the
    last step's stage since that step's time (the caller commits)."""
    stage, since = steps[-1]
    reuse = Reuse(
        listing_id=listing_id,
        adopter_land_ags=land,
        stage=stage,
        stage_since=since,
        resume_stage=resume_stage,
        conditions_proposed_at=conditions_at,
        created_at=steps[0][1],
        updated_at=since,
    )
    db.session.add(reuse)
    db.session.flush()
    previous = None
    for to_stage, when in steps:
        db.session.add(
            ReuseTransition(
                reuse_id=reuse.id, from_stage=previous, to_stage=to_stage, occurred_at=when
            )
        )
        previous = to_stage
    return reuse


def main_line(start: datetime, days: list[int]) -> list[tuple[ReuseStage, datetime]]:
    """Steps along the main line from interest at ``start``, ``days`` in each stage."""
    steps = [(S.INTEREST, start)]
    when = start
    for stage, spent in zip(
        (S.COORDINATION, S.ORDERED, S.CONTRACTED, S.CONNECTING, S.TESTING, S.LIVE),
        days,
        strict=False,
    ):
        when += timedelta(days=spent)
        steps.append((stage, when))
    return steps


def authorities_of(land: str, count: int, *, offset: int = 0) -> list[Authority]:
    """``count`` Gemeinden of a Land in AGS order, two per Kreis (so that Kreise hold
    more than one authority), starting at the ``offset``-th Kreis with two Gemeinden."""
    kreise = list(
        db.session.scalars(
            select(Authority.kreis_ags)
            .where(Authority.land_ags == land, Authority.level == AuthorityLevel.GEMEINDE)
            .group_by(Authority.kreis_ags)
            .having(func.count() >= 2)
            .order_by(Authority.kreis_ags)
        )
    )[offset:]
    chosen: list[Authority] = []
    for kreis in kreise:
        chosen += db.session.scalars(
            select(Authority)
            .where(Authority.kreis_ags == kreis, Authority.level == AuthorityLevel.GEMEINDE)
            .order_by(Authority.ags)
            .limit(2)
        )
        if len(chosen) >= count:
            return chosen[:count]
    raise AssertionError(f"not enough authorities in {land}")


def rollout(reuse: Reuse, authority: Authority, live_on: date | None, planned_on: date) -> Rollout:
    """An authority of the reuse, planned on ``planned_on`` and live on ``live_on`` (via
    connecting), or only planned (the caller commits)."""
    status = RolloutStatus.LIVE if live_on else RolloutStatus.PLANNED
    row = Rollout(
        reuse_id=reuse.id,
        authority_id=authority.id,
        kreis_ags=authority.kreis_ags,
        status=status,
        status_on=live_on or planned_on,
        live_on=live_on,
    )
    db.session.add(row)
    db.session.flush()
    events = [(None, RolloutStatus.PLANNED, planned_on)]
    if live_on:
        events += [
            (RolloutStatus.PLANNED, RolloutStatus.CONNECTING, planned_on),
            (RolloutStatus.CONNECTING, RolloutStatus.LIVE, live_on),
        ]
    for from_status, to_status, on in events:
        db.session.add(
            RolloutEvent(rollout_id=row.id, from_status=from_status, to_status=to_status, on=on)
        )
    return row


def contract(reuse: Reuse, status: ContractStatus, *, checked_at: datetime | None = None):
    checker = user_by_email("fitko-1@demo.test") if checked_at else None
    row = Contract(
        reuse_id=reuse.id,
        number=f"T-{reuse.id}",
        status=status,
        conditions="{}",
        ordered_at=reuse.stage_since,
        checked_by_id=checker.id if checker else None,
        checked_at=checked_at,
    )
    db.session.add(row)
    return row


def member(listing_id: int, land: str) -> None:
    """Make ``land`` a member of the listing's alliance (stored with its lead first)."""
    alliance = db.session.scalar(select(Alliance).where(Alliance.listing_id == listing_id))
    if alliance is None:
        alliance = Alliance(listing_id=listing_id, lead_land_ags=BB)
        db.session.add(alliance)
        db.session.flush()
        db.session.add(
            AllianceMembership(
                alliance_id=alliance.id, land_ags=BB, status=MembershipStatus.MEMBER, is_lead=True
            )
        )
    db.session.add(
        AllianceMembership(alliance_id=alliance.id, land_ags=land, status=MembershipStatus.MEMBER)
    )


@dataclass
class History:
    listing: int
    listing2: int
    withdrawn: int
    reuses: dict[str, int] = field(default_factory=dict)
    kreise: tuple[str, str] = ("", "")
    withdrawn_kreis: str = ""


def build_history(title: str = "Zeitreihe Kiebitz") -> History:
    """The story of the module docstring, plus a withdrawn listing W whose Baden-
    Württemberg reuse went live on 20.05.2024 with one authority (in a third Kreis)."""
    history = History(
        published_listing(title),
        published_listing(f"{title} Zwei"),
        published_listing(f"{title} Zurückgezogen"),
    )
    listing, listing2 = history.listing, history.listing2
    a = reuse_with_history(listing, BW, main_line(at(2024, 1, 10), [10, 12, 14, 15, 20, 15]))
    b_steps = [
        (S.INTEREST, at(2024, 2, 1)),
        (S.COORDINATION, at(2024, 2, 21)),
        (S.ON_HOLD, at(2024, 2, 24)),
        (S.COORDINATION, at(2024, 3, 5)),
        (S.ORDERED, at(2024, 3, 9)),
        (S.CONTRACTED, at(2024, 3, 15)),
        (S.CONNECTING, at(2024, 3, 20)),
        (S.TESTING, at(2024, 4, 19)),
        (S.LIVE, at(2024, 5, 10)),
        (S.TERMINATED, at(2024, 9, 16)),
    ]
    b = reuse_with_history(listing, NI, b_steps)
    c_steps = main_line(at(2024, 3, 1), [30, 40, 10, 12]) + [(S.ON_HOLD, at(2024, 6, 11))]
    c = reuse_with_history(listing, SN, c_steps, resume_stage=S.CONNECTING)
    d = reuse_with_history(
        listing,
        BY,
        [(S.INTEREST, at(2024, 4, 1)), (S.COORDINATION, at(2024, 4, 6))],
        conditions_at=at(2024, 11, 1),
    )
    e = reuse_with_history(listing, SH, [(S.INTEREST, at(2024, 11, 20))])
    f = reuse_with_history(listing2, NW, main_line(at(2024, 8, 1), [10, 51]))
    contract(f, ContractStatus.AWAITING_CHECK)
    g = reuse_with_history(listing2, RP, main_line(at(2024, 8, 5), [5, 71]))
    contract(g, ContractStatus.AWAITING_COUNTERSIGN, checked_at=at(2024, 11, 10))
    a1, a2, a3, a4 = authorities_of(BW, 4)  # a1, a2 in one Kreis; a3, a4 in the next
    rollout(a, a1, date(2024, 4, 10), date(2024, 3, 1))
    rollout(a, a2, date(2024, 6, 3), date(2024, 3, 1))
    rollout(a, a3, None, date(2024, 3, 1))
    rollout(a, a4, date(2024, 11, 5), date(2024, 3, 1))
    b1, b2 = authorities_of(NI, 2)
    rollout(b, b1, date(2024, 5, 15), date(2024, 4, 1))
    rollout(b, b2, date(2024, 7, 1), date(2024, 4, 1))
    withdrawn_reuse = reuse_with_history(
        history.withdrawn, BW, main_line(at(2024, 1, 2), [10, 10, 10, 10, 10, 10])
    )
    withdrawn_reuse.stage_since = at(2024, 5, 20)
    (w1,) = authorities_of(BW, 1, offset=5)
    rollout(withdrawn_reuse, w1, date(2024, 5, 20), date(2024, 5, 1))
    member(listing, MV)
    member(listing, ST)
    member(listing2, ST)
    db.session.commit()
    listings.withdraw_listing(user_by_email("editor-bb@demo.test"), history.withdrawn)
    history.reuses = {"A": a.id, "B": b.id, "C": c.id, "D": d.id, "E": e.id}
    history.reuses |= {"F": f.id, "G": g.id}
    history.kreise = (a1.kreis_ags, a3.kreis_ags)
    history.withdrawn_kreis = w1.kreis_ags
    assert a2.kreis_ags == a1.kreis_ags and a4.kreis_ags == a3.kreis_ags != a1.kreis_ags
    return history


# --- pure arithmetic ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([7.0], 90, 7.0),
        ([3.0, 1.0], 90, 3.0),  # rank ceil(1.8) = 2
        ([5.0, 1.0, 4.0, 2.0, 3.0], 90, 5.0),  # rank ceil(4.5) = 5
        ([float(v) for v in range(10, 0, -1)], 90, 9.0),  # rank 9 exactly
        ([float(v) for v in range(1, 21)], 90, 18.0),
        ([float(v) for v in range(1, 21)], 50, 10.0),
        ([float(v) for v in range(1, 101)], 90, 90.0),
    ],
)
def test_percentile_is_the_nearest_rank(values, percent, expected):
    assert transparency.percentile_nearest_rank(values, percent) == expected


def test_percentile_of_nothing_is_refused():
    with pytest.raises(ValueError):
        transparency.percentile_nearest_rank([], 90)


def test_stage_durations_sum_the_stays_and_skip_the_current_stage():
    day = timedelta(days=1)
    t0 = datetime(2024, 1, 1, 9)
    rows = [
        # reuse 1: interest 2, coordination 3, interest again 1.5, coordination now
        (1, S.COORDINATION, S.INTEREST, t0),
        (1, S.COORDINATION, S.COORDINATION, t0 + 2 * day),
        (1, S.COORDINATION, S.INTEREST, t0 + 5 * day),
        (1, S.COORDINATION, S.COORDINATION, t0 + 6.5 * day),
        # reuse 2: interest 4, then withdrawn
        (2, S.WITHDRAWN, S.INTEREST, t0),
        (2, S.WITHDRAWN, S.WITHDRAWN, t0 + 4 * day),
    ]
    durations = transparency.stage_durations(rows)
    assert sorted(durations[S.INTEREST]) == [3.5, 4.0]
    # Reuse 1 is in coordination now: its 3 days there are not a completed stay.
    assert durations.get(S.COORDINATION, []) == []
    # Reuse 2 is withdrawn: it left interest for good; a side exit has no stay of its own.
    assert S.WITHDRAWN not in durations


# --- the time series ----------------------------------------------------------------------


EXPECTED_SERIES = [
    # month, live Länder, live authorities (end of month; December: "today", 15.12.2024)
    (date(2024, 4, 1), 1, 1),  # A live, a1
    (date(2024, 5, 1), 2, 2),  # B live, b1
    (date(2024, 6, 1), 2, 3),  # a2
    (date(2024, 7, 1), 2, 4),  # b2
    (date(2024, 8, 1), 2, 4),  # nothing happened: the gap is filled
    (date(2024, 9, 1), 1, 2),  # B terminated: NI and b1, b2 drop out
    (date(2024, 10, 1), 1, 2),
    (date(2024, 11, 1), 1, 3),  # a4
    (date(2024, 12, 1), 1, 3),  # today's month last
]


def points(series) -> list[tuple[date, int, int]]:
    return [(p.month, p.live_lands, p.live_authorities) for p in series]


def test_time_series_of_one_listing_month_by_month(app):
    with app.app_context():
        history = build_history()
        assert points(transparency.time_series(history.listing, TODAY)) == EXPECTED_SERIES
        # A day later in the same month changes nothing; a later month adds its points.
        later = points(transparency.time_series(history.listing, date(2025, 2, 3)))
        assert later == EXPECTED_SERIES + [(date(2025, 1, 1), 1, 3), (date(2025, 2, 1), 1, 3)]
        # Before the first go-live there is nothing to show.
        assert transparency.time_series(history.listing, date(2024, 3, 31)) == []


def test_time_series_leaves_out_a_withdrawn_listing(app):
    with app.app_context():
        history = build_history()
        assert transparency.time_series(history.withdrawn, TODAY) == []


def test_time_series_of_all_listings_adds_the_history_to_the_demo(app):
    with app.app_context():
        before = {p.month: p for p in transparency.time_series(None, TODAY)}
        build_history()
        after = transparency.time_series(None, TODAY)
    assert after[-1].month == date(2024, 12, 1)
    expected = {month: (lands, authorities) for month, lands, authorities in EXPECTED_SERIES}
    for point in after:
        old = before.get(point.month)
        change = (
            point.live_lands - (old.live_lands if old else 0),
            point.live_authorities - (old.live_authorities if old else 0),
        )
        # The withdrawn listing's go-live in May 2024 is not among the changes.
        assert change == expected.get(point.month, (0, 0)), point.month


# --- lead times -----------------------------------------------------------------------------


def figures(rows) -> dict[str, tuple[int, float | None, float | None]]:
    return {str(r.stage): (r.count, r.median_days, r.p90_days) for r in rows}


# Worked out from the module docstring. Interest: 5, 10, 20, 30 (E is still there);
# coordination: A 12, B 3 + 4 = 7 (two stays), C 40 (D is still there); connecting:
# A 20, B 30 (C is on hold and will resume there: not complete).
EXPECTED_L = {
    "interest": (4, 15.0, 30.0),  # even count: (10 + 20) / 2; rank ceil(3.6) = 4
    "coordination": (3, 12.0, 40.0),  # odd count: the middle one; rank ceil(2.7) = 3
    "ordered": (3, 10.0, 14.0),  # 14, 6, 10
    "contracted": (3, 12.0, 15.0),  # 15, 5, 12
    "connecting": (2, 25.0, 30.0),  # rank ceil(1.8) = 2
    "testing": (2, 18.0, 21.0),  # 15, 21
}


def test_lead_times_of_one_listing(app):
    with app.app_context():
        history = build_history()
        rows = transparency.lead_times(user_by_email("fitko-1@demo.test"), history.listing)
    assert [str(r.stage) for r in rows] == list(EXPECTED_L)
    assert figures(rows) == EXPECTED_L


def test_lead_times_of_all_listings_a_land_sees(app):
    """Sachsen-Anhalt is a member of the alliances of L and L2 only, so "all" is L and
    L2 together: L2 adds interest 10 (F) and 5 (G), coordination 51 (F) and 71 (G);
    F and G are still in "ordered"."""
    with app.app_context():
        history = build_history()
        st = user_by_email("viewer-st@demo.test")
        seen = [listing.id for listing in transparency.lead_time_listings(st)]
        assert set(seen) == {history.listing, history.listing2}
        rows = figures(transparency.lead_times(st))
    assert rows["interest"] == (6, 10.0, 30.0)  # 5 5 10 10 20 30: rank ceil(5.4) = 6
    assert rows["coordination"] == (5, 40.0, 71.0)  # 7 12 40 51 71
    assert rows["ordered"] == EXPECTED_L["ordered"]
    assert rows["connecting"] == EXPECTED_L["connecting"]


def test_a_land_that_merely_reuses_a_listing_sees_only_its_own_stays(app):
    """Bayern reuses L (D: interest 01.04. to 06.04., now in coordination) but is no
    member of its alliance: the other adopters' days must not show, or a median of two
    would give them away. Only D's five days of interest count."""
    with app.app_context():
        history = build_history()
        bayern = user_by_email("viewer-by@demo.test")
        rows = figures(transparency.lead_times(bayern, history.listing))
    assert rows["interest"] == (1, 5.0, 5.0)
    assert all(rows[stage][0] == 0 for stage in rows if stage != "interest")


def test_lead_times_of_a_listing_nobody_shows_the_land_are_not_found(app):
    with app.app_context():
        history = build_history()
        hamburg = user_by_email("editor-hh@demo.test")
        assert history.listing not in [x.id for x in transparency.lead_time_listings(hamburg)]
        with pytest.raises(NotFound):
            transparency.lead_times(hamburg, history.listing)
        assert all(r.count == 0 for r in transparency.lead_times(hamburg))


# --- the waiting list -------------------------------------------------------------------------


def waits_of(actor_email: str, history: History, threshold: int, now: datetime = NOW):
    """The actor's waits among this history's reuses: (letter, party, since, days)."""
    letters = {reuse_id: letter for letter, reuse_id in history.reuses.items()}
    actor = user_by_email(actor_email)
    return [
        (letters[w.reuse.id], w.party, w.since, w.days)
        for w in transparency.waiting_list(actor, threshold, now)
        if w.reuse.id in letters
    ]


ALL_WAITS = [
    ("C", "adopter", at(2024, 6, 11), 187),  # on hold: Sachsen has to resume it
    ("F", "fitko_check", at(2024, 10, 1), 75),
    # Waits for Bayern since the conditions came (01.11.), not since coordination began.
    ("D", "adopter", at(2024, 11, 1), 44),
    # Waits for a second FITKO person since the check (10.11.), not since the order.
    ("G", "fitko_countersign", at(2024, 11, 10), 35),
    ("E", "provider", at(2024, 11, 20), 25),
]


def test_waiting_list_oldest_first_with_who_has_to_act(app):
    with app.app_context():
        history = build_history()
        assert waits_of("fitko-1@demo.test", history, 0) == ALL_WAITS
        assert waits_of("fitko-1@demo.test", history, 30) == ALL_WAITS[:4]
        waits = transparency.waiting_list(user_by_email("admin@demo.test"), 30, NOW)
        by_reuse = {w.reuse.id: w for w in waits}
        assert by_reuse[history.reuses["D"]].land_ags == BY
        assert by_reuse[history.reuses["C"]].land_ags == SN
        assert by_reuse[history.reuses["F"]].land_ags is None
        assert "gegenzeichnen" in by_reuse[history.reuses["G"]].party_label
        assert "prüfen" in by_reuse[history.reuses["F"]].party_label


def test_waiting_list_threshold_is_inclusive(app):
    """D has waited exactly 44 days at NOW: listed from 44 days, not from 45; one second
    before NOW it has waited 43 full days only."""
    with app.app_context():
        history = build_history()
        assert [w[0] for w in waits_of("fitko-1@demo.test", history, 44)] == ["C", "F", "D"]
        assert [w[0] for w in waits_of("fitko-1@demo.test", history, 45)] == ["C", "F"]
        earlier = NOW - timedelta(seconds=1)
        assert [w[0] for w in waits_of("fitko-1@demo.test", history, 44, earlier)] == ["C", "F"]
        assert transparency.default_threshold() == 30
        default = transparency.waiting_list(user_by_email("fitko-1@demo.test"), now=NOW)
        assert {history.reuses[x] for x in "CFDG"} <= {w.reuse.id for w in default}
        assert history.reuses["E"] not in {w.reuse.id for w in default}


@pytest.mark.parametrize(
    ("email", "letters"),
    [
        ("fitko-2@demo.test", "CFDGE"),
        ("viewer-bb@demo.test", "CFDGE"),  # provides L and L2
        ("editor-mv@demo.test", "CDE"),  # member of L's alliance only
        ("viewer-st@demo.test", "CFDGE"),  # member of both alliances
        ("editor-by@demo.test", "D"),  # reuses L, not a member: only its own reuse
        ("viewer-hh@demo.test", ""),  # nothing to do with L or L2
    ],
)
def test_waiting_list_is_scoped_to_what_the_land_may_see(app, email, letters):
    with app.app_context():
        history = build_history()
        order = [w[0] for w in ALL_WAITS]
        assert [w[0] for w in waits_of(email, history, 0)] == [x for x in order if x in letters]


@pytest.mark.parametrize(
    ("email", "listings_seen"),
    [
        ("fitko-1@demo.test", (True, True)),
        ("editor-bb@demo.test", (True, True)),
        ("viewer-by@demo.test", (True, False)),  # reuses L
        ("viewer-mv@demo.test", (True, False)),  # member of L's alliance
        ("viewer-hh@demo.test", (False, False)),
    ],
)
def test_lead_time_listings_are_those_a_land_provides_reuses_or_is_member_of(
    app, email, listings_seen
):
    with app.app_context():
        history = build_history()
        seen = {x.id for x in transparency.lead_time_listings(user_by_email(email))}
        assert (history.listing in seen, history.listing2 in seen) == listings_seen
        # The withdrawn listing (its contracts continue) still counts for FITKO and for
        # its provider; none of the other readers here has anything to do with it.
        assert (history.withdrawn in seen) == (
            email in ("fitko-1@demo.test", "editor-bb@demo.test")
        )


# --- reminders --------------------------------------------------------------------------------


def notices(history: History) -> dict[str, list[str]]:
    """Reminder notices per reuse letter: the recipients' e-mail addresses, sorted."""
    result: dict[str, list[str]] = {}
    for letter, reuse_id in history.reuses.items():
        rows = db.session.execute(
            select(User.email)
            .join(Notification, Notification.user_id == User.id)
            .where(
                Notification.link == f"/nachnutzungen/{reuse_id}",
                Notification.message.startswith("Erinnerung"),
            )
        )
        emails = sorted(email for (email,) in rows)
        if emails:
            result[letter] = emails
    return result


def mails(history: History) -> dict[str, int]:
    """Reminder e-mails in the outbox per reuse letter."""
    result: dict[str, int] = {}
    for mail in db.session.scalars(
        select(OutboxMail).where(OutboxMail.subject.contains("Erinnerung"))
    ):
        for letter, reuse_id in history.reuses.items():
            if re.search(rf"/nachnutzungen/{reuse_id}\b", mail.body):
                result[letter] = result.get(letter, 0) + 1
    return result


def reminder_audits(history: History) -> dict[str, int]:
    result: dict[str, int] = {}
    for letter, reuse_id in history.reuses.items():
        count = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "reuse.reminder_sent",
                AuditEvent.object_id == str(reuse_id),
            )
        )
        if count:
            result[letter] = count
    return result


EXPECTED_NOTICES = {
    "C": ["editor-sn@demo.test"],  # the editors of the Land that has to act
    "D": ["editor-by@demo.test"],
    "F": ["fitko-1@demo.test", "fitko-2@demo.test"],  # anyone at FITKO may check
    "G": ["fitko-2@demo.test"],  # never the checker: four eyes
}


def test_remind_twice_sends_each_reminder_once(app):
    with app.app_context():
        history = build_history()
        total_notices = db.session.scalar(select(func.count()).select_from(Notification))
        total_mails = db.session.scalar(select(func.count()).select_from(OutboxMail))
        first = transparency.send_reminders(30, NOW)
        mine = {w.reuse.id for w in first.waits} & set(history.reuses.values())
        assert mine == {history.reuses[x] for x in "CDFG"}  # E has waited 25 days only
        assert notices(history) == EXPECTED_NOTICES
        assert mails(history) == {"C": 1, "D": 1, "F": 2, "G": 1}
        assert reminder_audits(history) == {"C": 1, "D": 1, "F": 1, "G": 1}
        sent_notices = db.session.scalar(select(func.count()).select_from(Notification))
        sent_mails = db.session.scalar(select(func.count()).select_from(OutboxMail))
        assert sent_notices > total_notices and sent_mails > total_mails

        second = transparency.send_reminders(30, NOW)
        assert (second.sent, second.without_recipient) == (0, 0)
        assert second.already == first.sent
        assert db.session.scalar(select(func.count()).select_from(Notification)) == sent_notices
        assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == sent_mails
        assert notices(history) == EXPECTED_NOTICES
        assert reminder_audits(history) == {"C": 1, "D": 1, "F": 1, "G": 1}
        assert audit.verify_chain().ok


def test_a_new_wait_of_the_same_reuse_is_reminded_again(app):
    with app.app_context():
        history = build_history()
        transparency.send_reminders(30, NOW)
        # Bayern orders on 12.11.2024: now the contract waits for FITKO's check.
        d = db.session.get(Reuse, history.reuses["D"])
        d.stage, d.stage_since = S.ORDERED, at(2024, 11, 12)
        db.session.add(
            ReuseTransition(
                reuse_id=d.id,
                from_stage=S.COORDINATION,
                to_stage=S.ORDERED,
                occurred_at=at(2024, 11, 12),
            )
        )
        contract(d, ContractStatus.AWAITING_CHECK)
        db.session.commit()
        again = transparency.send_reminders(30, NOW)
        assert [w.reuse.id for w in again.waits if w.reuse.id in history.reuses.values()] == [d.id]
        assert notices(history)["D"] == [
            "editor-by@demo.test",
            "fitko-1@demo.test",
            "fitko-2@demo.test",
        ]
        keys = set(
            db.session.execute(
                select(Reminder.wait_key, Reminder.wait_since).where(Reminder.reuse_id == d.id)
            )
        )
        assert keys == {
            ("coordination:adopter", at(2024, 11, 1)),
            ("ordered:fitko_check", at(2024, 11, 12)),
        }
        assert reminder_audits(history)["D"] == 2


def test_a_wait_without_recipient_is_reminded_once_someone_can_act(app):
    with app.app_context():
        history = build_history()
        editor_sn = user_by_email("editor-sn@demo.test")
        editor_sn.active = False
        db.session.commit()
        first = transparency.send_reminders(30, NOW)
        assert first.without_recipient >= 1
        assert "C" not in notices(history)
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Reminder)
                .where(Reminder.reuse_id == history.reuses["C"])
            )
            == 0
        )
        user_by_email("editor-sn@demo.test").active = True
        db.session.commit()
        second = transparency.send_reminders(30, NOW)
        assert history.reuses["C"] in {w.reuse.id for w in second.waits}
        assert notices(history)["C"] == ["editor-sn@demo.test"]


def test_reminder_message_names_listing_land_stage_and_party(app):
    with app.app_context():
        history = build_history("Meldung Kiebitz")
        transparency.send_reminders(30, NOW)
        message = db.session.scalar(
            select(Notification.message).where(
                Notification.link == f"/nachnutzungen/{history.reuses['G']}"
            )
        )
    assert message == (
        "Erinnerung: Meldung Kiebitz Zwei – Rheinland-Pfalz wartet seit 35 Tagen in"
        " „Bestellt“ auf: FITKO: Vertrag gegenzeichnen (eine andere Person als die prüfende)."
    )


@pytest.mark.postgres_only
def test_two_overlapping_runs_send_each_reminder_once(app, engine, monkeypatch):
    with own_session(app, engine):
        history = build_history("Nebenläufig Kiebitz")
        expected = {w.reuse.id for w in transparency._waits(None, 30, NOW)}

    # Both runs read which waits are already reminded before either writes one.
    barrier = threading.Barrier(2)
    local = threading.local()
    original = transparency._recipients

    def recipients_then_wait(wait):
        result = original(wait)
        if not getattr(local, "waited", False):
            local.waited = True
            barrier.wait(timeout=30)
        return result

    monkeypatch.setattr(transparency, "_recipients", recipients_then_wait)
    reports = []
    outcomes = race(
        app,
        engine,
        [lambda: reports.append(transparency.send_reminders(30, NOW)) for _ in range(2)],
    )
    assert outcomes == ["ok", "ok"]
    # Each run went through every wait: sent it, found it sent, or found nobody to send to.
    for report in reports:
        assert report.sent + report.already + report.without_recipient == len(expected)
    with own_session(app, engine):
        per_reuse = dict(
            db.session.execute(
                select(Reminder.reuse_id, func.count())
                .where(Reminder.reuse_id.in_(expected))
                .group_by(Reminder.reuse_id)
            ).all()
        )
        assert set(per_reuse.values()) == {1}
        assert sum(r.sent for r in reports) == len(per_reuse)
        assert {history.reuses[x] for x in "CDFG"} <= set(per_reuse)
        assert notices(history) == EXPECTED_NOTICES
        assert reminder_audits(history) == {"C": 1, "D": 1, "F": 1, "G": 1}
        assert audit.verify_chain().ok


# --- current-state figures ------------------------------------------------------------------


def test_overview_counts_live_and_onboarding_lands_and_live_authorities(app):
    with app.app_context():
        before = transparency.overview()
        history = build_history()
        after = transparency.overview()
    by_listing = {f.listing.id: f for f in after.listings}
    figures_l = by_listing[history.listing]
    # BW live; SN (on hold), BY, SH onboarding; NI terminated: not started again.
    assert (figures_l.live_lands, figures_l.onboarding_lands, figures_l.not_started_lands) == (
        1,
        3,
        12,
    )
    # a1, a2, a4 of Baden-Württemberg in two Kreise; NI's b1, b2 belong to a closed reuse.
    assert (figures_l.live_authorities, figures_l.kreise_with_live) == (3, 2)
    figures_l2 = by_listing[history.listing2]
    assert (figures_l2.live_lands, figures_l2.onboarding_lands) == (0, 2)
    assert history.withdrawn not in by_listing
    assert after.live_reuses - before.live_reuses == 1
    assert after.onboarding_reuses - before.onboarding_reuses == 5
    # Baden-Württemberg has no other rollout: three new authorities in two new Kreise.
    assert after.live_authorities - before.live_authorities == 3
    assert after.live_connections - before.live_connections == 3
    assert after.kreise_with_live - before.kreise_with_live == 2


def test_kreis_live_counts(app):
    with app.app_context():
        before = transparency.kreis_live_counts()
        history = build_history()
        first, second = history.kreise
        assert transparency.kreis_live_counts(history.listing) == {first: 2, second: 1}
        assert transparency.kreis_live_counts(history.listing2) == {}
        assert transparency.kreis_live_counts(history.withdrawn) == {}
        assert transparency.kreis_live_counts(land_ags=BW) == {first: 2, second: 1}
        after = transparency.kreis_live_counts()
    changed = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
    assert changed == {first: 2, second: 1}
    assert history.withdrawn_kreis not in after


def test_land_overview(app):
    with app.app_context():
        history = build_history()
        bw = transparency.land_overview(BW)
        ni = transparency.land_overview(NI)
        sn = transparency.land_overview(SN)
        bb = transparency.land_overview(BB)
        with pytest.raises(NotFound):
            transparency.land_overview("17")
    assert history.listing in [listing.id for listing, _stage in bw.live]
    assert bw.live_authorities[history.listing] == 3
    assert history.withdrawn not in [listing.id for listing, _stage in bw.live]
    assert history.withdrawn not in bw.live_authorities
    assert history.listing in [listing.id for listing in ni.not_started]
    assert history.listing not in ni.live_authorities  # b1, b2: the reuse is terminated
    onboarding = {listing.id: stage.stage for listing, stage in sn.onboarding}
    assert onboarding[history.listing] == S.ON_HOLD
    provided = [listing.id for listing in bb.provided]
    assert history.listing in provided and history.listing2 in provided
    assert history.withdrawn not in provided


# --- constant queries --------------------------------------------------------------------------


def grow(count: int, offset: int) -> None:
    """``count`` more listings, each with a live reuse (two live authorities), a reuse
    waiting in coordination and a contract waiting for its check."""
    for index in range(count):
        listing_id = published_listing(f"Menge Kiebitz {offset + index}")
        live = reuse_with_history(listing_id, BW, main_line(at(2024, 2, 1), [3, 4, 5, 6, 7, 8]))
        for authority in authorities_of(BW, 2, offset=index + offset):
            rollout(live, authority, date(2024, 4, 1), date(2024, 3, 1))
        reuse_with_history(listing_id, ST, main_line(at(2024, 5, 1), [9]))
        ordered = reuse_with_history(listing_id, NW, main_line(at(2024, 6, 1), [5, 6]))
        contract(ordered, ContractStatus.AWAITING_CHECK)
        member(listing_id, MV)
    db.session.commit()


def test_figures_take_the_same_queries_whatever_the_size(app, count_queries):
    calls = {
        "lead_times": lambda h, fitko, mv: transparency.lead_times(fitko),
        "lead_times_listing": lambda h, fitko, mv: transparency.lead_times(mv, h.listing),
        "waiting_list_fitko": lambda h, fitko, mv: transparency.waiting_list(fitko, 0, NOW),
        "waiting_list_land": lambda h, fitko, mv: transparency.waiting_list(mv, 0, NOW),
        "time_series": lambda h, fitko, mv: transparency.time_series(None, TODAY),
        "time_series_listing": lambda h, fitko, mv: transparency.time_series(h.listing, TODAY),
        "overview": lambda h, fitko, mv: transparency.overview(),
    }

    def measure(history: History) -> dict[str, int]:
        result = {}
        for name, call in calls.items():
            db.session.expire_all()
            fitko = user_by_email("fitko-1@demo.test")
            mv = user_by_email("viewer-mv@demo.test")
            with count_queries() as counter:
                call(history, fitko, mv)
            result[name] = counter.count
        return result

    with app.app_context():
        history = build_history("Menge Kiebitz Start")
        grow(1, 0)
        small = measure(history)
        sizes = (
            len(transparency.waiting_list(user_by_email("fitko-1@demo.test"), 0, NOW)),
            len(transparency.overview().listings),
        )
        grow(8, 1)
        large = measure(history)
        assert len(transparency.waiting_list(user_by_email("fitko-1@demo.test"), 0, NOW)) == (
            sizes[0] + 16
        )
        assert len(transparency.overview().listings) == sizes[1] + 8
    assert large == small
    assert small["lead_times"] == 1 and small["waiting_list_fitko"] == 1
