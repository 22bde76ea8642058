"""The ``fitstore`` command: a FlaskGroup over create_app plus the project's own commands."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from fitstore.extensions import db


def _create_app():
    from fitstore import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, load_dotenv=False)
def main() -> None:
    """fitstore: the FIT-Store for reusing EfA online services."""


def register_commands(app) -> None:
    app.cli.add_command(load_reference_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(generate_command)
    app.cli.add_command(user_group)
    app.cli.add_command(token_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(mail_group)
    app.cli.add_command(remind_command)


@click.command("load-reference")
@with_appcontext
def load_reference_command() -> None:
    """Load or update the shipped reference data (idempotent)."""
    from fitstore.services.reference import load_reference

    report = load_reference()
    click.echo(
        f"Länder: {report.laender}, organisations added: {report.organisations_added}, "
        f"Themenfelder: {report.themenfelder}, "
        f"authorities added: {report.authorities_added}, updated: {report.authorities_updated}, "
        f"cost-key values: {report.cost_key_values}"
    )


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load reference data plus demo organisations, users, listings and reuses (never in
    production; idempotent)."""
    if current_app.config["ENV"] == "production":
        raise click.ClickException("Refusing to load demo data: FITSTORE_ENV is 'production'.")
    from fitstore.services.demo import DEMO_PASSWORD, load_demo

    report = load_demo()
    click.echo(
        f"Demo data ready: {report.organisations_created} organisations, "
        f"{report.users_created} users and {report.listings_created} listings created; "
        f"{report.reuses_created} reuses, {report.alliance_members_added} alliance members and "
        f"{report.cost_key_decisions_created} cost-key decisions, "
        f"{report.cost_plan_items_created} cost plan items and "
        f"{report.usage_figures_recorded} usage figures added. "
        f"Password for every demo user: {DEMO_PASSWORD}"
    )
    for note in report.notes:
        click.echo(note)


@click.command("generate")
@click.option(
    "--scale",
    type=click.Choice(["small", "national"]),
    required=True,
    help="small: about 60 listings and 35,000 rollouts; national: about 600 listings and"
    " 1.5 million rollouts.",
)
@click.option("--seed", type=int, required=True, help="The same seed gives the same data.")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the generated history reaches (YYYY-MM-DD; default: today).",
)
@with_appcontext
def generate_command(scale: str, seed: int, as_of) -> None:
    """Load the demo and add a synthetic national data set on the real reference data
    (never in production; once per database)."""
    if current_app.config["ENV"] == "production":
        raise click.ClickException("Refusing to generate data: FITSTORE_ENV is 'production'.")
    from fitstore.models.base import utcnow
    from fitstore.services.generate import GenerateRefused, generate

    day = as_of.date() if as_of is not None else utcnow().date()
    try:
        report = generate(scale, seed, day, progress=click.echo)
    except GenerateRefused as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Generated scale {scale}, seed {seed}, as of {day.isoformat()}:")
    for table, count in report.rows.items():
        click.echo(f"  {table:<22} {count:>10,}")
    click.echo(f"  {'total':<22} {sum(report.rows.values()):>10,} rows in {report.seconds:.1f} s")


@click.group("user")
def user_group() -> None:
    """Manage user accounts."""


@user_group.command("create")
@click.argument("email")
@click.option(
    "--org", "org", required=True, help="Short name of the organisation, e.g. LAND-BB or FITKO"
)
@click.option("--role", type=click.Choice(["viewer", "editor", "fitko", "admin"]), required=True)
@click.option("--name", default=None, help="Display name (defaults to the e-mail address)")
@click.password_option(help="Initial password (12 to 128 characters)")
@with_appcontext
def create_user_command(email: str, org: str, role: str, name: str | None, password: str) -> None:
    """Create a user (as the system, audited)."""
    from fitstore.errors import Invalid
    from fitstore.models import Organisation
    from fitstore.services.admin import create_user
    from fitstore.services.system import SystemActor

    organisation = db.session.scalar(select(Organisation).where(Organisation.short_name == org))
    if organisation is None:
        raise click.ClickException(f"No organisation with short name {org!r}.")
    try:
        user = create_user(
            SystemActor(),
            email=email,
            name=name or email.split("@")[0][:120],
            role=role,
            organisation_id=organisation.id,
            password=password,
        )
    except Invalid as error:
        problems = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in error.errors.items())
        raise click.ClickException(problems or str(error)) from None
    click.echo(f"Created {user.email} ({user.role.value}) in {organisation.short_name}.")


@click.group("token")
def token_group() -> None:
    """Manage API tokens."""


@token_group.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for")
@with_appcontext
def create_token_command(email: str, name: str) -> None:
    """Create an API token for EMAIL and print it once."""
    from fitstore.models import User
    from fitstore.services.auth import create_token, normalise_email

    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.is_active:
        raise click.ClickException(f"No active user {email!r}.")
    from fitstore.errors import Invalid

    try:
        _token, secret = create_token(user, name)
    except Invalid as error:
        raise click.ClickException(
            " ".join(str(m) for ms in error.errors.values() for m in ms)
        ) from None
    click.echo(secret)


@click.group("audit")
def audit_group() -> None:
    """Inspect the audit trail."""


@audit_group.command("verify")
@click.option(
    "--expect-head",
    metavar="ID:HASH",
    help="A head printed by an earlier run; detects newest rows that were cut off since.",
)
@with_appcontext
def verify_command(expect_head: str | None) -> None:
    """Check the hash chain; exit 1 at the first broken link."""
    from fitstore.services.audit import verify_chain

    expected = None
    if expect_head:
        head_id, _sep, head_hash = expect_head.partition(":")
        if not head_id.isdigit() or len(head_hash) != 64:
            raise click.BadParameter(
                "use ID:HASH as printed by 'audit verify'", param_hint="--expect-head"
            )
        expected = (int(head_id), head_hash)
    result = verify_chain(expect_head=expected)
    if result.ok:
        click.echo(f"OK: {result.checked} audit events, chain intact.")
        click.echo(f"head: {result.head_id}:{result.head_hash}")
        return
    click.echo(
        f"BROKEN at audit event {result.broken_id}: {result.reason} "
        f"({result.checked} events before it are intact).",
        err=True,
    )
    raise SystemExit(1)


@click.group("mail")
def mail_group() -> None:
    """E-mail outbox."""


@mail_group.command("send")
@click.option(
    "--limit",
    default=500,
    show_default=True,
    type=click.IntRange(min=1),
    help="At most this many mails per run.",
)
@with_appcontext
def send_mail_command(limit: int) -> None:
    """Deliver pending mail over SMTP (FITSTORE_SMTP_*); safe to run from cron.

    Exit status 1 when the SMTP settings are unusable or the server cannot be
    reached or refuses the login; the mail then stays pending for the next run.
    """
    from fitstore.services.mail import MailConfigError, send_pending

    try:
        report = send_pending(limit=limit)
    except MailConfigError as error:
        click.echo(f"Mail settings unusable, nothing sent: {error}", err=True)
        raise SystemExit(1) from None
    click.echo(
        f"sent: {report.sent}, failed: {report.failed}, given up: {report.given_up},"
        f" not sent (recipient deactivated or opted out): {report.skipped}"
    )
    if report.connection_error:
        config = current_app.config
        click.echo(
            f"Cannot connect to or log in at the SMTP server {config['SMTP_HOST']}:"
            f"{config['SMTP_PORT']} ({report.connection_error}); the remaining mail stays"
            " pending for the next run.",
            err=True,
        )
        raise SystemExit(1)


@click.command("remind")
@click.option(
    "--days",
    type=click.IntRange(min=0, max=3650),
    default=None,
    help="Remind of waits of at least this many days (default: FITSTORE_WAIT_THRESHOLD_DAYS).",
)
@with_appcontext
def remind_command(days: int | None) -> None:
    """Remind whoever has to act of every reuse waiting at least --days days; safe to
    run from cron: each wait is reminded once, a second run sends nothing new."""
    from fitstore.services.transparency import default_threshold, send_reminders

    threshold = default_threshold() if days is None else days
    report = send_reminders(threshold)
    click.echo(
        f"Waits of at least {threshold} days: reminders sent: {report.sent},"
        f" already reminded: {report.already}, without recipient: {report.without_recipient}"
    )
