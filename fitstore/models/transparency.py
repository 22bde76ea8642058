"""Transparency: who follows which listing or Land, and which waits were reminded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fitstore.extensions import db
from fitstore.models.base import utcnow
from fitstore.models.listing import Listing
from fitstore.models.reference import Land


class Follow(db.Model):
    """One user following one published listing or one Land, with the channels they chose."""

    __tablename__ = "follow"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("listing.id"))
    land_ags: Mapped[str | None] = mapped_column(ForeignKey("land.ags"))
    in_app: Mapped[bool] = mapped_column(default=True)
    email: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    listing: Mapped[Listing | None] = relationship(lazy="joined")
    land: Mapped[Land | None] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint("(listing_id IS NULL) <> (land_ags IS NULL)", name="follows_one_target"),
        CheckConstraint("in_app OR email", name="follow_has_channel"),
        UniqueConstraint("user_id", "listing_id", name="uq_follow_user_listing"),
        UniqueConstraint("user_id", "land_ags", name="uq_follow_user_land"),
        # Who follows what: the lookups made when a listing or a Land changes.
        Index("ix_follow_listing", "listing_id"),
        Index("ix_follow_land", "land_ags"),
    )


class Reminder(db.Model):
    """A reminder sent for one wait: one reuse waiting for one party since one moment.

    The unique key makes ``fitstore remind`` cron-safe: a wait is reminded once, even
    when two runs overlap; a new wait (a later stage, or the same stage entered again)
    has a different ``wait_since`` and gets its own reminder."""

    __tablename__ = "reminder"

    id: Mapped[int] = mapped_column(primary_key=True)
    reuse_id: Mapped[int] = mapped_column(ForeignKey("reuse.id"))
    wait_key: Mapped[str] = mapped_column(String(40))  # e.g. "coordination:adopter"
    wait_since: Mapped[datetime]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    recipients: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        UniqueConstraint("reuse_id", "wait_key", "wait_since", name="uq_reminder_wait"),
    )
