"""Test data shared by the listing tests; listings themselves are made through the services."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
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


# --- transparency: a generated adoption data set -----------------------------------------

#: The stages the adopters of a generated listing end in: every stage and side exit, in a
#: shuffled order per listing. "restarted" is a reuse withdrawn and then begun again (the
#: Land is in onboarding with its second reuse). One Land stays without any reuse.
GENERATED_PLAN = (
    "live",
    "live",
    "live",
    "live",
    "testing",
    "connecting",
    "contracted",
    "ordered",
    "coordination",
    "interest",
    "on_hold",
    "declined",
    "restarted",
    "terminated",
)
#: Providers of the generated listings in turn (Länder with many Kreise).
GENERATED_PROVIDERS = ("12", "06", "05", "09", "08", "03")
#: Länder with enough Kreise to carry the live slots.
_BIG_LANDS = ("01", "03", "05", "06", "07", "08", "09", "12", "14", "15", "16")
_MAIN_STEPS = ("interest", "coordination", "ordered", "contracted", "connecting", "testing", "live")


@dataclass
class GeneratedListing:
    """What the generator made for one listing, computed by the generator itself (not by
    the code under test): the expected public figures."""

    id: int
    title: str
    provider: str
    #: Land AGS -> final stage of its current reuse ("restarted" ends in interest)
    stages: dict[str, str] = field(default_factory=dict)
    #: Kreis key -> live authorities there (open reuses only)
    live_kreise: dict[str, int] = field(default_factory=dict)
    #: Land AGS -> live authorities there (open reuses only)
    live_by_land: dict[str, int] = field(default_factory=dict)
    reuse_ids: dict[str, int] = field(default_factory=dict)

    @property
    def live_lands(self) -> int:
        return sum(1 for stage in self.stages.values() if stage == "live")

    @property
    def onboarding_lands(self) -> int:
        closed = ("live", "declined", "terminated", "withdrawn")
        return sum(1 for stage in self.stages.values() if stage not in closed)

    @property
    def live_authorities(self) -> int:
        return sum(self.live_kreise.values())

    def status(self, land_ags: str) -> str:
        stage = self.stages.get(land_ags)
        if stage == "live":
            return "live"
        if stage in (None, "declined", "terminated", "withdrawn"):
            return "not_started"
        return "onboarding"


@dataclass
class GeneratedAdoption:
    listings: list[GeneratedListing]

    @property
    def live_kreise(self) -> set[str]:
        return {kreis for listing in self.listings for kreis in listing.live_kreise}


@contextmanager
def _clock(when: datetime):
    """The reuse service's clock set to ``when`` (it dates transitions, contracts and the
    'not in the future' checks by it): a history spread over the past, made through the
    services."""
    with mock.patch("fitstore.services.reuses.utcnow", lambda: when):
        yield


def generated_adoption(
    seed: int = 6, kreise: tuple[int, ...] = (53, 17, 5), *, gemeinden: float = 0.4
) -> GeneratedAdoption:
    """Generate a published listing per entry of ``kreise``, each live in exactly that
    many Kreise: the provider (own use) and four adopters live, the other adopters in
    every other stage and side exit (``GENERATED_PLAN``), all made through the services
    with transitions dated over the last three years. Authorities of live Länder are Kreise
    and (with probability ``gemeinden`` per Kreis) one or two Gemeinden of the same Kreis;
    more authorities are planned or connecting elsewhere, and a terminated reuse had live
    authorities before it ended (they no longer count). Deterministic for a seed; calls
    with different seeds add up."""
    import random

    from fitstore.models import Authority, AuthorityLevel
    from fitstore.services import listings, reuses

    rng = random.Random(seed)
    today = utcnow().date()
    fitko_1, fitko_2 = user_by_email("fitko-1@demo.test"), user_by_email("fitko-2@demo.test")
    editors = {
        user.land_ags: user
        for user in db.session.scalars(select(User).where(User.email.like("editor-%@demo.test")))
        if user.land_ags
    }
    # Kreis keys and Gemeinden per Land / Kreis, in a stable order.
    kreise_of: dict[str, list[str]] = {}
    gemeinden_of: dict[str, list[str]] = {}
    for ags, kreis, level, land in db.session.execute(
        select(Authority.ags, Authority.kreis_ags, Authority.level, Authority.land_ags).order_by(
            Authority.ags
        )
    ):
        if level == AuthorityLevel.KREIS:
            kreise_of.setdefault(land, []).append(ags)
        else:
            gemeinden_of.setdefault(kreis, []).append(ags)

    def walk(start: date, steps: int) -> list[date]:
        days, day = [], start
        for _step in range(steps):
            day += timedelta(days=rng.randint(3, 40))
            days.append(min(day, today))
        return days

    def at(day: date) -> datetime:
        # Never after now: a step dated today happens at 9:00 or, before that, now.
        return min(datetime.combine(day, time(9)), utcnow())

    def authorities_in(kreis: str) -> list[str]:
        codes = [kreis]
        members = gemeinden_of.get(kreis, [])
        if members and rng.random() < gemeinden:
            codes += rng.sample(members, min(rng.randint(1, 2), len(members)))
        return codes

    def go(reuse_id: int, adopter, provider, target: str, days: list[date]) -> date | None:
        """Move a fresh reuse (in interest since days[0]) along the main line up to
        ``target``; returns the contract's effective date once contracted."""
        effective = None
        reached = _MAIN_STEPS[: _MAIN_STEPS.index(target) + 1]
        day = iter(days[1:])
        if "coordination" in reached:
            when = next(day)
            with _clock(at(when)):
                reuses.transition(provider, reuse_id, "start_coordination", "Abstimmung")
                reuses.propose_conditions(
                    provider,
                    reuse_id,
                    {
                        "condition_model": "annual_fee",
                        "annual_fee_cents": rng.randint(1, 9_000_000),
                        "connection_cost_cents": rng.randint(0, 900_000),
                        "scope": "Betrieb und Pflege",
                        "conditions_start": when.isoformat(),
                    },
                )
        if "ordered" in reached:
            with _clock(at(next(day))):
                reuses.transition(adopter, reuse_id, "order")
        if "contracted" in reached:
            when = next(day)
            with _clock(at(when)):
                from fitstore.models import Reuse

                contract_id = db.session.get(Reuse, reuse_id).contract.id
                reuses.check_contract(
                    fitko_1,
                    contract_id,
                    {"eligibility_basis": "traeger", "legal_basis": "§ 108 Abs. 4 GWB"},
                )
                reuses.countersign_contract(fitko_2, contract_id, {"effective_date": when})
            effective = when
        if "connecting" in reached:
            when = next(day)
            with _clock(at(when)):
                reuses.transition(adopter, reuse_id, "start_connecting")
                reuses.update_onboarding_item(adopter, reuse_id, "transport", True, when)
        if "testing" in reached:
            with _clock(at(next(day))):
                reuses.transition(adopter, reuse_id, "start_testing")
        if "live" in reached:
            with _clock(at(next(day))):
                reuses.transition(adopter, reuse_id, "go_live")
        return effective

    def rollout(actor, reuse_id: int, codes: list[str], planned: date, to: str) -> date:
        """Plan ``codes`` on ``planned``, then move them on to ``to``; returns the last date."""
        on = planned
        if not codes:
            return on
        with _clock(at(on)):
            reuses.add_rollout_authorities(actor, reuse_id, codes, on)
        for status in ("connecting", "live"):
            if to == "planned" or (to == "connecting" and status == "live"):
                break
            on = min(on + timedelta(days=rng.randint(1, 20)), today)
            with _clock(at(on)):
                reuses.update_rollout(actor, reuse_id, codes, status, on)
        return on

    made = []
    for number, target in enumerate(kreise):
        provider_ags = GENERATED_PROVIDERS[(seed + number) % len(GENERATED_PROVIDERS)]
        provider = editors[provider_ags]
        title = f"Aufenthaltstitel Testdaten {seed}-{number + 1}"
        listing = listings.create_listing(
            provider,
            # Only the transport is a mandatory onboarding item: one service call per
            # reuse instead of four keeps the generator fast.
            listing_content(
                title=title,
                ozg_name=title,
                ozg_id=f"9{seed % 100:02d}{number:02d}",
                user_account="none",
                payment="",
                xoev_standard="",
            ),
        )
        listing_id = listing.id
        listings.submit_listing(provider, listing_id)
        listings.publish_listing(fitko_1, listing_id)
        result = GeneratedListing(listing_id, title, provider_ags)

        # Who ends where: the live slots go to Länder with many Kreise.
        others = [ags for ags in sorted(editors) if ags != provider_ags]
        rng.shuffle(others)
        big = [ags for ags in others if ags in _BIG_LANDS][:4]
        rest = [ags for ags in others if ags not in big]
        plan = [stage for stage in GENERATED_PLAN if stage != "live"]
        rng.shuffle(plan)
        assignment = {**dict.fromkeys(big, "live"), **dict(zip(rest, plan, strict=False))}

        # The provider's own use, live since long ago.
        own_since = today - timedelta(days=rng.randint(900, 1100))
        with _clock(at(own_since)):
            own = reuses.record_own_use(provider, listing_id, own_since)
        result.stages[provider_ags] = "live"
        result.reuse_ids[provider_ags] = own.id
        live_starts = {provider_ags: (own.id, provider, own_since)}

        for land_ags, stage in assignment.items():
            adopter = editors[land_ags]
            start = today - timedelta(days=rng.randint(400, 800))
            days = walk(start, 9)
            with _clock(at(start)):
                reuse = reuses.express_interest(
                    adopter,
                    listing_id,
                    {"planned_start": start.isoformat(), "expected_usage": 100, "note": ""},
                )
            reuse_id = reuse.id
            days = [start, *days]
            line = {
                "on_hold": "connecting",
                "declined": "coordination",
                "restarted": "coordination",
                "terminated": "live",
            }.get(stage, stage)
            effective = go(reuse_id, adopter, provider, line, days)
            last = days[_MAIN_STEPS.index(line)]
            exit_day = min(last + timedelta(days=rng.randint(2, 30)), today)
            if stage == "live":
                live_starts[land_ags] = (reuse_id, adopter, last)
            elif stage in ("contracted", "connecting", "testing", "on_hold"):
                # Authorities planned and connecting, none live (the reuse is not live).
                pool = rng.sample(kreise_of[land_ags], min(3, len(kreise_of[land_ags])))
                rollout(adopter, reuse_id, pool[:1], effective, "planned")
                rollout(adopter, reuse_id, pool[1:], effective, "connecting")
                if stage == "on_hold":
                    with _clock(at(today)):
                        reuses.transition(adopter, reuse_id, "hold", "Haushaltssperre")
            elif stage == "declined":
                with _clock(at(exit_day)):
                    reuses.transition(provider, reuse_id, "decline", "Kein Betrieb möglich")
            elif stage == "restarted":
                with _clock(at(exit_day)):
                    reuses.transition(adopter, reuse_id, "withdraw", "Neuer Anlauf")
                again = min(exit_day + timedelta(days=1), today)
                with _clock(at(again)):
                    reuse_id = reuses.express_interest(
                        adopter, listing_id, {"expected_usage": 50, "note": ""}
                    ).id
                stage = "interest"
            elif stage == "terminated":
                # Live authorities before the end: they must not count any more.
                pool = rng.sample(kreise_of[land_ags], min(2, len(kreise_of[land_ags])))
                ended = rollout(adopter, reuse_id, pool, last, "live")
                with _clock(at(min(ended + timedelta(days=5), today))):
                    reuses.transition(adopter, reuse_id, "terminate", "Eigene Lösung")
            result.stages[land_ags] = stage
            result.reuse_ids[land_ags] = reuse_id

        # Exactly ``target`` Kreise with a live authority, drawn from the live Länder.
        candidates = [(land, kreis) for land in sorted(live_starts) for kreis in kreise_of[land]]
        if target > len(candidates):
            raise ValueError(f"at most {len(candidates)} Kreise can be live for listing {title}")
        chosen = sorted(rng.sample(candidates, target))
        for land_ags, (reuse_id, actor, since) in sorted(live_starts.items()):
            mine = [kreis for land, kreis in chosen if land == land_ags]
            if mine:
                by_kreis = {kreis: authorities_in(kreis) for kreis in mine}
                codes = [code for kreis in mine for code in by_kreis[kreis]]
                planned = min(since + timedelta(days=rng.randint(0, 10)), today)
                rollout(actor, reuse_id, codes, planned, "live")
                for kreis, mine_codes in by_kreis.items():
                    result.live_kreise[kreis] = len(mine_codes)
                result.live_by_land[land_ags] = len(codes)
            spare = [k for k in kreise_of[land_ags] if k not in mine][:2]
            if spare:
                rollout(actor, reuse_id, spare, min(since + timedelta(days=3), today), "planned")
        made.append(result)
    return GeneratedAdoption(made)


def published_listing(editor: str, title: str, **content) -> int:
    """A published listing of the editor's Land (create, submit, FITKO publishes); its id."""
    from fitstore.services import listings

    author = user_by_email(f"{editor}@demo.test")
    listing = listings.create_listing(author, listing_content(title=title, **content))
    listings.submit_listing(author, listing.id)
    listings.publish_listing(user_by_email("fitko-1@demo.test"), listing.id)
    return listing.id


def expressed_interest(adopter: str, listing_id: int, expected_usage: int = 10) -> int:
    """The adopter editor's Land expresses interest in the listing; the new reuse's id."""
    from fitstore.services import reuses

    reuse = reuses.express_interest(
        user_by_email(f"{adopter}@demo.test"),
        listing_id,
        {"planned_start": None, "expected_usage": expected_usage, "note": ""},
    )
    return reuse.id
