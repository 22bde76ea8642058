"""The e-mail outbox: mail is written in the transaction of its cause and sent later
by ``fitstore mail send``, so a failing mail server never loses or blocks a change."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fitstore.extensions import db
from fitstore.models.base import utcnow


class MailStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    # Gave up after MAIL_MAX_ATTEMPTS, or the recipient was deactivated or switched
    # e-mail off before it went out (``last_error`` says which).
    FAILED = "failed"


class OutboxMail(db.Model):
    __tablename__ = "outbox_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[MailStatus] = mapped_column(
        Enum(
            MailStatus, native_enum=False, length=8, values_callable=lambda e: [m.value for m in e]
        ),
        default=MailStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outbox_mail_status_id", "status", "id"),)
