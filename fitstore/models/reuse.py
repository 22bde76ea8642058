"""Reuse (Nachnutzung) of one listing by one adopter Land: its stages, contract,
technical onboarding checklist and rollout to the Land's authorities."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fitstore.extensions import db
from fitstore.models.base import utcnow
from fitstore.models.listing import Listing
from fitstore.models.reference import Authority, Land
from fitstore.models.user import User


def _enum(cls, length: int):
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class ReuseStage(enum.StrEnum):
    INTEREST = "interest"
    COORDINATION = "coordination"
    ORDERED = "ordered"
    CONTRACTED = "contracted"
    CONNECTING = "connecting"
    TESTING = "testing"
    LIVE = "live"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    ON_HOLD = "on_hold"
    TERMINATED = "terminated"


# The main line in order; side exits are not part of it.
MAIN_LINE = (
    ReuseStage.INTEREST,
    ReuseStage.COORDINATION,
    ReuseStage.ORDERED,
    ReuseStage.CONTRACTED,
    ReuseStage.CONNECTING,
    ReuseStage.TESTING,
    ReuseStage.LIVE,
)
# Stages in which a contract is in force (cost sharing, rollout).
CONTRACTED_STAGES = (
    ReuseStage.CONTRACTED,
    ReuseStage.CONNECTING,
    ReuseStage.TESTING,
    ReuseStage.LIVE,
)
CLOSED_STAGES = (ReuseStage.DECLINED, ReuseStage.WITHDRAWN, ReuseStage.TERMINATED)

OPEN_REUSE_CONDITION = "stage NOT IN ('declined', 'withdrawn', 'terminated')"


class ConditionModel(enum.StrEnum):
    ANNUAL_FEE = "annual_fee"  # a fixed yearly amount
    SHARE_RULE = "share_rule"  # a share of the yearly cost by the alliance's cost key


class Reuse(db.Model):
    """One adopter Land reusing one listing (at most one open reuse per pair)."""

    __tablename__ = "reuse"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id"), index=True)
    adopter_land_ags: Mapped[str] = mapped_column(ForeignKey("land.ags"), index=True)
    stage: Mapped[ReuseStage] = mapped_column(_enum(ReuseStage, 14), index=True)
    # While on hold: the stage it resumes to.
    resume_stage: Mapped[ReuseStage | None] = mapped_column(_enum(ReuseStage, 14))
    stage_since: Mapped[datetime] = mapped_column(default=utcnow)
    lock_version: Mapped[int] = mapped_column(default=1)

    # Interessenbekundung (adopter)
    planned_start: Mapped[date | None]
    expected_usage: Mapped[int | None]  # expected cases per year
    interest_note: Mapped[str] = mapped_column(Text, default="")

    # Conditions proposed by the provider in coordination
    condition_model: Mapped[ConditionModel | None] = mapped_column(_enum(ConditionModel, 12))
    annual_fee_cents: Mapped[int | None] = mapped_column(BigInteger)
    share_rule: Mapped[str] = mapped_column(Text, default="")
    connection_cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    scope: Mapped[str] = mapped_column(Text, default="")
    conditions_start: Mapped[date | None]
    conditions_proposed_at: Mapped[datetime | None]
    conditions_proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    terminated_on: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    listing: Mapped[Listing] = relationship(lazy="joined")
    adopter_land: Mapped[Land] = relationship(lazy="joined")
    contract: Mapped[Contract | None] = relationship(back_populates="reuse", uselist=False)
    transitions: Mapped[list[ReuseTransition]] = relationship(
        back_populates="reuse", order_by="ReuseTransition.id"
    )
    onboarding_items: Mapped[list[OnboardingItem]] = relationship(
        back_populates="reuse", order_by="OnboardingItem.position"
    )

    __table_args__ = (
        CheckConstraint(
            "annual_fee_cents IS NULL OR annual_fee_cents >= 0", name="annual_fee_not_negative"
        ),
        CheckConstraint(
            "connection_cost_cents IS NULL OR connection_cost_cents >= 0",
            name="connection_cost_not_negative",
        ),
        CheckConstraint("expected_usage IS NULL OR expected_usage >= 0", name="usage_not_negative"),
        Index("ix_reuse_listing_adopter", "listing_id", "adopter_land_ags"),
        # At most one open reuse per Land and listing; a closed one may be followed by a new one.
        Index(
            "uq_reuse_open_per_land",
            "listing_id",
            "adopter_land_ags",
            unique=True,
            sqlite_where=text(OPEN_REUSE_CONDITION),
            postgresql_where=text(OPEN_REUSE_CONDITION),
        ),
        Index("ix_reuse_adopter_stage", "adopter_land_ags", "stage"),
        Index("ix_reuse_updated_at_id", "updated_at", "id"),
    )
    __mapper_args__ = {"version_id_col": lock_version}

    @property
    def has_conditions(self) -> bool:
        return self.conditions_proposed_at is not None


class ReuseTransition(db.Model):
    """One recorded move of a reuse: who, when, from where to where, and why."""

    __tablename__ = "reuse_transition"

    id: Mapped[int] = mapped_column(primary_key=True)
    reuse_id: Mapped[int] = mapped_column(ForeignKey("reuse.id"))
    from_stage: Mapped[ReuseStage | None] = mapped_column(_enum(ReuseStage, 14))
    to_stage: Mapped[ReuseStage] = mapped_column(_enum(ReuseStage, 14))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    comment: Mapped[str] = mapped_column(Text, default="")

    reuse: Mapped[Reuse] = relationship(back_populates="transitions")
    actor: Mapped[User | None] = relationship()

    __table_args__ = (Index("ix_reuse_transition_reuse", "reuse_id", "id"),)


class ContractStatus(enum.StrEnum):
    AWAITING_CHECK = "awaiting_check"
    AWAITING_COUNTERSIGN = "awaiting_countersign"
    IN_FORCE = "in_force"
    TERMINATED = "terminated"
    CANCELLED = "cancelled"  # the order was withdrawn before the contract took effect


class EligibilityBasis(enum.StrEnum):
    TRAEGER = "traeger"  # the Land is one of FITKO's owners (Träger)
    COOPERATION = "cooperation"  # a member of the IT-Planungsrat cooperation


class Contract(db.Model):
    """The SaaS-Nachnutzungsvertrag between FITKO and the adopter Land, created by an
    order; in force after one FITKO user's check and another's countersignature."""

    __tablename__ = "contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    reuse_id: Mapped[int] = mapped_column(ForeignKey("reuse.id"), unique=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    status: Mapped[ContractStatus] = mapped_column(_enum(ContractStatus, 22), index=True)
    lock_version: Mapped[int] = mapped_column(default=1)
    # The conditions as ordered (canonical JSON), so later edits cannot change a contract.
    conditions: Mapped[str] = mapped_column(Text)
    ordered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    ordered_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    checked_at: Mapped[datetime | None]
    eligibility_basis: Mapped[EligibilityBasis | None] = mapped_column(_enum(EligibilityBasis, 12))
    legal_basis: Mapped[str] = mapped_column(String(200), default="")
    check_remarks: Mapped[str] = mapped_column(Text, default="")

    countersigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    countersigned_at: Mapped[datetime | None]
    effective_date: Mapped[date | None]
    ended_on: Mapped[date | None]

    reuse: Mapped[Reuse] = relationship(back_populates="contract", lazy="joined")
    ordered_by: Mapped[User | None] = relationship(foreign_keys=[ordered_by_id])
    checked_by: Mapped[User | None] = relationship(foreign_keys=[checked_by_id])
    countersigned_by: Mapped[User | None] = relationship(foreign_keys=[countersigned_by_id])

    __table_args__ = (
        # Four eyes, also in the database: the countersigner is never the checker.
        CheckConstraint(
            "countersigned_by_id IS NULL OR checked_by_id IS NULL"
            " OR countersigned_by_id <> checked_by_id",
            name="four_eyes",
        ),
        CheckConstraint(
            "countersigned_by_id IS NULL OR checked_by_id IS NOT NULL",
            name="countersign_after_check",
        ),
    )
    __mapper_args__ = {"version_id_col": lock_version}


class OnboardingItem(db.Model):
    """One item of the technical onboarding checklist of a reuse."""

    __tablename__ = "onboarding_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    reuse_id: Mapped[int] = mapped_column(ForeignKey("reuse.id"))
    key: Mapped[str] = mapped_column(String(30))
    position: Mapped[int] = mapped_column(default=0)
    mandatory: Mapped[bool] = mapped_column(default=True)
    done_on: Mapped[date | None]
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(String(500), default="")

    reuse: Mapped[Reuse] = relationship(back_populates="onboarding_items")

    __table_args__ = (UniqueConstraint("reuse_id", "key", name="uq_onboarding_item_key"),)

    @property
    def done(self) -> bool:
        return self.done_on is not None


class RolloutStatus(enum.StrEnum):
    PLANNED = "planned"
    CONNECTING = "connecting"
    LIVE = "live"


ROLLOUT_ORDER = (RolloutStatus.PLANNED, RolloutStatus.CONNECTING, RolloutStatus.LIVE)


class Rollout(db.Model):
    """One authority of the adopter Land going live with the reused service."""

    __tablename__ = "rollout"

    id: Mapped[int] = mapped_column(primary_key=True)
    reuse_id: Mapped[int] = mapped_column(ForeignKey("reuse.id"))
    authority_id: Mapped[int] = mapped_column(ForeignKey("authority.id"))
    # Denormalised from the authority: maps and counts by Kreis without a join.
    kreis_ags: Mapped[str] = mapped_column(String(5))
    status: Mapped[RolloutStatus] = mapped_column(_enum(RolloutStatus, 10))
    status_on: Mapped[date]  # the date the current status was reached
    live_on: Mapped[date | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    authority: Mapped[Authority] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("reuse_id", "authority_id", name="uq_rollout_reuse_authority"),
        Index("ix_rollout_reuse_status", "reuse_id", "status"),
        Index("ix_rollout_reuse_kreis", "reuse_id", "kreis_ags"),
        # The public dashboard counts live authorities per Kreis and in total over every
        # rollout: read from this index alone, in Kreis order, instead of the table.
        Index("ix_rollout_status_kreis", "status", "kreis_ags", "authority_id", "reuse_id"),
    )


class RolloutEvent(db.Model):
    """History of rollout moves (for time series and lead times)."""

    __tablename__ = "rollout_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollout.id"), index=True)
    from_status: Mapped[RolloutStatus | None] = mapped_column(_enum(RolloutStatus, 10))
    to_status: Mapped[RolloutStatus] = mapped_column(_enum(RolloutStatus, 10))
    on: Mapped[date]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
