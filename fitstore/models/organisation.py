from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fitstore.extensions import db
from fitstore.models.base import utcnow
from fitstore.models.reference import Land


class OrganisationKind(enum.StrEnum):
    LAND = "land"
    BUND = "bund"
    FITKO = "fitko"
    IT_DIENSTLEISTER = "it_dienstleister"
    KOMMUNE = "kommune"


# Kinds that act for exactly one Land (the tenant boundary).
LAND_BOUND_KINDS = (
    OrganisationKind.LAND,
    OrganisationKind.IT_DIENSTLEISTER,
    OrganisationKind.KOMMUNE,
)


class Organisation(db.Model):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OrganisationKind] = mapped_column(
        Enum(
            OrganisationKind,
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        ),
        index=True,
    )
    name: Mapped[str] = mapped_column(String(200), unique=True)
    short_name: Mapped[str] = mapped_column(String(40), unique=True)
    land_ags: Mapped[str | None] = mapped_column(ForeignKey("land.ags"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    land: Mapped[Land | None] = relationship()
    users: Mapped[list[User]] = relationship(back_populates="organisation")  # noqa: F821

    __table_args__ = (
        # A Land-bound organisation always names its Land; FITKO and Bund never do.
        CheckConstraint(
            "(kind IN ('land', 'it_dienstleister', 'kommune') AND land_ags IS NOT NULL)"
            " OR (kind IN ('bund', 'fitko') AND land_ags IS NULL)",
            name="land_matches_kind",
        ),
    )

    def __repr__(self) -> str:
        return f"<Organisation {self.short_name}>"
