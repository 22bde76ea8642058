"""``fitstore remind [--days N]`` as cron runs it: the first run reminds whoever has to
act of every long wait, a second run sends nothing, and a bad --days is refused before
anything is sent.

The data are the demo plus the hand-made history of the service's unit tests, whose
waits all began in 2024 and are long past any threshold used here.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fitstore.extensions import db
from fitstore.models import AuditEvent, Notification, OutboxMail, Reminder, ReuseStage
from fitstore.models.base import utcnow
from fitstore.services import transparency
from tests.factories import user_by_email
from tests.unit.test_transparency_service import build_history, reuse_with_history

SUMMARY = re.compile(
    r"Waits of at least (\d+) days: reminders sent: (\d+), already reminded: (\d+),"
    r" without recipient: (\d+)"
)


def remind(app, *args: str) -> tuple[int, int, int, int]:
    result = app.test_cli_runner().invoke(args=["remind", *args])
    assert result.exit_code == 0, result.output
    match = SUMMARY.search(result.output)
    assert match, result.output
    return tuple(int(x) for x in match.groups())


def counts(app) -> tuple[int, int, int, int]:
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(model).where(*where))
            for model, where in (
                (Reminder, ()),
                (Notification, (Notification.message.startswith("Erinnerung"),)),
                (OutboxMail, (OutboxMail.subject.contains("Erinnerung"),)),
                (AuditEvent, (AuditEvent.action == "reuse.reminder_sent",)),
            )
        )


def test_remind_twice_sends_each_reminder_once(app):
    with app.app_context():
        history = build_history("Kommando Kiebitz")
        expected = transparency.waiting_list(user_by_email("fitko-1@demo.test"), 30)
    assert {history.reuses[x] for x in "CDEFG"} <= {w.reuse.id for w in expected}
    assert counts(app) == (0, 0, 0, 0)

    threshold, sent, already, without = remind(app, "--days", "30")
    assert threshold == 30
    assert sent + without == len(expected) and already == 0
    assert sent >= 5
    reminders, notices, mails, audits = counts(app)
    assert reminders == sent == audits
    assert notices >= sent and mails >= sent
    with app.app_context():
        reminded = set(db.session.scalars(select(Reminder.reuse_id)))
    assert {history.reuses[x] for x in "CDEFG"} <= reminded

    assert remind(app, "--days", "30") == (30, 0, sent, without)
    assert counts(app) == (reminders, notices, mails, audits)


def test_remind_uses_the_configured_threshold_by_default(app_factory):
    app = app_factory(WAIT_THRESHOLD_DAYS=400)
    with app.app_context():
        history = build_history("Kommando Kiebitz")
        # A wait of ten days: younger than the threshold, so not reminded yet.
        young = reuse_with_history(
            history.listing, "02", [(ReuseStage.INTEREST, utcnow() - timedelta(days=10))]
        ).id
        db.session.commit()
        long_ones = transparency.waiting_list(user_by_email("fitko-1@demo.test"))
        days = {
            w.reuse.id: w.days
            for w in transparency.waiting_list(user_by_email("fitko-1@demo.test"), 0)
        }
    threshold, sent, _already, without = remind(app)
    assert threshold == 400
    assert sent + without == len(long_ones)
    with app.app_context():
        reminded = set(db.session.scalars(select(Reminder.reuse_id)))
    assert reminded and all(days[reuse_id] >= 400 for reuse_id in reminded)
    assert young in days and young not in reminded


@pytest.mark.parametrize("days", ["-1", "3651", "abc", "1.5", ""])
def test_a_bad_days_value_is_refused_and_nothing_is_sent(app, days):
    result = app.test_cli_runner().invoke(args=["remind", "--days", days])
    assert result.exit_code == 2
    assert "--days" in result.output
    assert counts(app) == (0, 0, 0, 0)
