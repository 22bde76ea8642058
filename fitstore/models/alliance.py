"""Nachnutzungsallianz: the Länder reusing one listing, and their yearly cost-key decision."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fitstore.extensions import db
from fitstore.models.base import utcnow
from fitstore.models.listing import Listing
from fitstore.models.reference import Land
from fitstore.models.user import User


def _enum(cls, length: int):
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class MembershipStatus(enum.StrEnum):
    REQUESTED = "requested"
    MEMBER = "member"
    DECLINED = "declined"
    LEFT = "left"


class CostKey(enum.StrEnum):
    KOENIGSTEIN = "koenigstein"
    POPULATION = "population"
    USAGE = "usage"
    TARGET_GROUP = "target_group"
    EQUAL = "equal"
    MIXED = "mixed"


DEFAULT_COST_KEY = CostKey.USAGE  # IT-Planungsrat decision 2021/24


class FundingModel(enum.StrEnum):
    PARTICIPANTS = "participants"
    EFA_2024 = "efa_2024"


class DecisionStatus(enum.StrEnum):
    OPEN = "open"
    ADOPTED = "adopted"  # unanimous: the proposed key applies
    REJECTED = "rejected"  # an objection: the default key "usage" applies


class Vote(enum.StrEnum):
    APPROVE = "approve"
    OBJECT = "object"


class Alliance(db.Model):
    """One Nachnutzungsallianz per listing; the provider Land leads it."""

    __tablename__ = "alliance"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id"), unique=True)
    lead_land_ags: Mapped[str] = mapped_column(ForeignKey("land.ags"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    listing: Mapped[Listing] = relationship(lazy="joined")
    memberships: Mapped[list[AllianceMembership]] = relationship(
        back_populates="alliance", order_by="AllianceMembership.land_ags"
    )


class AllianceMembership(db.Model):
    __tablename__ = "alliance_membership"

    id: Mapped[int] = mapped_column(primary_key=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliance.id"))
    land_ags: Mapped[str] = mapped_column(ForeignKey("land.ags"), index=True)
    status: Mapped[MembershipStatus] = mapped_column(_enum(MembershipStatus, 10))
    is_lead: Mapped[bool] = mapped_column(default=False)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    message: Mapped[str] = mapped_column(Text, default="")

    alliance: Mapped[Alliance] = relationship(back_populates="memberships")
    land: Mapped[Land] = relationship(lazy="joined")
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])

    __table_args__ = (
        UniqueConstraint("alliance_id", "land_ags", name="uq_alliance_membership_land"),
    )


class CostKeyDecision(db.Model):
    """The alliance's cost key for one calendar year: proposed by the lead, voted by members."""

    __tablename__ = "cost_key_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliance.id"))
    year: Mapped[int]
    proposed_key: Mapped[CostKey] = mapped_column(_enum(CostKey, 14))
    # For "mixed": JSON {key: percent}; for "target_group": JSON {land_ags: weight}.
    key_parameters: Mapped[str] = mapped_column(Text, default="{}")
    funding_model: Mapped[FundingModel] = mapped_column(_enum(FundingModel, 14))
    status: Mapped[DecisionStatus] = mapped_column(_enum(DecisionStatus, 10), index=True)
    # The key that applies for the year once decided (proposed or the default "usage").
    outcome_key: Mapped[CostKey | None] = mapped_column(_enum(CostKey, 14))
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    rationale: Mapped[str] = mapped_column(Text, default="")
    lock_version: Mapped[int] = mapped_column(default=1)

    alliance: Mapped[Alliance] = relationship()
    votes: Mapped[list[CostKeyVote]] = relationship(
        back_populates="decision", order_by="CostKeyVote.land_ags"
    )

    __table_args__ = (UniqueConstraint("alliance_id", "year", name="uq_cost_key_decision_year"),)
    __mapper_args__ = {"version_id_col": lock_version}


class CostKeyVote(db.Model):
    __tablename__ = "cost_key_vote"

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("cost_key_decision.id"))
    land_ags: Mapped[str] = mapped_column(ForeignKey("land.ags"))
    vote: Mapped[Vote] = mapped_column(_enum(Vote, 8))
    comment: Mapped[str] = mapped_column(String(1000), default="")
    voted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    voted_at: Mapped[datetime] = mapped_column(default=utcnow)

    decision: Mapped[CostKeyDecision] = relationship(back_populates="votes")

    __table_args__ = (
        UniqueConstraint("decision_id", "land_ags", name="uq_cost_key_vote_land"),
        Index("ix_cost_key_vote_decision", "decision_id"),
    )
