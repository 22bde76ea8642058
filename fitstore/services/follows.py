"""Following: a signed-in user follows a published listing or a Land and chooses in-app
and/or e-mail notices of its public changes (a new version, a new stage, new live
authorities).

Notices carry public facts only (the same as the public dashboard), so a follower of
another Land learns nothing private. Every change of a follow is the user's own
business (permission OWN_ACCOUNT) and is audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from fitstore.errors import Conflict, Invalid, NotFound
from fitstore.extensions import db
from fitstore.models import Follow, Listing, ListingStatus, Notification, User
from fitstore.models.base import is_id, utcnow
from fitstore.permissions import Permission, require
from fitstore.services import audit, mail, transparency

MAX_FOLLOWS = 500  # per user: a notice fan-out stays bounded

# What ``save_follow`` did.
CREATED, CHANGED, UNCHANGED = "created", "changed", "unchanged"


@dataclass(frozen=True)
class FollowTarget:
    """What a follow is about, in public words: a listing or a Land, its name and the
    public page that shows it."""

    listing_id: int | None
    land_ags: str | None
    name: str
    path: str
    published: bool = True  # False: the listing was withdrawn since (no public page)


def listing_path(listing_id: int) -> str:
    return f"/leistungen/{listing_id}"


def land_path(land_ags: str) -> str:
    """The public Land page of the dashboard."""
    return f"/dashboard/laender/{land_ags}"


def target_of(record: Follow) -> FollowTarget:
    """The followed listing or Land of ``record`` (no query: both are loaded with it)."""
    if record.listing_id is not None:
        listing = record.listing
        return FollowTarget(
            listing.id,
            None,
            listing.title,
            listing_path(listing.id),
            listing.status == ListingStatus.PUBLISHED,
        )
    return FollowTarget(None, record.land_ags, record.land.name, land_path(record.land_ags))


def _channels(in_app: Any, email: Any) -> tuple[bool, bool]:
    in_app, email = bool(in_app), bool(email)
    if not (in_app or email):
        raise Invalid(
            errors={
                "channels": [
                    _("Bitte wählen Sie mindestens einen Weg: im FIT-Store oder per E-Mail.")
                ]
            }
        )
    return in_app, email


def _target(listing_id: Any = None, land_ags: Any = None) -> tuple[Listing | None, str | None]:
    if (listing_id is None) == (land_ags is None):
        raise Invalid(
            errors={"target": [_("Bitte folgen Sie entweder einer Leistung oder einem Land.")]}
        )
    if listing_id is not None:
        return transparency.public_listing(listing_id), None
    return None, transparency.public_land(land_ags).ags


def get_follow(actor, listing_id: Any = None, land_ags: Any = None) -> Follow | None:
    """Permission OWN_ACCOUNT: the actor's follow of a listing or a Land, if any (one query)."""
    require(actor, Permission.OWN_ACCOUNT)
    if listing_id is not None:
        if not is_id(listing_id):
            return None
        condition = Follow.listing_id == listing_id
    elif isinstance(land_ags, str):
        condition = Follow.land_ags == land_ags
    else:
        return None
    return db.session.scalar(select(Follow).where(Follow.user_id == actor.id, condition))


def list_follows(actor) -> list[Follow]:
    """Permission OWN_ACCOUNT: the actor's follows, listings first (one query)."""
    require(actor, Permission.OWN_ACCOUNT)
    return list(
        db.session.scalars(
            select(Follow)
            .where(Follow.user_id == actor.id)
            .order_by(Follow.listing_id.is_(None), Follow.created_at, Follow.id)
        )
    )


def follow(
    actor, *, listing_id: Any = None, land_ags: Any = None, in_app: Any = True, email: Any = False
) -> Follow:
    """Permission OWN_ACCOUNT: follow a published listing or a Land with the chosen
    channels; following it again changes the channels. Audited when anything changes."""
    return save_follow(actor, listing_id=listing_id, land_ags=land_ags, in_app=in_app, email=email)[
        0
    ]


def save_follow(
    actor, *, listing_id: Any = None, land_ags: Any = None, in_app: Any = True, email: Any = False
) -> tuple[Follow, str]:
    """Permission OWN_ACCOUNT: like ``follow``, and says what happened: ``created``,
    ``changed`` or ``unchanged``. The target is checked before the channels, so an
    unknown or unpublished listing (or an unknown Land) is NotFound whatever else was
    sent. Raises Invalid (no channel, no or two targets) and Conflict (too many follows,
    or a concurrent request followed it first)."""
    require(actor, Permission.OWN_ACCOUNT)
    listing, land = _target(listing_id, land_ags)
    in_app, email = _channels(in_app, email)
    existing = get_follow(actor, listing.id if listing else None, land)
    target = {"listing": listing.id} if listing else {"land": land}
    if existing is not None:
        if (existing.in_app, existing.email) == (in_app, email):
            return existing, UNCHANGED
        existing.in_app, existing.email = in_app, email
        existing.updated_at = utcnow()
        audit.record(
            actor,
            "follow.changed",
            "follow",
            existing.id,
            land_ags=actor.land_ags,
            details={**target, "in_app": in_app, "email": email},
        )
        db.session.commit()
        return existing, CHANGED
    count = db.session.scalar(select(db.func.count(Follow.id)).where(Follow.user_id == actor.id))
    if count >= MAX_FOLLOWS:
        raise Conflict(_("Sie folgen bereits %(max)d Einträgen.", max=MAX_FOLLOWS))
    now = utcnow()
    record = Follow(
        user_id=actor.id,
        listing_id=listing.id if listing else None,
        land_ags=land,
        in_app=in_app,
        email=email,
        created_at=now,
        updated_at=now,
    )
    db.session.add(record)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent request created it first
        db.session.rollback()
        raise Conflict(_("Sie folgen diesem Eintrag bereits.")) from None
    audit.record(
        actor,
        "follow.created",
        "follow",
        record.id,
        land_ags=actor.land_ags,
        details={**target, "in_app": in_app, "email": email},
    )
    db.session.commit()
    return record, CREATED


def unfollow(actor, follow_id: Any) -> FollowTarget:
    """Permission OWN_ACCOUNT: stop following; returns what was followed. Another user's
    follow (or an unknown id) is NotFound."""
    require(actor, Permission.OWN_ACCOUNT)
    record = db.session.get(Follow, follow_id) if is_id(follow_id) else None
    if record is None or record.user_id != actor.id:
        raise NotFound()
    followed = target_of(record)
    audit.record(
        actor,
        "follow.deleted",
        "follow",
        record.id,
        land_ags=actor.land_ags,
        details={"listing": record.listing_id, "land": record.land_ags},
    )
    db.session.delete(record)
    db.session.commit()
    return followed


def notify_followers(
    listing: Listing,
    land_ags: str | Iterable[str] | None,
    message: str,
    link: str,
    exclude_user_id: int | None = None,
) -> int:
    """Leave a notice for the followers of ``listing`` and of the Land(s) ``land_ags``, in
    the caller's transaction, each by the channels they chose (one user once, channels
    combined). Nothing for a listing that is not published. E-mail also needs the
    user's general e-mail switch on. Returns how many users were notified (one query).

    ``message`` and ``link`` must be public facts and a public page: a follower may be
    anybody. Skipped: the actor (``exclude_user_id``), inactive users, and users who
    already have a notice of this cause waiting in the session (the parties of a reuse,
    notified with its details just before): nobody gets the same event twice. Call it
    right after the parties' ``notifications.notify`` and before anything flushes."""
    if listing.status != ListingStatus.PUBLISHED:
        return 0
    # Read before the query below: its autoflush empties ``session.new``.
    already = {pending.user_id for pending in db.session.new if isinstance(pending, Notification)}
    if exclude_user_id is not None:
        already.add(exclude_user_id)
    condition = Follow.listing_id == listing.id
    lands = [land_ags] if isinstance(land_ags, str) else list(land_ags or ())
    if lands:
        condition = or_(condition, Follow.land_ags.in_(lands))
    channels: dict[int, tuple[User, bool, bool]] = {}
    for in_app, email, user in db.session.execute(
        select(Follow.in_app, Follow.email, User)
        .join(User, User.id == Follow.user_id)
        .where(condition, User.active.is_(True))
    ):
        if user.id in already:
            continue
        _user, wants_in_app, wants_email = channels.get(user.id, (user, False, False))
        channels[user.id] = (user, wants_in_app or in_app, wants_email or email)
    for user, in_app, email in channels.values():
        if in_app:
            db.session.add(Notification(user_id=user.id, message=message[:500], link=link))
        if email and user.email_notifications:
            mail.enqueue(user, message, link)
    return len(channels)


def describe_target(listing_id: Any = None, land_ags: Any = None) -> FollowTarget:
    """The published listing or the Land that could be followed, else NotFound (one
    query). Raises Invalid for no or two targets."""
    listing, land = _target(listing_id, land_ags)
    if listing is not None:
        return FollowTarget(listing.id, None, listing.title, listing_path(listing.id))
    return FollowTarget(None, land, transparency.public_land(land).name, land_path(land))


def follows_with_targets(actor) -> list[tuple[Follow, FollowTarget]]:
    """Permission OWN_ACCOUNT: the actor's follows with what each is about, listings
    first (one query)."""
    return [(record, target_of(record)) for record in list_follows(actor)]
