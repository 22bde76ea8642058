"""``fitstore generate``: the synthetic national data set, run here at scale small.

Every test runs the generator on a fresh database holding the demo (the test template).
"""

from __future__ import annotations

import hashlib
import shutil
from collections import defaultdict
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from fitstore import create_app
from fitstore.extensions import db
from fitstore.models import (
    CONTRACTED_STAGES,
    Contract,
    ContractStatus,
    Land,
    Listing,
    ListingStatus,
    Reuse,
    ReuseStage,
    ReuseTransition,
    Rollout,
    RolloutEvent,
    RolloutStatus,
    User,
)
from fitstore.services import cost_sharing
from tests.conftest import BASE_CONFIG, PG_URL, login, rolled_back

AS_OF = "2026-06-30"


def generate(app, seed: int = 7, *extra: str):
    return app.test_cli_runner().invoke(
        args=["generate", "--scale", "small", "--seed", str(seed), "--as-of", AS_OF, *extra]
    )


def generated_listing_ids() -> list[int]:
    # The generator numbers its OZG-IDs from 30000; the demo's are 1xxxx.
    return list(
        db.session.scalars(select(Listing.id).where(Listing.ozg_id >= "30000").order_by(Listing.id))
    )


@contextmanager
def fresh_app(database_template, tmp_path, name: str):
    """An app on a database of its own holding the demo, undone afterwards."""
    if PG_URL:
        app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": PG_URL})
    else:
        target = tmp_path / f"{name}.sqlite"
        shutil.copyfile(database_template, target)
        app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{target}"})
    with rolled_back(app):
        yield app
    if not PG_URL:
        with app.app_context():
            db.engine.dispose()


def content_digest(app) -> str:
    """SHA-256 over the ordered rows of the tables the generator fills most."""
    digest = hashlib.sha256()
    with app.app_context():
        for model in (Listing, Reuse, ReuseTransition, Contract, Rollout, RolloutEvent):
            table = model.__table__
            for row in db.session.execute(select(table).order_by(table.c.id)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def test_generated_data_set_is_consistent_and_served(app):
    result = generate(app)
    assert result.exit_code == 0, result.output
    assert "rollout" in result.output and "rows in" in result.output
    with app.app_context():
        ids = generated_listing_ids()
        assert len(ids) == 60
        statuses = set(db.session.scalars(select(Listing.status).where(Listing.id.in_(ids))))
        assert statuses == set(ListingStatus)
        rollouts = db.session.scalar(select(func.count()).select_from(Rollout))
        assert 20_000 <= rollouts <= 50_000

        # Every Land is adopter in every stage, side exits included.
        stages = defaultdict(set)
        for land, stage in db.session.execute(
            select(Reuse.adopter_land_ags, Reuse.stage).where(Reuse.listing_id.in_(ids))
        ):
            stages[land].add(stage)
        lands = set(db.session.scalars(select(Land.ags)))
        assert set(stages) == lands
        assert all(stages[land] == set(ReuseStage) for land in lands)

        # Histories: each move starts where the previous one ended, later than it, and
        # the last one is the reuse's stage.
        reuses = {
            reuse.id: reuse
            for reuse in db.session.scalars(select(Reuse).where(Reuse.listing_id.in_(ids)))
        }
        history = defaultdict(list)
        for move in db.session.scalars(
            select(ReuseTransition)
            .where(ReuseTransition.reuse_id.in_(reuses))
            .order_by(ReuseTransition.id)
        ):
            history[move.reuse_id].append(move)
        assert set(history) == set(reuses)
        for reuse_id, moves in history.items():
            assert moves[0].from_stage is None
            for before, after in zip(moves, moves[1:], strict=False):
                assert after.from_stage == before.to_stage
                assert after.occurred_at > before.occurred_at
            assert moves[-1].to_stage == reuses[reuse_id].stage
            assert moves[-1].occurred_at.date().isoformat() < AS_OF

        # Four eyes on every contract in force: two different FITKO users.
        fitko = set(db.session.scalars(select(User.id).where(User.role == "fitko")))
        signed = db.session.execute(
            select(Contract.checked_by_id, Contract.countersigned_by_id).where(
                Contract.status.in_((ContractStatus.IN_FORCE, ContractStatus.TERMINATED)),
                Contract.reuse_id.in_(reuses),
            )
        ).all()
        assert signed
        assert all(
            checker in fitko and signer in fitko and checker != signer for checker, signer in signed
        )

        # Rollouts only from the contract on (or the provider's own use), live only once
        # the reuse went live, never before the contract took effect.
        went_live = {
            reuse_id
            for reuse_id, moves in history.items()
            if any(m.to_stage == "live" for m in moves)
        }
        effective = dict(
            db.session.execute(
                select(Contract.reuse_id, Contract.effective_date).where(
                    Contract.reuse_id.in_(reuses)
                )
            ).all()
        )
        for reuse_id, status, status_on in db.session.execute(
            select(Rollout.reuse_id, Rollout.status, Rollout.status_on)
            .where(Rollout.reuse_id.in_(reuses))
            .distinct()
        ):
            reuse = reuses[reuse_id]
            own_use = reuse.adopter_land_ags == reuse.listing.provider_land_ags
            if not own_use:
                assert effective[reuse_id] is not None and status_on >= effective[reuse_id]
                reached = reuse.resume_stage if reuse.stage == ReuseStage.ON_HOLD else reuse.stage
                assert reached in (*CONTRACTED_STAGES, ReuseStage.TERMINATED)
            if status == RolloutStatus.LIVE:
                assert reuse_id in went_live

        # Each authority's go-live is recorded after its Land's reuse went live.
        land_live_at = {
            reuse_id: max(m.occurred_at for m in moves if m.to_stage == "live")
            for reuse_id, moves in history.items()
            if reuse_id in went_live
        }
        for reuse_id, recorded_at in db.session.execute(
            select(Rollout.reuse_id, func.min(RolloutEvent.recorded_at))
            .join(RolloutEvent, RolloutEvent.rollout_id == Rollout.id)
            .where(Rollout.reuse_id.in_(reuses), RolloutEvent.to_status == RolloutStatus.LIVE)
            .group_by(Rollout.reuse_id)
        ):
            assert recorded_at > land_live_at[reuse_id]

        # The cost split of a generated listing can be computed.
        splits = cost_sharing.year_splits(2026, ids)
        computable = [split for split in splits.values() if split.split is not None]
        assert computable
        provider = computable[0].listing.provider_land

    # The pages that read the generated rows answer.
    client = app.test_client()
    listing_id = computable[0].listing.id
    for path in (
        "/katalog",
        "/katalog?q=antrag",
        "/dashboard",
        "/dashboard?ebene=kreise",
        f"/dashboard/laender/{provider.ags}",
        "/dashboard/verlauf",
        f"/leistungen/{listing_id}",
        "/api/v1/dashboard",
    ):
        assert client.get(path).status_code == 200, path
    assert login(client, f"editor-{provider.short.lower()}@demo.test").status_code == 302
    for path in (f"/leistungen/{listing_id}/kosten/2026", "/nachnutzungen", "/mein-land"):
        assert client.get(path).status_code == 200, path

    # The audit chain still holds, and a second run is refused.
    verify = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verify.exit_code == 0 and "chain intact" in verify.output, verify.output
    again = generate(app, 8)
    assert again.exit_code == 1
    assert "already holds generated data" in again.output
    with app.app_context():
        assert len(generated_listing_ids()) == 60


def test_the_same_seed_gives_the_same_rows_and_another_seed_others(database_template, tmp_path):
    digests = []
    for name, seed in (("first", 7), ("again", 7), ("other", 8)):
        with fresh_app(database_template, tmp_path, name) as app:
            result = generate(app, seed)
            assert result.exit_code == 0, result.output
            digests.append(content_digest(app))
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]


def test_generate_refuses_production(app_factory):
    app = app_factory(ENV="production")
    result = generate(app)
    assert result.exit_code != 0
    assert "production" in result.output
    with app.app_context():
        assert generated_listing_ids() == []


@pytest.mark.parametrize("as_of", ["2020-06-01", "30.06.2026", "2999-01-01"])
def test_generate_refuses_an_unusable_as_of_date(app, as_of):
    result = app.test_cli_runner().invoke(
        args=["generate", "--scale", "small", "--seed", "1", "--as-of", as_of]
    )
    assert result.exit_code != 0
    with app.app_context():
        assert generated_listing_ids() == []
