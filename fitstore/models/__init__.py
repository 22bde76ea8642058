"""Typed SQLAlchemy models, one module per aggregate."""

from fitstore.models.audit import AuditEvent
from fitstore.models.feedback import AccessibilityFeedback
from fitstore.models.listing import (
    Listing,
    ListingDocument,
    ListingRevision,
    ListingStatus,
    ListingVersion,
    Notification,
    RevisionStatus,
    Transport,
    UserAccount,
)
from fitstore.models.organisation import Organisation, OrganisationKind
from fitstore.models.reference import (
    Authority,
    AuthorityLevel,
    CostKeyValue,
    Land,
    Themenfeld,
)
from fitstore.models.user import ApiToken, Role, User, UserSession

__all__ = [
    "AccessibilityFeedback",
    "ApiToken",
    "AuditEvent",
    "Authority",
    "AuthorityLevel",
    "CostKeyValue",
    "Land",
    "Listing",
    "ListingDocument",
    "ListingRevision",
    "ListingStatus",
    "ListingVersion",
    "Notification",
    "Organisation",
    "OrganisationKind",
    "RevisionStatus",
    "Role",
    "Themenfeld",
    "Transport",
    "User",
    "UserAccount",
    "UserSession",
]
