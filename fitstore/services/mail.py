"""E-mail through an outbox table.

``enqueue`` writes a mail in the caller's transaction; ``send_pending`` (the CLI
``fitstore mail send``, safe to run from cron) delivers pending mail over SMTP.

Delivery guarantees:

- One transaction per mail. On PostgreSQL each mail is claimed with
  ``FOR UPDATE SKIP LOCKED`` and marked sent in the same transaction, so two
  overlapping runs never send one mail twice (a second run skips the locked row
  and, once it is committed, no longer sees it as pending). SQLite ignores row
  locks: there, runs must not overlap (one cron job, one process).
- A mail the server refuses (or that cannot be built) counts one attempt and is
  retried by later runs; after ``MAIL_MAX_ATTEMPTS`` it is marked failed.
- A server that cannot be reached (or refuses the login) is nobody's fault:
  nothing is sent, nothing is counted, the report says why and the CLI exits 1.
- A mail whose recipient was deactivated or switched e-mail notices off after it
  was queued is not sent (marked failed with that reason, attempts unchanged).
- Error texts pass through ``_describe``, which removes the SMTP password.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from fitstore.extensions import db
from fitstore.models import MailStatus, OutboxMail, User
from fitstore.models.base import utcnow

SUBJECT_PREFIX = "[FIT-Store] "
SECURITY_MODES = ("none", "starttls", "ssl")
ERROR_LENGTH = 500  # OutboxMail.last_error


def _absolute(link: str | None) -> str | None:
    if not link:
        return None
    if link.startswith(("http://", "https://")):
        return link
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/" + link.lstrip("/")


def enqueue(user, message: str, link: str | None = None) -> OutboxMail:
    """Queue one notice for ``user`` (the caller commits)."""
    # splitlines() also splits at \r and Unicode line breaks: nothing that could fold
    # or inject a header reaches the subject.
    first_line = message.splitlines()[0].strip() if message.strip() else ""
    subject = SUBJECT_PREFIX + (first_line[:150] or _("Neue Benachrichtigung"))
    lines = [
        _("Guten Tag %(name)s,", name=user.name),
        "",
        message,
        "",
    ]
    url = _absolute(link)
    if url:
        lines += [_("Details: %(url)s", url=url), ""]
    lines += [
        "-- ",
        _(
            "Diese Nachricht kommt vom FIT-Store. E-Mail-Benachrichtigungen schalten Sie"
            " in Ihrem Konto unter „Mein Konto“ ab."
        ),
    ]
    mail = OutboxMail(
        user_id=user.id, to_address=user.email, subject=subject[:200], body="\n".join(lines)
    )
    db.session.add(mail)
    return mail


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0  # attempts that failed this run (mail stays pending until max attempts)
    given_up: int = 0  # of those, mails that reached MAIL_MAX_ATTEMPTS and are now failed
    skipped: int = 0  # recipient deactivated or e-mail switched off since the mail was queued
    connection_error: str | None = None  # no connection or login: the rest stays pending


class MailConfigError(ValueError):
    """The SMTP settings cannot work; raised before anything is sent."""


def _describe(error: BaseException) -> str:
    """``Type: message`` for logs, the CLI and ``last_error``, without the SMTP password."""
    text = f"{type(error).__name__}: {error}"
    password = current_app.config.get("SMTP_PASSWORD")
    if isinstance(password, str) and password:
        text = text.replace(password, "***")
    return text[:ERROR_LENGTH]


def _settings() -> tuple[str, int, float, str, str | None, str | None]:
    config = current_app.config
    security = str(config["SMTP_SECURITY"]).lower()
    if security not in SECURITY_MODES:
        # Fail closed: a typo ("tls") must not fall back to a plain-text connection.
        raise MailConfigError(
            f"SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}, not {security!r}"
        )
    username, password = config.get("SMTP_USERNAME"), config.get("SMTP_PASSWORD")
    for name, value in (("SMTP_USERNAME", username), ("SMTP_PASSWORD", password)):
        if value is not None and not isinstance(value, str):
            # FITSTORE_* values are parsed as JSON: 1234 or true arrive as int or bool,
            # and turning them back into text could change them ("1e3"). Never echo it.
            raise MailConfigError(
                f"FITSTORE_{name} was read as {type(value).__name__}; quote it as a JSON string"
            )
    try:
        port, timeout = int(config["SMTP_PORT"]), float(config["SMTP_TIMEOUT"])
    except (TypeError, ValueError):
        raise MailConfigError("SMTP_PORT and SMTP_TIMEOUT must be numbers") from None
    return str(config["SMTP_HOST"]), port, timeout, security, username or None, password


def _connect() -> smtplib.SMTP:
    host, port, timeout, security, username, password = _settings()
    if security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if username:
            smtp.login(username, password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _message(mail: OutboxMail) -> EmailMessage:
    sender = current_app.config["MAIL_FROM"]
    # An explicit domain: make_msgid() would otherwise ask DNS for this host's FQDN.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "fitstore.invalid"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(idstring=f"outbox-{mail.id}", domain=domain)
    # RFC 3834: no out-of-office replies to a machine.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    return message


def _claim(exclude: list[int]) -> OutboxMail | None:
    """The oldest pending mail not in ``exclude``, row-locked until the next commit.

    ``SKIP LOCKED``: a mail another run is sending right now is left to that run.
    """
    query = (
        select(OutboxMail)
        .where(OutboxMail.status == MailStatus.PENDING)
        .order_by(OutboxMail.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if exclude:
        query = query.where(OutboxMail.id.not_in(exclude))
    return db.session.scalars(query).first()


def _undeliverable_reason(mail: OutboxMail) -> str | None:
    user = db.session.get(User, mail.user_id) if mail.user_id is not None else None
    if user is None:
        return None  # a mail to an address, not to an account
    if not user.active:
        return "not sent: the recipient's account is deactivated"
    if not user.email_notifications:
        return "not sent: the recipient switched e-mail notices off"
    # The account's current address, should it have changed since the mail was queued.
    mail.to_address = user.email
    return None


def send_pending(limit: int = 500) -> SendReport:
    """Deliver up to ``limit`` pending mails, oldest first; one transaction per mail.

    Raises MailConfigError (before sending anything) when the SMTP settings cannot work.
    """
    report = SendReport()
    max_attempts = max(1, int(current_app.config["MAIL_MAX_ATTEMPTS"]))
    _settings()  # refuse bad settings before any mail is touched
    smtp: smtplib.SMTP | None = None
    done_this_run: list[int] = []  # failed mails wait for the next run, not the next loop
    try:
        for _round in range(limit):
            mail = _claim(done_this_run)
            if mail is None:
                break
            reason = _undeliverable_reason(mail)
            if reason:
                mail.status = MailStatus.FAILED
                mail.last_error = reason
                db.session.commit()
                report.skipped += 1
                continue
            if smtp is None:
                try:
                    smtp = _connect()
                except (smtplib.SMTPException, OSError) as error:
                    # Not this mail's fault: leave it and the rest pending for the next run.
                    report.connection_error = _describe(error)
                    db.session.rollback()
                    break
            try:
                smtp.send_message(_message(mail))
            except (smtplib.SMTPServerDisconnected, OSError) as error:
                # The connection broke while this mail was on the wire: count it (a mail
                # that always kills the connection must not block the queue forever) and
                # reconnect for the next one.
                _count_failure(mail, error, max_attempts, report)
                done_this_run.append(mail.id)
                smtp.close()
                smtp = None
            except Exception as error:  # noqa: BLE001  refused by the server, or unbuildable
                # The server answered (smtplib has reset the transaction, the connection
                # stays usable), or the mail itself is broken: this mail's fault only.
                _count_failure(mail, error, max_attempts, report)
                done_this_run.append(mail.id)
                if smtp.sock is None:
                    smtp = None  # smtplib closed it (a 421 answer): reconnect for the next mail
            else:
                mail.attempts += 1
                mail.status = MailStatus.SENT
                mail.sent_at = utcnow()
                mail.last_error = None
                db.session.commit()
                report.sent += 1
    finally:
        db.session.rollback()  # releases the row lock of a mail claimed but not finished
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    return report


def _count_failure(mail: OutboxMail, error: BaseException, max_attempts: int, report) -> None:
    mail.attempts += 1
    mail.last_error = _describe(error)
    if mail.attempts >= max_attempts:
        mail.status = MailStatus.FAILED
        report.given_up += 1
    report.failed += 1
    db.session.commit()
