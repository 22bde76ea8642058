"""Cost-sharing input data kept per listing: actual usage figures per Land and year.

(The cost keys of the federation, Königsteiner Schlüssel and Einwohner, are reference
data: ``CostKeyValue`` in ``fitstore.models.reference``.)
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Enum, ForeignKey, UniqueConstraint
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
