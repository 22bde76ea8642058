from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fitstore.extensions import db
from fitstore.models.base import utcnow


class AccessibilityFeedback(db.Model):
    """A barrier reported through the form of the "Erklärung zur Barrierefreiheit"."""

    __tablename__ = "accessibility_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    name: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    page_url: Mapped[str | None] = mapped_column(String(500))
    message: Mapped[str] = mapped_column(Text)
