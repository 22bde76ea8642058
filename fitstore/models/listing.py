"""EfA listings (EfA-Leistungen), their published versions, pending revisions and documents."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fitstore.extensions import db
from fitstore.models.base import utcnow
from fitstore.models.organisation import Organisation
from fitstore.models.reference import Land, Themenfeld
from fitstore.models.user import User


def _enum(cls, length: int):
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class ListingStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class Transport(enum.StrEnum):
    FIT_CONNECT = "fit_connect"
    OSCI_DVDV = "osci_dvdv"


class UserAccount(enum.StrEnum):
    """Which user account (Nutzerkonto) the service logs citizens in with."""

    NONE = "none"
    SERVICEKONTO = "servicekonto"
    BUNDID = "bundid"
    BOTH = "servicekonto_bundid"


class RevisionStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DISCARDED = "discarded"  # taken back by the provider before FITKO decided


class Listing(db.Model):
    """One EfA service offered for reuse. Its columns hold the current text: the
    draft while unpublished, the published text afterwards (changes to a published
    listing wait in a ``ListingRevision`` until FITKO accepts them)."""

    __tablename__ = "listing"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[ListingStatus] = mapped_column(
        _enum(ListingStatus, 12), default=ListingStatus.DRAFT, index=True
    )
    # Optimistic concurrency: bumped on every change; the API's ETag.
    lock_version: Mapped[int] = mapped_column(default=1)
    provider_land_ags: Mapped[str] = mapped_column(ForeignKey("land.ags"), index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))

    title: Mapped[str] = mapped_column(String(200))
    ozg_name: Mapped[str] = mapped_column(String(200))
    ozg_id: Mapped[str] = mapped_column(String(10), index=True)
    leika_keys: Mapped[str] = mapped_column(Text, default="")  # space-separated, 14 digits each
    themenfeld_number: Mapped[int] = mapped_column(ForeignKey("themenfeld.number"), index=True)
    reifegrad: Mapped[int] = mapped_column(index=True)
    description: Mapped[str] = mapped_column(Text, default="")  # Markdown, rendered sanitised
    transport: Mapped[Transport] = mapped_column(_enum(Transport, 12), index=True)
    xoev_standard: Mapped[str] = mapped_column(String(80), default="")
    user_account: Mapped[UserAccount] = mapped_column(
        _enum(UserAccount, 24), default=UserAccount.NONE
    )
    payment: Mapped[str] = mapped_column(String(80), default="")
    requirements_note: Mapped[str] = mapped_column(Text, default="")
    checklist: Mapped[str] = mapped_column(Text, default="{}")  # JSON: criterion key -> fulfilled
    annual_cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    connection_cost_cents: Mapped[int | None] = mapped_column(BigInteger)
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")

    # Lower-cased German word stems of the searchable text (SQLite search; PostgreSQL
    # uses its own 'german' text search over the same document).
    search_document: Mapped[str] = mapped_column(Text, default="")
    search_stems: Mapped[str] = mapped_column(Text, default="")

    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    withdrawn_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    published_version: Mapped[int] = mapped_column(default=0)

    provider_land: Mapped[Land] = relationship(lazy="joined")
    operator: Mapped[Organisation | None] = relationship(lazy="joined")
    themenfeld: Mapped[Themenfeld] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship()
    versions: Mapped[list[ListingVersion]] = relationship(
        back_populates="listing", order_by="ListingVersion.number"
    )
    revisions: Mapped[list[ListingRevision]] = relationship(
        back_populates="listing", order_by="ListingRevision.id"
    )
    documents: Mapped[list[ListingDocument]] = relationship(
        back_populates="listing", order_by="ListingDocument.id"
    )

    __table_args__ = (
        CheckConstraint("reifegrad BETWEEN 0 AND 4", name="reifegrad_range"),
        CheckConstraint(
            "annual_cost_cents IS NULL OR annual_cost_cents >= 0", name="annual_cost_not_negative"
        ),
        CheckConstraint(
            "connection_cost_cents IS NULL OR connection_cost_cents >= 0",
            name="connection_cost_not_negative",
        ),
        Index("ix_listing_status_title", "status", "title"),
    )
    # Concurrent writers: the second UPDATE matches no row and fails (StaleDataError).
    __mapper_args__ = {"version_id_col": lock_version}

    @property
    def leika_list(self) -> list[str]:
        return [key for key in self.leika_keys.split() if key]


class ListingVersion(db.Model):
    """A published text of a listing, kept readable after later versions replace it."""

    __tablename__ = "listing_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id"))
    number: Mapped[int]
    content: Mapped[str] = mapped_column(Text)  # canonical JSON of the content fields
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    listing: Mapped[Listing] = relationship(back_populates="versions")
    published_by: Mapped[User | None] = relationship()

    __table_args__ = (UniqueConstraint("listing_id", "number", name="uq_listing_version_number"),)


class ListingRevision(db.Model):
    """Proposed changes to a published listing, waiting for FITKO's decision."""

    __tablename__ = "listing_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id"), index=True)
    status: Mapped[RevisionStatus] = mapped_column(
        _enum(RevisionStatus, 10), default=RevisionStatus.PENDING, index=True
    )
    content: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)

    listing: Mapped[Listing] = relationship(back_populates="revisions")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class ListingDocument(db.Model):
    """A PDF attached to a listing (e.g. Leistungsbeschreibung, Anbindungsleitfaden)."""

    __tablename__ = "listing_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    listing: Mapped[Listing] = relationship(back_populates="documents")


class Notification(db.Model):
    """An in-app notice for one user (its e-mail copy, if wanted, goes through the outbox)."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    message: Mapped[str] = mapped_column(String(500))
    link: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notification_user_unread", "user_id", "read_at"),)
