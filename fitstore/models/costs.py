"""Cost-sharing data kept per listing: actual usage figures per Land and year, and the
yearly cost plan with its line items.

(The cost keys of the federation, Königsteiner Schlüssel and Einwohner, are reference
data: ``CostKeyValue`` in ``fitstore.models.reference``.)
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fitstore.extensions import db
from fitstore.models.base import utcnow
from fitstore.models.listing import Listing
from fitstore.models.reference import Land
from fitstore.models.user import User


class UsageSource(enum.StrEnum):
    ENTRY = "entry"  # entered by an editor of the Land itself
    IMPORT = "import"  # imported by FITKO from a CSV file


class UsageFigure(db.Model):
    """Tatsächliche Nutzungen (e.g. applications submitted) of one listing in one Land
    and calendar year: the weight of the cost key ``usage``."""

    __tablename__ = "usage_figure"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id"))
    year: Mapped[int]
    land_ags: Mapped[str] = mapped_column(ForeignKey("land.ags"))
    cases: Mapped[int] = mapped_column(BigInteger)
    # None only for the command line (SystemActor), which has no user row.
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[UsageSource] = mapped_column(
        Enum(
            UsageSource,
            native_enum=False,
            length=6,
            values_callable=lambda e: [m.value for m in e],
        )
    )

    listing: Mapped[Listing] = relationship()
    land: Mapped[Land] = relationship(lazy="joined")
    entered_by: Mapped[User | None] = relationship()

    __table_args__ = (
        # Also the index for "all figures of a listing and year".
        UniqueConstraint("listing_id", "year", "land_ags"),
        CheckConstraint("cases >= 0", name="cases_not_negative"),
    )


class CostType(enum.StrEnum):
    """The cost types of a cost plan (domain.md, "Cost sharing"). One-off
    Anbindungskosten are not among them: the adopter alone pays those (contract
    conditions), they are never shared."""

    INFRASTRUCTURE = "infrastructure"  # Betrieb technische Infrastruktur
    DEVELOPMENT = "development"  # fachliche Weiterentwicklung
    PLATFORM_FEES = "platform_fees"  # Plattformentgelte
    SERVICE_OPERATION = "service_operation"  # Betrieb Online-Dienst
    DIRECT = "direct"  # direkte Kosten


class CostPlanItem(db.Model):
    """One line item of a listing's cost plan for one calendar year, kept by the
    provider Land. The plan of a year is the sum of its items; its total is what the
    cost key splits among the payers."""

    __tablename__ = "cost_plan_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id"))
    year: Mapped[int]
    cost_type: Mapped[CostType] = mapped_column(
        Enum(
            CostType,
            native_enum=False,
            length=17,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    description: Mapped[str] = mapped_column(String(200), default="")
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    lock_version: Mapped[int] = mapped_column(default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    listing: Mapped[Listing] = relationship()
    created_by: Mapped[User | None] = relationship()

    __table_args__ = (
        # "All items of a listing and year" and "all plans of a year".
        Index("ix_cost_plan_item_listing_year", "listing_id", "year"),
        Index("ix_cost_plan_item_year", "year", "listing_id"),
        CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
    )
    __mapper_args__ = {"version_id_col": lock_version}
