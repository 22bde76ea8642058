"""Pages for EfA listings: catalogue, listing page, editing, review queue, versions, documents,
and the notifications inbox that tells each side what the other did.

Views stay thin: the listings service checks permissions, validates, audits and
commits; a view turns request data into service calls and results into pages.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from io import BytesIO
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import format_currency, format_decimal, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from fitstore.blueprints._helpers import apply_errors, page_arg, safe_next
from fitstore.blueprints.dashboards import listing_stage_map
from fitstore.errors import Conflict, DomainError, Invalid, PreconditionFailed, error_page
from fitstore.extensions import db
from fitstore.forms import ConfirmForm
from fitstore.forms.listings import (
    REIFEGRAD_LABELS,
    REIFEGRAD_SHORT,
    TRANSPORT_LABELS,
    USER_ACCOUNT_LABELS,
    DecisionForm,
    DocumentForm,
    ListingForm,
    ReasonForm,
    listing_form,
)
from fitstore.markdown_render import render_markdown
from fitstore.models import Listing, ListingStatus, Role, Transport, UserAccount
from fitstore.models.base import utcnow
from fitstore.permissions import Permission, can, policy, require
from fitstore.services import listings, notifications, reference, reuses

log = logging.getLogger(__name__)

bp = Blueprint("listings", __name__)

PER_PAGE = 20
UPLOAD_ENDPOINT = "listings.upload_document"
# A 10 MB PDF plus the multipart envelope and the title; the app-wide limit is 2 MiB.
UPLOAD_LIMIT = 11 * 1024 * 1024

STATUS_BADGES = {
    ListingStatus.DRAFT: "warning",
    ListingStatus.SUBMITTED: "info",
    ListingStatus.PUBLISHED: "success",
    ListingStatus.WITHDRAWN: "danger",
}
SORTS = {
    "relevance": _l("Relevanz"),
    "title": _l("Titel (A–Z)"),
    "date": _l("Neueste zuerst"),
}
FACET_LEGENDS = {
    "themenfeld": _l("Themenfeld"),
    "land": _l("Bereitstellendes Land"),
    "reifegrad": _l("Reifegrad"),
    "transport": _l("Transport"),
    "status": _l("Status"),
}
FIELD_LABELS = {
    "title": _l("Titel"),
    "ozg_name": _l("OZG-Leistung"),
    "ozg_id": _l("OZG-ID"),
    "leika_keys": _l("Leistungsschlüssel"),
    "themenfeld_number": _l("Themenfeld"),
    "reifegrad": _l("Reifegrad"),
    "operator_id": _l("Betreiber"),
    "description": _l("Beschreibung"),
    "transport": _l("Transport"),
    "xoev_standard": _l("XÖV-Standard"),
    "user_account": _l("Nutzerkonto"),
    "payment": _l("Bezahldienst"),
    "requirements_note": _l("Weitere Anbindungsvoraussetzungen"),
    "checklist": _l("EfA-Mindestanforderungen"),
    "annual_cost_cents": _l("Jährliche Betriebskosten"),
    "connection_cost_cents": _l("Einmalige Anbindungskosten"),
    "contact_name": _l("Ansprechperson"),
    "contact_email": _l("E-Mail-Adresse der Ansprechperson"),
}
LONG_TEXT_FIELDS = {"description", "requirements_note"}


# --- template helpers ------------------------------------------------------------------


@bp.app_template_filter("markdown")
def markdown_filter(text: str | None):
    return render_markdown(text)


@bp.app_template_filter("euro")
def euro(cents: int | None) -> str:
    """Integer cents → "1.200.000,00 €" in the page's language; "–" when unknown."""
    if cents is None:
        return "–"
    return format_currency(Decimal(cents) / 100, "EUR")


@bp.app_template_filter("filesize")
def filesize(size: int) -> str:
    if size >= 1024 * 1024:
        return _("%(num)s MB", num=format_decimal(size / (1024 * 1024), format="#,##0.0"))
    return _("%(num)s KB", num=format_decimal(max(1, round(size / 1024)), format="#,##0"))


@bp.app_context_processor
def listing_helpers() -> dict[str, Any]:
    return {
        "status_label": listings.status_label,
        "STATUS_BADGES": STATUS_BADGES,
        "REIFEGRAD_LABELS": REIFEGRAD_LABELS,
        "REIFEGRAD_SHORT": REIFEGRAD_SHORT,
        "TRANSPORT_LABELS": TRANSPORT_LABELS,
        "USER_ACCOUNT_LABELS": USER_ACCOUNT_LABELS,
        "unread_notifications": _unread_notifications(),
    }


def _unread_notifications() -> int | None:
    """The header's unread count: one COUNT per request, and only for a logged-in user."""
    if not current_user.is_authenticated:
        return None
    if "unread_notifications" not in g:
        try:
            g.unread_notifications = notifications.unread_count(current_user)
        except SQLAlchemyError:
            # The badge must never turn an error page (e.g. database down) into a crash.
            log.warning("unread notification count unavailable", exc_info=True)
            db.session.rollback()  # the page's next query must not meet a failed transaction
            g.unread_notifications = None
    return g.unread_notifications


def _raise_upload_limit() -> None:
    # Only for a logged-in user: anybody else is sent to the login page anyway and
    # should not get to make the server read 11 MiB first.
    if (
        request.endpoint == UPLOAD_ENDPOINT
        and request.method == "POST"
        and current_user.is_authenticated
    ):
        request.max_content_length = UPLOAD_LIMIT


@bp.record_once
def _install_upload_limit(state) -> None:
    # Installed in front of the app's own hooks: CSRF protection reads the form
    # (and with it the body) before any blueprint hook would run, and would
    # still apply the app-wide 2 MiB limit.
    state.app.before_request_funcs.setdefault(None, []).insert(0, _raise_upload_limit)


def _insider(listing: Listing) -> bool:
    """FITKO, admins and the provider Land see a listing's internals: status, reasons,
    pending changes (everybody else sees only the published text)."""
    if not current_user.is_authenticated:
        return False
    return (
        current_user.role in (Role.FITKO, Role.ADMIN)
        or current_user.land_ags == listing.provider_land_ags
    )


# --- readable diffs ----------------------------------------------------------------------


@dataclass
class Change:
    label: str
    old: str
    new: str
    long: bool = False


@dataclass
class Lookups:
    themenfelder: dict[int, str] = field(default_factory=dict)
    operators: dict[int, str] = field(default_factory=dict)


def _lookups() -> Lookups:
    """Names for the ids in stored snapshots (two queries, whatever the number of changes)."""
    return Lookups(
        themenfelder={t.number: t.name for t in listings.list_themenfelder()},
        operators={o.id: o.name for o in listings.list_operators(include_inactive=True)},
    )


def _display(name: str, value: Any, lookups: Lookups) -> str:
    if value is None or value == "":
        return "–"
    if name == "themenfeld_number":
        return lookups.themenfelder.get(value, str(value))
    if name == "operator_id":
        return lookups.operators.get(value, str(value))
    if name == "reifegrad":
        return str(REIFEGRAD_SHORT.get(value, value))
    if name == "transport":
        return str(TRANSPORT_LABELS.get(Transport(value), value))
    if name == "user_account":
        return str(USER_ACCOUNT_LABELS.get(UserAccount(value), value))
    if name in ("annual_cost_cents", "connection_cost_cents"):
        return euro(value)
    if name == "leika_keys":
        return ", ".join(str(value).split())
    return str(value)


def _describe(changes: list[tuple[str, Any, Any]], lookups: Lookups) -> list[Change]:
    """The service's (field, old, new) triples as labelled, human-readable lines."""
    described = []
    for name, old, new in changes:
        if name == "checklist":
            before = listings.checklist_state({"checklist": old})
            after = listings.checklist_state({"checklist": new})
            for criterion in listings.criteria():
                if before[criterion.key] != after[criterion.key]:
                    described.append(
                        Change(
                            f"{FIELD_LABELS['checklist']}: {criterion.text} ({criterion.level})",
                            _("erfüllt") if before[criterion.key] else _("nicht erfüllt"),
                            _("erfüllt") if after[criterion.key] else _("nicht erfüllt"),
                        )
                    )
            continue
        described.append(
            Change(
                str(FIELD_LABELS.get(name, name)),
                _display(name, old, lookups),
                _display(name, new, lookups),
                long=name in LONG_TEXT_FIELDS,
            )
        )
    return described


def _unmet(state: dict[str, bool]) -> list:
    return [c for c in listings.criteria() if c.level == "MUSS" and not state[c.key]]


def _error_text(error: DomainError) -> str:
    messages = [m for field_messages in error.errors.values() for m in field_messages]
    if error.detail:
        messages.insert(0, error.detail)
    return " ".join(str(m) for m in messages) or str(error.title)


# --- catalogue -------------------------------------------------------------------------


@dataclass
class FacetOption:
    value: Any
    label: str
    count: int
    selected: bool
    id: str


@dataclass
class FacetGroup:
    name: str
    legend: str
    options: list[FacetOption]


def _catalogue_url(
    params: listings.CatalogueQuery, page: int = 1, endpoint: str = "listings.catalogue"
) -> str:
    """The shareable URL of a filter state (repeated parameters for several values);
    ``endpoint`` may be one of the exports, which take the same parameters."""
    args: dict[str, Any] = {
        "q": params.q,
        "themenfeld": params.themenfeld,
        "land": params.land,
        "reifegrad": params.reifegrad,
        "transport": params.transport,
        "status": params.status,
        "sort": params.sort if params.sort != "relevance" else None,
        "page": page if page > 1 else None,
    }
    return url_for(endpoint, **{k: v for k, v in args.items() if v not in (None, "", [])})


def _facet_groups(params: listings.CatalogueQuery, facets) -> list[FacetGroup]:
    selected = {
        "themenfeld": params.themenfeld,
        "land": params.land,
        "reifegrad": params.reifegrad,
        "transport": params.transport,
        "status": params.status,
    }
    relabel = {
        "reifegrad": lambda v: str(REIFEGRAD_SHORT.get(v, v)),
        "status": lambda v: listings.status_label(v),
    }
    names: dict[str, dict] | None = None
    groups = []
    for facet in facets:
        options = [
            FacetOption(
                value,
                relabel[facet.name](value) if facet.name in relabel else str(label),
                count,
                chosen,
                f"f-{facet.name}-{value}",
            )
            for value, label, count, chosen in facet.values
        ]
        # A chosen value without hits stays in the list, so it can be unticked.
        missing = [v for v in selected[facet.name] if v not in {o.value for o in options}]
        if missing:
            if names is None:
                names = {
                    "themenfeld": {t.number: t.name for t in listings.list_themenfelder()},
                    "land": {land.ags: land.name for land in reference.list_laender()},
                    "reifegrad": {k: str(v) for k, v in REIFEGRAD_SHORT.items()},
                    "transport": {k.value: v for k, v in TRANSPORT_LABELS.items()},
                    "status": {s.value: listings.status_label(s) for s in ListingStatus},
                }
            for value in missing:
                label = names[facet.name].get(value)
                if label is not None:
                    options.append(FacetOption(value, label, 0, True, f"f-{facet.name}-{value}"))
        groups.append(FacetGroup(facet.name, str(FACET_LEGENDS[facet.name]), options))
    return groups


@bp.get("/katalog")
@policy(Permission.PUBLIC)
def catalogue():
    params = listings.parse_catalogue_query(request.args, current_user)
    params.page, params.per_page = page_arg(), PER_PAGE
    page, facets = listings.search_catalogue(current_user, params)
    return render_template(
        "listings/catalogue.html",
        params=params,
        results=page,
        facets=_facet_groups(params, facets),
        sorts=SORTS,
        internal=can(current_user, Permission.VIEW_INTERNAL_LISTINGS),
        prev_url=_catalogue_url(params, page.page - 1) if page.has_prev else None,
        next_url=_catalogue_url(params, page.page + 1) if page.has_next else None,
        first_url=_catalogue_url(params),
        csv_url=_catalogue_url(params, endpoint="exports.catalogue_csv"),
        json_url=_catalogue_url(params, endpoint="exports.catalogue_json"),
        filtered=bool(
            params.q
            or params.themenfeld
            or params.land
            or params.reifegrad
            or params.transport
            or params.status
        ),
    )


# --- the listing page ---------------------------------------------------------------------


def _render_listing(listing: Listing, *, doc_form: DocumentForm | None = None, status=200):
    insider = _insider(listing)
    revision = listings.pending_revision(listing) if insider else None
    revision_changes: list[Change] = []
    if revision is not None:
        proposed = json.loads(revision.content)
        revision_changes = _describe(
            listings.diff(listings.content_of(listing), proposed), _lookups()
        )
    checklist = listings.checklist_state(listing)
    # formdata=None: these forms are only shown here; on a failed upload the request
    # body may be too large to read at all.
    return render_template(
        "listings/listing.html",
        listing=listing,
        insider=insider,
        revision=revision,
        revision_changes=revision_changes,
        groups=listings.criteria_by_group(),
        checklist=checklist,
        unmet=_unmet(checklist),
        documents=listing.documents,
        doc_form=doc_form or DocumentForm(formdata=None),
        decision_form=DecisionForm(formdata=None),
        reason_form=ReasonForm(formdata=None),
        reuse_map=listing_stage_map(listing),
        open_reuse=reuses.open_reuse(listing.id, getattr(current_user, "land_ags", None)),
        may_view_costs=can(current_user, Permission.VIEW_COST_SPLIT, listing),
    ), status


@bp.get("/leistungen/<int:listing_id>")
@policy(Permission.PUBLIC)
def listing(listing_id: int):
    return _render_listing(listings.get_listing(current_user, listing_id))


# --- create and edit --------------------------------------------------------------------------


def _build_form(current_operator=None, **kwargs) -> ListingForm:
    form = listing_form(listings.criteria(), **kwargs)
    form.themenfeld_number.choices = [("", _("– bitte wählen –"))] + [
        (str(t.number), t.name) for t in listings.list_themenfelder()
    ]
    operators = listings.list_operators()
    if current_operator is not None and current_operator not in operators:
        operators.append(current_operator)  # deactivated since: keeping it stays possible
    form.operator_id.choices = [("", _("– kein Betreiber angegeben –"))] + [
        (str(o.id), f"{o.name} ({o.short_name})") for o in operators
    ]
    return form


def _service_errors(form: ListingForm, error: Invalid) -> list[str]:
    renamed = {form.SERVICE_FIELDS.get(name, name): msgs for name, msgs in error.errors.items()}
    if "transport" in renamed and not form.transport.data:
        # The service names the allowed codes (meant for the API); a person picks a label.
        renamed["transport"] = [_("Bitte wählen Sie FIT-Connect oder OSCI/DVDV.")]
    return apply_errors(form, Invalid(detail=error.detail, errors=renamed))


def _submit_listing_form(form: ListingForm, save, current_operator_id: int | None = None):
    """Validate the form and the content; call ``save(data)`` when both are fine.

    Returns (response, None) on success or (None, (form_errors, status)) to re-render.
    Every message shows at once: the form's (amounts) and the service's (codes,
    Themenfeld, Reifegrad, ...), each on its field.
    """
    keys = [c.key for c in listings.criteria()]
    form_valid = form.validate_on_submit()
    data = form.content(keys)
    try:
        if form_valid:
            return save(data), None
        # Nothing is saved; only its messages are wanted.
        listings.validate_content(data, current_operator_id=current_operator_id)
    except Invalid as error:
        return None, (_service_errors(form, error), 422)
    except (PreconditionFailed, Conflict) as error:
        return None, ([_error_text(error)], 409)
    return None, ([], 422)


@bp.route("/leistungen/neu", methods=["GET", "POST"])
@policy(Permission.CREATE_LISTING)
def new():
    form = _build_form()
    form_errors: list[str] = []
    status = 200
    if request.method == "POST":

        def save(data):
            created = listings.create_listing(current_user, data)
            flash(
                _(
                    "Der Entwurf „%(title)s“ ist angelegt. Reichen Sie ihn zur Prüfung ein, wenn er vollständig ist.",
                    title=created.title,
                ),
                "success",
            )
            return redirect(url_for("listings.listing", listing_id=created.id))

        response, failure = _submit_listing_form(form, save)
        if response is not None:
            return response
        form_errors, status = failure
    return render_template(
        "listings/form.html",
        form=form,
        form_errors=form_errors,
        listing=None,
        revision=None,
        checklist=form.checklist(listings.criteria_by_group()),
    ), status


@bp.route("/leistungen/<int:listing_id>/bearbeiten", methods=["GET", "POST"])
@policy(Permission.EDIT_LISTING)
def edit(listing_id: int):
    listing = listings.get_listing(current_user, listing_id)
    # Another Land's listing looks like a missing one, as in the service.
    require(current_user, Permission.EDIT_LISTING, listing, hide=True)
    if listing.status not in (ListingStatus.DRAFT, ListingStatus.PUBLISHED):
        flash(
            _("Eine eingereichte oder zurückgezogene Leistung kann nicht bearbeitet werden."),
            "warning",
        )
        return redirect(url_for("listings.listing", listing_id=listing.id))
    revision = listings.pending_revision(listing)
    form = _build_form(current_operator=listing.operator)
    form_errors: list[str] = []
    status = 200
    if request.method == "POST":

        def save(data):
            result = listings.update_listing(
                current_user, listing.id, data, expected_version=form.expected_version()
            )
            if isinstance(result, Listing):
                flash(_("Die Änderungen sind gespeichert."), "success")
            else:
                flash(
                    _(
                        "Ihre Änderung liegt der FITKO zur Prüfung vor. Bis zur Entscheidung bleibt die veröffentlichte Fassung sichtbar."
                    ),
                    "success",
                )
            return redirect(url_for("listings.listing", listing_id=listing.id))

        response, failure = _submit_listing_form(form, save, listing.operator_id)
        if response is not None:
            return response
        form_errors, status = failure
    else:
        # A pending change is what the editor continues to work on.
        content = json.loads(revision.content) if revision else listings.content_of(listing)
        form.fill(content, listings.checklist_state(content))
        form.lock_version.data = str(listing.lock_version)
    return render_template(
        "listings/form.html",
        form=form,
        form_errors=form_errors,
        listing=listing,
        revision=revision,
        stale=status == 409,
        checklist=form.checklist(listings.criteria_by_group()),
    ), status


# --- lifecycle buttons ------------------------------------------------------------------------------


def _decide(listing_id: int, form: DecisionForm, action, success: str):
    """Run one lifecycle step; refusals come back as a message on the page the user came from."""
    back = safe_next(form.next.data) or url_for("listings.listing", listing_id=listing_id)
    if not form.validate_on_submit():
        flash(_("Das Formular ist abgelaufen. Bitte versuchen Sie es erneut."), "error")
        return redirect(back)
    try:
        action(form)
    except (Conflict, Invalid, PreconditionFailed) as error:
        flash(_error_text(error), "error")
    else:
        flash(success, "success")
    return redirect(back)


@bp.post("/leistungen/<int:listing_id>/einreichen")
@policy(Permission.SUBMIT_LISTING)
def submit(listing_id: int):
    return _decide(
        listing_id,
        DecisionForm(),
        lambda f: listings.submit_listing(current_user, listing_id, f.expected_version()),
        _("Die Leistung ist zur Prüfung eingereicht; die FITKO ist benachrichtigt."),
    )


@bp.post("/leistungen/<int:listing_id>/veroeffentlichen")
@policy(Permission.REVIEW_LISTINGS)
def publish(listing_id: int):
    return _decide(
        listing_id,
        DecisionForm(),
        lambda f: listings.publish_listing(current_user, listing_id, f.expected_version()),
        _("Die Leistung ist veröffentlicht und steht im Katalog."),
    )


@bp.post("/leistungen/<int:listing_id>/zurueckgeben")
@policy(Permission.REVIEW_LISTINGS)
def reject(listing_id: int):
    return _decide(
        listing_id,
        ReasonForm(),
        lambda f: listings.reject_listing(
            current_user, listing_id, f.reason.data or "", f.expected_version()
        ),
        _("Die Leistung ist mit Ihrer Begründung an das Land zurückgegeben."),
    )


@bp.post("/leistungen/<int:listing_id>/zurueckziehen")
@policy(Permission.WITHDRAW_LISTING)
def withdraw(listing_id: int):
    return _decide(
        listing_id,
        DecisionForm(),
        lambda f: listings.withdraw_listing(current_user, listing_id, f.expected_version()),
        _("Die Leistung ist zurückgezogen. Bestehende Verträge laufen weiter."),
    )


@bp.post("/leistungen/<int:listing_id>/aenderung/uebernehmen")
@policy(Permission.REVIEW_LISTINGS)
def accept_revision(listing_id: int):
    return _decide(
        listing_id,
        DecisionForm(),
        lambda f: listings.accept_revision(current_user, listing_id, f.required_version()),
        _("Die Änderung ist übernommen und als neue Version veröffentlicht."),
    )


@bp.post("/leistungen/<int:listing_id>/aenderung/verwerfen")
@policy(Permission.EDIT_LISTING)
def discard_revision(listing_id: int):
    return _decide(
        listing_id,
        DecisionForm(),
        lambda f: listings.discard_revision(current_user, listing_id, f.expected_version()),
        _("Die Änderung ist zurückgenommen; die veröffentlichte Fassung bleibt unverändert."),
    )


@bp.post("/leistungen/<int:listing_id>/aenderung/ablehnen")
@policy(Permission.REVIEW_LISTINGS)
def reject_revision(listing_id: int):
    return _decide(
        listing_id,
        ReasonForm(),
        lambda f: listings.reject_revision(
            current_user, listing_id, f.reason.data or "", f.required_version()
        ),
        _("Die Änderung ist abgelehnt; die veröffentlichte Fassung bleibt unverändert."),
    )


# --- documents ------------------------------------------------------------------------------------


@bp.post("/leistungen/<int:listing_id>/dokumente")
@policy(Permission.EDIT_LISTING)
def upload_document(listing_id: int):
    form = DocumentForm()
    upload = form.file.data
    has_file = bool(upload and getattr(upload, "filename", ""))
    if form.validate_on_submit():
        try:
            document = listings.add_document(
                current_user,
                listing_id,
                title=form.title.data or "",
                filename=upload.filename if has_file else "",
                content=upload.read() if has_file else b"",
            )
        except Invalid as error:
            apply_errors(form, error)
            if not has_file:
                form.file.errors = [_("Bitte wählen Sie eine PDF-Datei aus.")]
        except Conflict as error:
            flash(_error_text(error), "error")
            return redirect(url_for("listings.listing", listing_id=listing_id))
        else:
            flash(_("Das Dokument „%(title)s“ ist hochgeladen.", title=document.title), "success")
            return redirect(url_for("listings.listing", listing_id=listing_id, _anchor="dokumente"))
    return _render_listing(
        listings.get_listing(current_user, listing_id), doc_form=form, status=422
    )


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    message = _("Die Datei ist zu groß: höchstens 10 MB je Dokument.")
    if request.endpoint == UPLOAD_ENDPOINT and request.view_args:
        try:
            listing = listings.get_listing(current_user, request.view_args["listing_id"])
            if can(current_user, Permission.EDIT_LISTING, listing):
                form = DocumentForm(formdata=None)
                form.file.errors = [message]
                return _render_listing(listing, doc_form=form, status=413)
        except DomainError:
            pass  # not theirs to see: the plain 413 page below says no more
    return error_page(413, message)


@bp.get("/leistungen/<int:listing_id>/dokumente/<int:document_id>")
@policy(Permission.PUBLIC)
def download_document(listing_id: int, document_id: int):
    document = listings.get_document(current_user, listing_id, document_id)
    response = send_file(
        BytesIO(document.content),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=document.filename,
        etag=document.sha256,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if document.listing.status != ListingStatus.PUBLISHED:
        response.headers["Cache-Control"] = "private, no-store"
    return response


# --- versions and review --------------------------------------------------------------------------


@bp.get("/leistungen/<int:listing_id>/versionen")
@policy(Permission.PUBLIC)
def versions(listing_id: int):
    listing, history = listings.versions(current_user, listing_id)
    lookups = _lookups() if any(changes for _version, changes in history) else Lookups()
    entries = [(version, _describe(changes, lookups)) for version, changes in reversed(history)]
    # Staff names are personal data: outsiders see the publishing organisation only.
    return render_template(
        "listings/versions.html", listing=listing, entries=entries, show_names=_insider(listing)
    )


@dataclass
class QueueItem:
    kind: str  # "listing" or "revision"
    listing: Listing
    since: Any
    days: int
    unmet: list
    changes: list[Change] = field(default_factory=list)
    revision: Any = None


@bp.get("/pruefung")
@policy(Permission.REVIEW_LISTINGS)
def review_queue():
    submitted, revisions = listings.review_queue(current_user)
    now = utcnow()
    lookups = _lookups() if revisions else Lookups()
    items = [
        QueueItem(
            "listing",
            item,
            item.submitted_at or item.updated_at,
            (now - (item.submitted_at or item.updated_at)).days,
            listings.unmet_mandatory(item),
        )
        for item in submitted
    ]
    for revision in revisions:
        proposed = json.loads(revision.content)
        items.append(
            QueueItem(
                "revision",
                revision.listing,
                revision.created_at,
                (now - revision.created_at).days,
                _unmet(listings.checklist_state(proposed)),
                _describe(listings.diff(listings.content_of(revision.listing), proposed), lookups),
                revision,
            )
        )
    items.sort(key=lambda i: i.since)
    return render_template(
        "listings/review_queue.html",
        items=items,
        decision_form=DecisionForm(formdata=None),
    )


# --- notifications --------------------------------------------------------------------------------


@bp.get("/benachrichtigungen")
@policy(Permission.OWN_ACCOUNT)
def inbox():
    return render_template(
        "notifications/index.html",
        notices=notifications.list_notifications(current_user, page=page_arg(), per_page=PER_PAGE),
        confirm_form=ConfirmForm(),
        safe_link=safe_next,
    )


@bp.post("/benachrichtigungen/gelesen")
@policy(Permission.OWN_ACCOUNT)
def mark_read():
    if ConfirmForm().validate_on_submit():
        count = notifications.mark_all_read(current_user)
        flash(
            ngettext(
                "%(num)d Benachrichtigung als gelesen markiert.",
                "%(num)d Benachrichtigungen als gelesen markiert.",
                count,
            ),
            "success",
        )
    return redirect(url_for("listings.inbox"))


@bp.post("/benachrichtigungen/<int:notification_id>/gelesen")
@policy(Permission.OWN_ACCOUNT)
def mark_one_read(notification_id: int):
    """One of the user's own notices; another user's answers 404 (the service's NotFound)."""
    if ConfirmForm().validate_on_submit():
        notifications.mark_read(current_user, notification_id)
        flash(_("Die Benachrichtigung ist als gelesen markiert."), "success")
    page = page_arg()
    # Back to the same page of the inbox, at the notice just marked.
    return redirect(
        url_for(
            "listings.inbox",
            page=page if page > 1 else None,
            _anchor=f"notice-{notification_id}",
        )
    )
