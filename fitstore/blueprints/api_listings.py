"""The listings part of the JSON API under /api/v1/listings.

Reads of published listings are public; everything else needs a bearer token.
A listing the caller may not see answers 404, as if it did not exist. Every
write goes through ``fitstore.services.listings``, whose exceptions the app's
problem handler turns into RFC 9457 responses.

Optimistic concurrency: a listing's ``ETag`` is its ``lock_version`` (a strong
tag, ``"7"``). ``PUT`` requires ``If-Match`` (428 without, 412 when stale);
the actions accept it optionally. Two writers racing past the check still
cannot both win: the version column makes the second UPDATE fail (409).
"""

from __future__ import annotations

import io
import json

from flask import jsonify, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import EXCLUDE, RAISE

from fitstore.blueprints.api import (
    BEARER,
    PREFIX,
    ApiBlueprint,
    check_ids_and_body,
    etag_header,
    if_match_version,
    location_header,
)
from fitstore.errors import PreconditionRequired
from fitstore.extensions import csrf
from fitstore.models import Listing, ListingRevision, Role, Transport, UserAccount
from fitstore.permissions import Permission, policy
from fitstore.schemas import ApiQuery
from fitstore.schemas.listings import (
    LAND_AGS,
    IfMatchOptional,
    IfMatchRequired,
    ListingIn,
    ListingOut,
    ListingPageOut,
    ListingQuery,
    ReasonIn,
    RevisionOut,
)
from fitstore.services import listings as service

listings_api = ApiBlueprint("api_listings", __name__, url_prefix=PREFIX, description="EfA listings")
csrf.exempt(listings_api)

# Plain ``int`` converters: with min/max, Werkzeug answers 405 instead of 404 for an
# out-of-range id on a path that has other methods. The range is checked below.
ONE = "/listings/<int:listing_id>"
# Reads are public; a token shows the caller's own Land's unpublished listings too.
OPTIONAL_BEARER = [{}, *BEARER]

ETAG = etag_header("The listing's version")
LOCATION = location_header("listing")


# --- request checks that must come before the body is parsed -----------------------

# Endpoints that read a JSON body, and the one that insists on If-Match.
JSON_BODY = {"create", "replace", "reject", "reject_revision"}
NEEDS_IF_MATCH = {"replace"}


@listings_api.before_request
def check_request():
    """The shared checks (``check_ids_and_body``), then 428 for a PUT without If-Match."""
    check_ids_and_body(("listing_id", "document_id"), JSON_BODY)
    endpoint = (request.endpoint or "").rpartition(".")[2]
    if endpoint in NEEDS_IF_MATCH and "If-Match" not in request.headers:
        raise PreconditionRequired(
            _(
                "Bitte senden Sie den ETag der Leistung, wie Sie sie gelesen haben, im Kopf If-Match."
            )
        )


def expected_version(listing_id: int) -> int | None:
    """The listing version named in If-Match (see ``if_match_version``). With several tags
    the service later finds the listing loaded here in the identity map: no second query."""
    return if_match_version(lambda: service.get_listing(current_user, listing_id).lock_version)


# --- presentation -----------------------------------------------------------------------


def _listing_path(listing_id: int) -> str:
    return url_for("api_listings.read", listing_id=listing_id)


def _etag(listing: Listing) -> dict[str, str]:
    return {"ETag": f'"{listing.lock_version}"'}


def _land(land) -> dict:
    return {"ags": land.ags, "iso": land.iso, "short": land.short, "name": land.name}


def _summary(listing: Listing) -> dict:
    operator = listing.operator
    return {
        "id": listing.id,
        "url": _listing_path(listing.id),
        "status": listing.status,
        "title": listing.title,
        "ozg_name": listing.ozg_name,
        "ozg_id": listing.ozg_id,
        "themenfeld": {"number": listing.themenfeld.number, "name": listing.themenfeld.name},
        "reifegrad": listing.reifegrad,
        "transport": listing.transport,
        "provider": _land(listing.provider_land),
        "operator": (
            {"id": operator.id, "name": operator.name, "short_name": operator.short_name}
            if operator
            else None
        ),
        "published_version": listing.published_version,
        "published_at": listing.published_at,
        "updated_at": listing.updated_at,
    }


def _insider(listing: Listing) -> bool:
    """FITKO, admins and the provider Land's users: they see review state, others do not."""
    if not current_user.is_authenticated:
        return False
    return (
        current_user.role in (Role.FITKO, Role.ADMIN)
        or current_user.land_ags == listing.provider_land_ags
    )


def _full(listing: Listing) -> dict:
    state = service.checklist_state(listing)
    insider = _insider(listing)
    return {
        **_summary(listing),
        "leika_keys": listing.leika_list,
        "description": listing.description,
        "xoev_standard": listing.xoev_standard,
        "user_account": listing.user_account,
        "payment": listing.payment,
        "requirements_note": listing.requirements_note,
        "checklist": [
            {
                "key": criterion.key,
                "group": criterion.group,
                "text": criterion.text,
                "level": criterion.level,
                "fulfilled": state[criterion.key],
            }
            for criterion in service.criteria()
        ],
        "annual_cost_cents": listing.annual_cost_cents,
        "connection_cost_cents": listing.connection_cost_cents,
        "contact_name": listing.contact_name,
        "contact_email": listing.contact_email,
        "documents": [
            {
                "id": document.id,
                "title": document.title,
                "filename": document.filename,
                "size": document.size,
                "sha256": document.sha256,
                "url": url_for(
                    "api_listings.document", listing_id=listing.id, document_id=document.id
                ),
            }
            for document in listing.documents
        ],
        "pending_revision": (service.pending_revision(listing) is not None) if insider else None,
        "rejection_reason": listing.rejection_reason if insider else None,
        "created_at": listing.created_at,
        "submitted_at": listing.submitted_at,
        "withdrawn_at": listing.withdrawn_at,
    }


def _revision(revision: ListingRevision) -> dict:
    content = json.loads(revision.content)
    content["leika_keys"] = [key for key in (content.get("leika_keys") or "").split() if key]
    content["checklist"] = service.checklist_state(content)
    content["transport"] = Transport(content["transport"])
    content["user_account"] = UserAccount(content["user_account"])
    return {
        "id": revision.id,
        "listing_id": revision.listing_id,
        "status": revision.status,
        "created_at": revision.created_at,
        "content": content,
    }


def _listing_response(listing: Listing, status: int = 200, headers: dict | None = None):
    return _full(listing), status, {**_etag(listing), **(headers or {})}


# --- catalogue ----------------------------------------------------------------------------


@listings_api.route("/listings", methods=["GET"])
@policy(Permission.PUBLIC)
@listings_api.arguments(ListingQuery, location="query", unknown=RAISE)
@listings_api.response(200, ListingPageOut)
@listings_api.problem(422, "Invalid filter or unknown parameter")
@listings_api.doc(security=OPTIONAL_BEARER)
def catalogue(query):
    """Search the catalogue: filters, facets with counts, sort, pages

    Anonymous callers (and other Länder) see published listings only, whatever
    `status` says; users of a Land also see their own Land's unpublished
    listings, FITKO and admins all of them.
    """
    params = service.CatalogueQuery(
        q=query.get("q", ""),
        themenfeld=query.get("themenfeld", []),
        land=sorted({LAND_AGS[code] for code in query.get("land", [])}),
        reifegrad=query.get("reifegrad", []),
        transport=[value.value for value in query.get("transport", [])],
        status=[value.value for value in query.get("status", [])],
        sort=query["sort"],
        page=query["page"],
        per_page=query["page_size"],
    )
    page, facets = service.search_catalogue(current_user, params)
    return {
        "items": [_summary(listing) for listing in page.items],
        "page": page.page,
        "page_size": page.per_page,
        "total": page.total,
        "pages": page.pages,
        "facets": {
            facet.name: [
                {"value": value, "label": label, "count": count, "selected": selected}
                for value, label, count, selected in facet.values
            ]
            for facet in facets
        },
    }


@listings_api.route("/listings", methods=["POST"])
@policy(Permission.CREATE_LISTING)
@listings_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@listings_api.arguments(ListingIn)
@listings_api.response(201, ListingOut, headers={**ETAG, **LOCATION})
@listings_api.problem(400, "The body is not valid JSON")
@listings_api.problem(401, "Missing, invalid or revoked bearer token")
@listings_api.problem(403, "Only editors of a Land create listings")
@listings_api.problem(413, "Body too large")
@listings_api.problem(415, "The body is not application/json")
@listings_api.problem(422, "Invalid or unknown field (id, status, provider, … are refused)")
@listings_api.doc(security=BEARER)
def create(data, lang=None):
    """Create a draft listing of the caller's Land"""
    listing = service.create_listing(current_user, data)
    return _listing_response(listing, 201, {"Location": _listing_path(listing.id)})


# --- one listing --------------------------------------------------------------------------


@listings_api.route(ONE, methods=["GET"])
@policy(Permission.PUBLIC)
@listings_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@listings_api.response(200, ListingOut, headers=ETAG)
@listings_api.problem(404, "No such listing, or not visible to the caller")
@listings_api.problem(422, "Unknown query parameter")
@listings_api.doc(security=OPTIONAL_BEARER)
def read(listing_id: int, lang=None):
    """A listing with status, provider, checklist, costs and documents"""
    return _listing_response(service.get_listing(current_user, listing_id))


@listings_api.route(ONE, methods=["PUT"])
@policy(Permission.EDIT_LISTING)
@listings_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@listings_api.arguments(IfMatchRequired, location="headers", unknown=EXCLUDE, as_kwargs=True)
@listings_api.arguments(ListingIn)
@listings_api.response(200, ListingOut, headers=ETAG, description="The draft, changed")
@listings_api.alt_response(
    202,
    schema=RevisionOut,
    headers=ETAG,
    success=True,
    description="Published listing: the change waits for FITKO as a pending revision; "
    "the published text stays until FITKO accepts it",
)
@listings_api.problem(400, "The body is not valid JSON")
@listings_api.problem(401, "Missing, invalid or revoked bearer token")
@listings_api.problem(403, "Only editors of the provider Land edit a listing")
@listings_api.problem(404, "No such listing, or not visible to the caller")
@listings_api.problem(409, "Submitted or withdrawn listings cannot be edited; concurrent change")
@listings_api.problem(412, "If-Match does not name the current version")
@listings_api.problem(413, "Body too large")
@listings_api.problem(415, "The body is not application/json")
@listings_api.problem(422, "Invalid or unknown field, or nothing changed")
@listings_api.problem(428, "If-Match is missing")
@listings_api.doc(security=BEARER)
def replace(data, listing_id: int, lang=None, if_match=None):
    """Replace the content of a listing (every content field)"""
    result = service.update_listing(current_user, listing_id, data, expected_version(listing_id))
    if isinstance(result, ListingRevision):
        listing = service.get_listing(current_user, listing_id)
        # A Response, so that the 200 schema (ListingOut) does not serialise the revision.
        return jsonify(RevisionOut().dump(_revision(result))), 202, _etag(listing)
    return _listing_response(result)


@listings_api.route(f"{ONE}/documents/<int:document_id>")
@policy(Permission.PUBLIC)
@listings_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@listings_api.response(
    200,
    {"type": "string", "format": "binary"},
    content_type="application/pdf",
    description="The PDF, as a download",
)
@listings_api.problem(404, "No such document, or its listing is not visible to the caller")
@listings_api.problem(422, "Unknown query parameter")
@listings_api.doc(security=OPTIONAL_BEARER)
def document(listing_id: int, document_id: int, lang=None):
    """Download a document of a listing"""
    found = service.get_document(current_user, listing_id, document_id)
    return send_file(
        io.BytesIO(found.content),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=found.filename,
    )


# --- actions ------------------------------------------------------------------------------


def _action(rule: str, permission: Permission, summary: str, *, body: bool = False):
    """Register one lifecycle action: POST, If-Match optional, the listing back with its ETag."""

    def decorate(view):
        decorators = [
            listings_api.route(f"{ONE}/{rule}", methods=["POST"]),
            policy(permission),
            listings_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True),
            listings_api.arguments(
                IfMatchOptional, location="headers", unknown=EXCLUDE, as_kwargs=True
            ),
        ]
        if body:
            decorators.append(listings_api.arguments(ReasonIn, as_kwargs=True))
        decorators += [
            listings_api.response(200, ListingOut, headers=ETAG),
            *([listings_api.problem(400, "The body is not valid JSON")] if body else []),
            listings_api.problem(401, "Missing, invalid or revoked bearer token"),
            listings_api.problem(403, "The caller's role may not take this step"),
            listings_api.problem(404, "No such listing, or not visible to the caller"),
            listings_api.problem(409, "Not possible in the listing's current status"),
            listings_api.problem(412, "If-Match does not name the current version"),
            *(
                [
                    listings_api.problem(413, "Body too large"),
                    listings_api.problem(415, "The body is not application/json"),
                ]
                if body
                else []
            ),
            listings_api.problem(
                422,
                "A reason of 5 to 2000 characters is required"
                if body
                else "Unknown query parameter",
            ),
            listings_api.doc(security=BEARER, summary=summary),
        ]
        for decorator in reversed(decorators):
            view = decorator(view)
        return view

    return decorate


@_action("submit", Permission.SUBMIT_LISTING, "Submit a draft for FITKO's review (provider editor)")
def submit(listing_id: int, lang=None, if_match=None):
    listing = service.submit_listing(current_user, listing_id, expected_version(listing_id))
    return _listing_response(listing)


@_action("publish", Permission.REVIEW_LISTINGS, "Publish a submitted listing (FITKO)")
def publish(listing_id: int, lang=None, if_match=None):
    listing = service.publish_listing(current_user, listing_id, expected_version(listing_id))
    return _listing_response(listing)


@_action(
    "reject",
    Permission.REVIEW_LISTINGS,
    "Return a submitted listing to its provider as a draft, with a reason (FITKO)",
    body=True,
)
def reject(listing_id: int, reason: str, lang=None, if_match=None):
    listing = service.reject_listing(current_user, listing_id, reason, expected_version(listing_id))
    return _listing_response(listing)


@_action(
    "withdraw",
    Permission.WITHDRAW_LISTING,
    "Withdraw a published listing from the catalogue (provider editor or FITKO)",
)
def withdraw(listing_id: int, lang=None, if_match=None):
    listing = service.withdraw_listing(current_user, listing_id, expected_version(listing_id))
    return _listing_response(listing)


@_action(
    "revision/accept",
    Permission.REVIEW_LISTINGS,
    "Accept the pending revision: it becomes the next published version (FITKO)",
)
def accept_revision(listing_id: int, lang=None, if_match=None):
    return _listing_response(
        service.accept_revision(current_user, listing_id, expected_version(listing_id))
    )


@_action(
    "revision/reject",
    Permission.REVIEW_LISTINGS,
    "Refuse the pending revision with a reason; the published text stays (FITKO)",
    body=True,
)
def reject_revision(listing_id: int, reason: str, lang=None, if_match=None):
    return _listing_response(
        service.reject_revision(current_user, listing_id, reason, expected_version(listing_id))
    )
