"""Notices by e-mail, end to end against a real SMTP server (aiosmtpd on 127.0.0.1).

A use case leaves a notice in the inbox and a mail in the outbox; ``fitstore mail
send`` (the CLI, as cron runs it) delivers the outbox over SMTP. Also here: the
inbox page's "mark one read", the account page's e-mail switch and the
notifications API. Runs on SQLite and PostgreSQL; two overlapping send runs need
PostgreSQL's row locks and real commits (``postgres_only``).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import create_engine, delete, func, select, update
from sqlalchemy.orm import Session

from fitstore.extensions import db
from fitstore.models import AuditEvent, MailStatus, Notification, OutboxMail, User
from fitstore.services import listings, notifications
from fitstore.services.admin import set_user_active
from fitstore.services.mail import send_pending
from tests.conftest import PG_URL
from tests.factories import listing_content, user_by_email

BASE_URL = "https://fitstore.example"
MAIL_FROM = "FIT-Store Test <no-reply@fitstore.example>"
FITKO_1, FITKO_2 = "fitko-1@demo.test", "fitko-2@demo.test"
EDITOR_BB, EDITOR_BY = "editor-bb@demo.test", "editor-by@demo.test"
SMTP_LOGIN, SMTP_SECRET = "fitstore", "Sehr-Geheim-4711"
API = "/api/v1/notifications"


# --- a real SMTP server -------------------------------------------------------------------


@dataclass
class Delivery:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Recorder:
    """aiosmtpd handler: records what arrives, refuses the addresses in ``refuse``."""

    deliveries: list[Delivery] = field(default_factory=list)
    rcpt_attempts: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    delay: float = 0.0  # seconds per message, to make overlapping runs overlap

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_attempts.append(address)
        if address in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        message = message_from_bytes(envelope.content, policy=email_policy.default)
        self.deliveries.append(Delivery(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Delivery]:
        return [d for d in self.deliveries if address in d.recipients]


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data == (
        SMTP_LOGIN.encode(),
        SMTP_SECRET.encode(),
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


class SmtpServer:
    def __init__(self, require_auth: bool = False):
        with socket.socket() as probe:  # aiosmtpd's Controller cannot listen on port 0
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.recorder = Recorder()
        extra = {"authenticator": _authenticate, "auth_require_tls": False} if require_auth else {}
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **extra)
        self.running = False

    def start(self) -> None:
        self.controller.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.controller.stop()
            self.running = False


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def _mail_config(server: SmtpServer, **overrides) -> dict:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": server.port,
        "SMTP_TIMEOUT": 5,
        "PUBLIC_BASE_URL": BASE_URL,
        "MAIL_FROM": MAIL_FROM,
        "MAIL_MAX_ATTEMPTS": 3,
        **overrides,
    }


def _settle_demo_queue(app) -> None:
    """The demo data's notices queued mail too: gone (in this test's database only),
    so that the outbox holds just what a test puts there."""
    with app.app_context():
        db.session.execute(delete(OutboxMail))
        db.session.commit()


@pytest.fixture
def mail_app(app_factory, smtp):
    application = app_factory(**_mail_config(smtp))
    _settle_demo_queue(application)
    return application


def send(app):
    """``fitstore mail send`` as cron runs it."""
    return app.test_cli_runner().invoke(args=["mail", "send"])


def outbox(app, *where) -> list[OutboxMail]:
    """The outbox rows matching ``where`` (default: the pending ones), detached."""
    where = where or (OutboxMail.status == MailStatus.PENDING,)
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMail).where(*where).order_by(OutboxMail.id)))
        db.session.expunge_all()
        return rows


def mail_to(app, email: str) -> list[OutboxMail]:
    return outbox(app, OutboxMail.to_address == email)


def inbox_count(app, email: str, message: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .join(User, User.id == Notification.user_id)
            .where(User.email == email, Notification.message == message)
        )


def notify(app, emails: list[str], message: str, link: str | None = "/leistungen/1") -> None:
    with app.app_context():
        notifications.notify([user_by_email(e) for e in emails], message, link)
        db.session.commit()


def submit_new_listing(app, title: str) -> int:
    """A use case that notifies: an editor submits a draft; FITKO hears of it."""
    with app.app_context():
        editor = user_by_email(EDITOR_BB)
        listing = listings.create_listing(editor, listing_content(title=title))
        listings.submit_listing(editor, listing.id)
        return listing.id


# --- delivery -----------------------------------------------------------------------------


def test_a_submitted_listing_reaches_fitko_by_mail_exactly_once(mail_app, smtp):
    title = "Testleistung Mauersegler"
    listing_id = submit_new_listing(mail_app, title)
    queued = outbox(mail_app)
    assert sorted(m.to_address for m in queued) == [FITKO_1, FITKO_2]
    assert inbox_count(mail_app, FITKO_1, f"Neue Leistung zur Prüfung: {title}") == 1

    result = send(mail_app)

    assert result.exit_code == 0, result.output
    assert "sent: 2" in result.output
    assert sorted(r for d in smtp.recorder.deliveries for r in d.recipients) == [FITKO_1, FITKO_2]
    delivery = smtp.recorder.to(FITKO_1)[0]
    message = delivery.message
    assert message["To"] == FITKO_1
    assert message["From"] == MAIL_FROM
    assert delivery.sender == "no-reply@fitstore.example"
    assert message["Subject"] == f"[FIT-Store] Neue Leistung zur Prüfung: {title}"
    assert message["Message-ID"] and message["Date"]
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_content()
    assert f"{BASE_URL}/leistungen/{listing_id}" in body
    assert "Guten Tag" in body
    for mail in mail_to(mail_app, FITKO_1) + mail_to(mail_app, FITKO_2):
        assert (mail.status, mail.attempts, mail.last_error) == (MailStatus.SENT, 1, None)
        assert mail.sent_at is not None

    again = send(mail_app)

    assert again.exit_code == 0, again.output
    assert "sent: 0" in again.output
    assert len(smtp.recorder.deliveries) == 2  # no duplicates


def test_an_unreachable_server_sends_nothing_and_leaves_the_mail_pending(mail_app, smtp):
    notify(mail_app, [FITKO_1], "Server weg")
    smtp.stop()

    result = send(mail_app)

    assert result.exit_code == 1
    assert "Cannot connect to or log in at the SMTP server" in result.output
    assert f"127.0.0.1:{smtp.port}" in result.output
    [mail] = mail_to(mail_app, FITKO_1)
    assert (mail.status, mail.attempts, mail.last_error) == (MailStatus.PENDING, 0, None)


def test_a_refused_recipient_is_retried_each_run_until_max_attempts(mail_app, smtp):
    smtp.recorder.refuse.add(FITKO_2)
    notify(mail_app, [FITKO_1, FITKO_2], "Teilweise zustellbar")

    for run in (1, 2, 3):
        result = send(mail_app)
        assert result.exit_code == 0, result.output  # the server works; one mail is bad
        assert smtp.recorder.rcpt_attempts.count(FITKO_2) == run  # once per run, not in a loop
        [refused] = mail_to(mail_app, FITKO_2)
        assert refused.attempts == run
        assert "550" in refused.last_error
        expected = MailStatus.FAILED if run == 3 else MailStatus.PENDING
        assert refused.status == expected

    assert "given up: 1" in result.output
    fourth = send(mail_app)
    assert fourth.exit_code == 0
    assert smtp.recorder.rcpt_attempts.count(FITKO_2) == 3  # given up: never tried again
    assert mail_to(mail_app, FITKO_2)[0].attempts == 3
    # The good mail went out once, in the first run, whatever happened to the other one.
    assert len(smtp.recorder.to(FITKO_1)) == 1
    assert smtp.recorder.to(FITKO_2) == []


def test_a_user_who_switched_mail_off_gets_the_notice_in_the_inbox_only(mail_app, smtp):
    with mail_app.app_context():
        notifications.set_email_notifications(user_by_email(FITKO_2), False)
    title = "Testleistung Zaunkönig"
    submit_new_listing(mail_app, title)

    assert inbox_count(mail_app, FITKO_2, f"Neue Leistung zur Prüfung: {title}") == 1
    assert mail_to(mail_app, FITKO_2) == []
    assert len(mail_to(mail_app, FITKO_1)) == 1
    assert send(mail_app).exit_code == 0
    assert [r for d in smtp.recorder.deliveries for r in d.recipients] == [FITKO_1]


def test_an_inactive_user_gets_neither_notice_nor_mail(mail_app):
    with mail_app.app_context():
        admin, fitko_2 = user_by_email("admin@demo.test"), user_by_email(FITKO_2)
        set_user_active(admin, fitko_2.id, False)
    notify(mail_app, [FITKO_1, FITKO_2, FITKO_1], "Nur für Aktive")

    assert inbox_count(mail_app, FITKO_2, "Nur für Aktive") == 0
    assert mail_to(mail_app, FITKO_2) == []
    assert inbox_count(mail_app, FITKO_1, "Nur für Aktive") == 1  # and only once
    assert len(mail_to(mail_app, FITKO_1)) == 1


def test_mail_queued_before_opting_out_or_deactivation_is_not_sent(mail_app, smtp):
    notify(mail_app, [FITKO_1, FITKO_2], "Vorher eingereiht")
    with mail_app.app_context():
        notifications.set_email_notifications(user_by_email(FITKO_1), False)
        set_user_active(user_by_email("admin@demo.test"), user_by_email(FITKO_2).id, False)

    result = send(mail_app)

    assert result.exit_code == 0, result.output
    assert smtp.recorder.deliveries == []
    [opted_out], [inactive] = mail_to(mail_app, FITKO_1), mail_to(mail_app, FITKO_2)
    assert (opted_out.status, opted_out.attempts) == (MailStatus.FAILED, 0)
    assert "switched e-mail notices off" in opted_out.last_error
    assert (inactive.status, inactive.attempts) == (MailStatus.FAILED, 0)
    assert "deactivated" in inactive.last_error


def test_smtp_login_works_and_a_wrong_password_is_never_shown(app_factory):
    server = SmtpServer(require_auth=True)
    server.start()
    try:
        wrong = app_factory(
            **_mail_config(server, SMTP_USERNAME=SMTP_LOGIN, SMTP_PASSWORD="falsch-" + SMTP_SECRET)
        )
        _settle_demo_queue(wrong)
        notify(wrong, [FITKO_1], "Mit Anmeldung")

        result = send(wrong)

        assert result.exit_code == 1
        assert "Cannot connect to or log in" in result.output
        assert "535" in result.output  # the server's answer is there ...
        assert SMTP_SECRET not in result.output  # ... the password is not
        [mail] = mail_to(wrong, FITKO_1)
        assert (mail.status, mail.attempts, mail.last_error) == (MailStatus.PENDING, 0, None)
        assert server.recorder.deliveries == []

        with wrong.app_context():
            wrong.config["SMTP_PASSWORD"] = SMTP_SECRET
        assert send(wrong).exit_code == 0
        assert [d.recipients for d in server.recorder.deliveries] == [[FITKO_1]]
    finally:
        server.stop()


def test_error_texts_never_contain_the_password(mail_app):
    from fitstore.services.mail import _describe

    with mail_app.app_context():
        mail_app.config["SMTP_PASSWORD"] = SMTP_SECRET
        text = _describe(OSError(f"server said: AUTH {SMTP_SECRET} rejected"))
    assert SMTP_SECRET not in text
    assert text == "OSError: server said: AUTH *** rejected"


@pytest.mark.parametrize(
    ("setting", "value", "complaint"),
    [
        ("SMTP_SECURITY", "tls", "SMTP_SECURITY must be one of none, starttls, ssl"),
        # FITSTORE_SMTP_PASSWORD=4711 arrives as JSON, an int: refused, not echoed.
        ("SMTP_PASSWORD", 4711, "FITSTORE_SMTP_PASSWORD was read as int"),
    ],
)
def test_unusable_settings_fail_closed_before_any_connection(
    app_factory, smtp, setting, value, complaint
):
    app = app_factory(**_mail_config(smtp, SMTP_USERNAME=SMTP_LOGIN, **{setting: value}))
    _settle_demo_queue(app)
    notify(app, [FITKO_1], "Falsch eingestellt")

    result = send(app)

    assert result.exit_code == 1
    assert complaint in result.output
    assert "4711" not in result.output
    assert smtp.recorder.rcpt_attempts == []
    [mail] = mail_to(app, FITKO_1)
    assert (mail.status, mail.attempts) == (MailStatus.PENDING, 0)


@pytest.mark.postgres_only
def test_two_overlapping_runs_deliver_each_mail_exactly_once(app_factory, smtp):
    """Two cron runs at once, each with its own connection: SKIP LOCKED splits the queue."""
    app = app_factory(**_mail_config(smtp))
    smtp.recorder.delay = 0.03
    addresses = [f"parallel-{n}@example.org" for n in range(30)]
    # Real commits on separate connections, outside the test's rolled-back transaction.
    engine = create_engine(PG_URL)
    with Session(engine) as session:
        first_new_id = (session.scalar(select(func.max(OutboxMail.id))) or 0) + 1
        # The demo's queued mail is parked (and restored below) so that only ours is pending.
        parked = list(
            session.scalars(
                update(OutboxMail)
                .where(OutboxMail.status == MailStatus.PENDING)
                .values(status=MailStatus.FAILED)
                .returning(OutboxMail.id)
            )
        )
        session.add_all(
            OutboxMail(to_address=address, subject=f"Parallel {address}", body="Hallo")
            for address in addresses
        )
        session.commit()
    reports, errors = [], []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            with app.app_context():
                with Session(engine) as session:
                    db.session.registry.set(session)
                    barrier.wait()
                    reports.append(send_pending())
                db.session.registry.clear()
        except BaseException as exc:  # noqa: BLE001  reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        received = sorted(r for d in smtp.recorder.deliveries for r in d.recipients)
        assert received == sorted(addresses)  # every mail, none twice
        assert sorted(report.sent for report in reports) != [0, 30]  # both runs really worked
        assert sum(report.sent for report in reports) == 30
        with Session(engine) as session:
            statuses = session.scalars(
                select(OutboxMail.status).where(OutboxMail.id >= first_new_id)
            ).all()
        assert statuses == [MailStatus.SENT] * 30
    finally:
        with Session(engine) as session:
            session.execute(delete(OutboxMail).where(OutboxMail.id >= first_new_id))
            if parked:
                session.execute(
                    update(OutboxMail)
                    .where(OutboxMail.id.in_(parked))
                    .values(status=MailStatus.PENDING)
                )
            session.commit()
        engine.dispose()


# --- the inbox page: mark one notice read --------------------------------------------------


def _own_and_foreign_notice(app) -> tuple[int, int, int]:
    notify(app, [EDITOR_BB], "Erste Nachricht für BB")
    notify(app, [EDITOR_BB], "Zweite Nachricht für BB")
    notify(app, [EDITOR_BY], "Nachricht für BY")
    with app.app_context():
        ids = dict(
            db.session.execute(
                select(Notification.message, Notification.id).where(
                    Notification.message.in_(
                        ["Erste Nachricht für BB", "Zweite Nachricht für BB", "Nachricht für BY"]
                    )
                )
            ).all()
        )
    return ids["Erste Nachricht für BB"], ids["Zweite Nachricht für BB"], ids["Nachricht für BY"]


def _read_at(app, notification_id: int):
    with app.app_context():
        return db.session.get(Notification, notification_id).read_at


def test_the_inbox_marks_one_own_notice_read(app, client, login_as):
    first, second, _foreign = _own_and_foreign_notice(app)
    login_as(EDITOR_BB)
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert f'action="/benachrichtigungen/{first}/gelesen"' in page
    assert f'id="notice-{first}"' in page

    response = client.post(f"/benachrichtigungen/{first}/gelesen")

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/benachrichtigungen#notice-{first}")
    assert _read_at(app, first) is not None
    assert _read_at(app, second) is None  # only that one
    page = client.get("/benachrichtigungen").get_data(as_text=True)
    assert "Die Benachrichtigung ist als gelesen markiert." in page
    assert f'action="/benachrichtigungen/{first}/gelesen"' not in page  # no button once read
    assert f'action="/benachrichtigungen/{second}/gelesen"' in page
    # Idempotent; the page number survives the round trip.
    again = client.post(f"/benachrichtigungen/{first}/gelesen?page=2")
    assert again.headers["Location"].endswith(f"/benachrichtigungen?page=2#notice-{first}")


def test_another_users_notice_cannot_be_marked_read(app, client, login_as):
    _first, _second, foreign = _own_and_foreign_notice(app)
    login_as(EDITOR_BB)

    assert client.post(f"/benachrichtigungen/{foreign}/gelesen").status_code == 404
    assert client.post("/benachrichtigungen/999999/gelesen").status_code == 404
    assert _read_at(app, foreign) is None


def test_marking_one_read_needs_the_csrf_token(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    first, _second, _foreign = _own_and_foreign_notice(app)
    client = app.test_client()
    page = client.get("/anmelden").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post(
        "/anmelden",
        data={"email": EDITOR_BB, "password": "fitstore-demo", "csrf_token": token},
    )

    assert client.post(f"/benachrichtigungen/{first}/gelesen").status_code == 400
    assert _read_at(app, first) is None


# --- the account page: e-mail on or off ----------------------------------------------------


def _preference(app, email: str) -> bool:
    with app.app_context():
        return user_by_email(email).email_notifications


def _switch_events(app, email: str) -> list[AuditEvent]:
    with app.app_context():
        events = list(
            db.session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.action == "user.email_notifications_changed",
                    AuditEvent.actor_email == email,
                )
                .order_by(AuditEvent.id)
            )
        )
        db.session.expunge_all()
        return events


def _box(page: str) -> str:
    """The e-mail checkbox's tag."""
    return re.search(r'<input[^>]*id="notify-email_notifications"[^>]*>', page).group(0)


def test_the_account_page_switches_mail_off_and_on(app, client, login_as):
    login_as(EDITOR_BB)
    page = client.get("/konto").get_data(as_text=True)
    assert '<legend class="kern-label">' in page
    assert '<label class="kern-label" for="notify-email_notifications">' in page
    assert 'name="notify-email_notifications" type="checkbox"' in _box(page)
    assert 'aria-describedby="notify-email_notifications-hint"' in _box(page)
    assert "checked" in _box(page)

    off = client.post("/konto/benachrichtigungen", data={})  # an unchecked box is not sent

    assert off.status_code == 302
    assert off.headers["Location"].endswith("/konto#notices-heading")
    assert _preference(app, EDITOR_BB) is False
    page = client.get("/konto").get_data(as_text=True)
    assert "nur noch im Postfach" in page
    assert "checked" not in _box(page)
    [event] = _switch_events(app, EDITOR_BB)
    assert json.loads(event.details) == {"enabled": False}

    on = client.post("/konto/benachrichtigungen", data={"notify-email_notifications": "y"})

    assert on.status_code == 302
    assert _preference(app, EDITOR_BB) is True
    assert "jetzt auch per E-Mail" in client.get("/konto").get_data(as_text=True)
    events = _switch_events(app, EDITOR_BB)
    assert len(events) == 2
    assert json.loads(events[1].details) == {"enabled": True}
    # Saving the same choice again changes nothing and audits nothing.
    client.post("/konto/benachrichtigungen", data={"notify-email_notifications": "y"})
    assert len(_switch_events(app, EDITOR_BB)) == 2


def test_another_forms_error_does_not_show_the_box_unchecked(client, login_as):
    login_as(EDITOR_BB)
    response = client.post("/konto/passwort", data={"pw-current_password": "falsch"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "checked" in _box(page)


# --- the notifications API -----------------------------------------------------------------


def _all_items(client, headers, query: str = "") -> list[dict]:
    items, page = [], 1
    while True:
        body = client.get(f"{API}?page_size=100&page={page}{query}", headers=headers).get_json()
        items += body["items"]
        if page >= body["pages"]:
            return items
        page += 1


def test_the_api_lists_only_the_callers_notices(app, client, api_token):
    first, second, foreign = _own_and_foreign_notice(app)
    headers = api_token(EDITOR_BB)
    with app.app_context():
        editor = user_by_email(EDITOR_BB)
        own_total = db.session.scalar(
            select(func.count()).select_from(Notification).where(Notification.user_id == editor.id)
        )
        own_unread = notifications.unread_count(editor)

    response = client.get(f"{API}?page_size=1", headers=headers)

    assert response.status_code == 200
    body = response.get_json()
    assert (body["page"], body["page_size"], body["total"]) == (1, 1, own_total)
    assert body["pages"] == own_total
    assert body["unread_count"] == own_unread
    assert body["items"][0]["id"] == second  # newest first
    assert set(body["items"][0]) == {"id", "message", "link", "created_at", "read_at"}
    ids = {item["id"] for item in _all_items(client, headers)}
    assert {first, second} <= ids
    assert foreign not in ids
    assert len(ids) == own_total


def test_the_api_filters_unread_and_marks_read(app, client, api_token):
    first, second, _foreign = _own_and_foreign_notice(app)
    headers = api_token(EDITOR_BB)
    with app.app_context():
        notifications.mark_all_read(user_by_email(EDITOR_BB))
    notify(app, [EDITOR_BB], "Ungelesen für BB")

    unread = client.get(f"{API}?unread=true", headers=headers).get_json()
    assert [item["message"] for item in unread["items"]] == ["Ungelesen für BB"]
    assert unread["unread_count"] == unread["total"] == 1
    everything = client.get(f"{API}?unread=false", headers=headers).get_json()
    assert everything["total"] > 1
    assert everything["unread_count"] == 1

    new_id = unread["items"][0]["id"]
    response = client.post(f"{API}/{new_id}/read", headers=headers)

    assert response.status_code == 200
    assert response.get_json()["id"] == new_id
    assert response.get_json()["read_at"].endswith("+00:00")
    after = client.get(f"{API}?unread=true", headers=headers).get_json()
    assert (after["total"], after["unread_count"]) == (0, 0)
    assert client.post(f"{API}/{new_id}/read", headers=headers).status_code == 200  # idempotent
    assert _read_at(app, first) is not None  # by the mark-all above, like the rest
    assert _read_at(app, second) is not None


def test_the_api_answers_404_for_another_users_notice(app, client, api_token):
    _first, _second, foreign = _own_and_foreign_notice(app)
    headers = api_token(EDITOR_BB)

    response = client.post(f"{API}/{foreign}/read", headers=headers)

    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert _read_at(app, foreign) is None
    assert client.post(f"{API}/0/read", headers=headers).status_code == 404
    assert client.post(f"{API}/99999999999/read", headers=headers).status_code == 404


@pytest.mark.parametrize(
    "query", ["unread=yes", "unread=1", "page=0", "page_size=101", "user_id=1", "lang=fr"]
)
def test_the_api_refuses_bad_query_parameters(client, api_token, query):
    response = client.get(f"{API}?{query}", headers=api_token(EDITOR_BB))
    assert response.status_code == 422


def test_the_api_needs_a_token_and_ignores_the_session_cookie(client, login_as):
    assert client.get(API).status_code == 401
    assert client.post(f"{API}/1/read").status_code == 401
    login_as(EDITOR_BB)
    assert client.get(API).status_code == 401
