"""Reference data: Länder, Themenfelder, authorities (Kreise, Gemeinden), cost-key values."""

from __future__ import annotations

import enum
from decimal import Decimal

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fitstore.extensions import db


class Land(db.Model):
    __tablename__ = "land"

    ags: Mapped[str] = mapped_column(String(2), primary_key=True)
    iso: Mapped[str] = mapped_column(String(5), unique=True)
    short: Mapped[str] = mapped_column(String(2), unique=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)

    __table_args__ = (CheckConstraint("length(ags) = 2", name="ags_length"),)

    def __repr__(self) -> str:
        return f"<Land {self.short}>"


class Themenfeld(db.Model):
    __tablename__ = "themenfeld"

    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    lead_land_ags: Mapped[str | None] = mapped_column(ForeignKey("land.ags"))

    lead_land: Mapped[Land | None] = relationship()


class AuthorityLevel(enum.StrEnum):
    KREIS = "kreis"
    GEMEINDE = "gemeinde"


class Authority(db.Model):
    """A Kreis (5-digit key) or Gemeinde (8-digit AGS) that can go live with a service."""

    __tablename__ = "authority"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[AuthorityLevel] = mapped_column(
        Enum(
            AuthorityLevel,
            native_enum=False,
            length=10,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    ags: Mapped[str] = mapped_column(String(8), unique=True)
    ars: Mapped[str | None] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # Lower-cased name for case-insensitive search that uses an index on both databases.
    name_search: Mapped[str] = mapped_column(String(120), index=True)
    type: Mapped[str] = mapped_column(String(60))
    kreis_ags: Mapped[str] = mapped_column(String(5), index=True)
    land_ags: Mapped[str] = mapped_column(ForeignKey("land.ags"))
    population: Mapped[int | None]

    land: Mapped[Land] = relationship()

    __table_args__ = (Index("ix_authority_land_name", "land_ags", "name_search"),)


class CostKeyValue(db.Model):
    """One weight of a cost key for one Land and year (e.g. Königsteiner Schlüssel 2017)."""

    __tablename__ = "cost_key_value"

    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    land_ags: Mapped[str] = mapped_column(ForeignKey("land.ags"), primary_key=True)
    value: Mapped[Decimal] = mapped_column(Numeric(18, 5))

    land: Mapped[Land] = relationship()

    __table_args__ = (CheckConstraint("value >= 0", name="value_not_negative"),)
