"""Rollout of a reuse to the adopter Land's authorities (Einführung bei Behörden).

One page per reuse: progress ("n von m Behörden live"), a map of the Land's Kreise
coloured by rollout status with a legend and a table carrying the same figures, the
paginated list of authorities with bulk moves, and (for the adopter's editors once
the contract is signed) adding authorities found by name or a whole Kreis.

Views stay thin: the reuses service checks permissions, steps and dates, audits and
commits. Its refusals come back on the page with the status code (422, 409) and the
list shows the unchanged state.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BuildError
from wtforms.fields.choices import SelectChoice

from fitstore.blueprints._helpers import apply_errors, page_arg
from fitstore.errors import Conflict, Invalid, PreconditionFailed
from fitstore.extensions import db
from fitstore.forms.rollouts import AddAuthoritiesForm, AddKreisForm, RolloutUpdateForm
from fitstore.models import (
    CONTRACTED_STAGES,
    ROLLOUT_ORDER,
    Authority,
    AuthorityLevel,
    Reuse,
    ReuseStage,
    Rollout,
    RolloutStatus,
)
from fitstore.models.base import utcnow
from fitstore.permissions import Permission, can, policy
from fitstore.services import reference, reuses
from fitstore.services.exports import neutralise

bp = Blueprint("rollouts", __name__)

PER_PAGE = 50
SEARCH_PER_PAGE = 25
MAX_QUERY = 100
# The map's colour of a Kreis, farthest status first (``reuses.kreis_status``).
MAP_STATUSES = ("live", "connecting", "planned", "none")
STATUS_VALUES = {status.value for status in RolloutStatus}
# Field names of the service's errors -> fields of the forms here.
UPDATE_FIELDS = {"authorities": "codes"}
ADD_FIELDS = {"authorities": "codes", "date": "planned_on"}
KREIS_FIELDS = {"authorities": "kreis", "date": "planned_on"}


def status_label(status: str) -> str:
    if status == "none":
        return _("keine Behörde in der Einführung")
    return str(reuses.ROLLOUT_LABELS[RolloutStatus(status)])


# --- reads the service has no use case for (reference data and one membership test) -----


def _kreis_codes(land_ags: str, kreis_ags: str) -> list[str]:
    """The Kreis itself and all its Gemeinden (by ``kreis_ags``: after mergers a Gemeinde's
    AGS need not start with its Kreis key)."""
    return list(
        db.session.scalars(
            select(Authority.ags)
            .where(Authority.land_ags == land_ags, Authority.kreis_ags == kreis_ags)
            .order_by(Authority.level.desc(), Authority.ags)  # "kreis" before "gemeinde"
        )
    )


def _already_added(reuse: Reuse, authority_ids: list[int]) -> set[int]:
    if not authority_ids:
        return set()
    return set(
        db.session.scalars(
            select(Rollout.authority_id).where(
                Rollout.reuse_id == reuse.id, Rollout.authority_id.in_(authority_ids)
            )
        )
    )


# --- the page -----------------------------------------------------------------------------


@dataclass
class KreisRow:
    ags: str
    name: str
    counts: dict[str, int]
    status: str

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)


@dataclass
class Forms:
    update: RolloutUpdateForm | None = None
    add: AddAuthoritiesForm | None = None
    kreis: AddKreisForm | None = None
    messages: list[str] = field(default_factory=list)  # errors without a field


def _filters() -> dict[str, Any]:
    status = request.args.get("status", "")
    q = request.args.get("q", "").strip()[:MAX_QUERY]
    return {"status": status if status in STATUS_VALUES else "", "q": q}


def _list_args() -> dict[str, Any]:
    """The list's filter and page, for links and form actions back to the same view."""
    args: dict[str, Any] = {k: v for k, v in _filters().items() if v}
    page = page_arg()
    if page > 1:
        args["page"] = page
    search = request.args.get("suche", "").strip()[:MAX_QUERY]
    if search:
        args["suche"] = search
    return args


def _back_url(reuse_id: int) -> str:
    try:
        return url_for("reuses.detail", reuse_id=reuse_id)
    except BuildError:  # the reuse pages are a separate blueprint
        return f"/nachnutzungen/{reuse_id}"


def _kreis_rows(reuse: Reuse, by_kreis: dict[str, dict[str, int]], names: dict[str, str]):
    rows = [
        KreisRow(ags, names.get(ags, ags), counts, reuses.kreis_status(counts))
        for ags, counts in by_kreis.items()
    ]
    rows.sort(key=lambda row: (row.name.lower(), row.ags))
    return rows


def _render(reuse_id: int, forms: Forms | None = None, status: int = 200):
    forms = forms or Forms()
    filters = _filters()
    reuse, rows = reuses.list_rollouts(
        current_user,
        reuse_id,
        status=filters["status"] or None,
        q=filters["q"] or None,
        page=page_arg(),
        per_page=PER_PAGE,
    )
    land = reuse.adopter_land
    # Map, table and progress all come from this one dict, so they always agree.
    by_kreis = reuses.rollout_by_kreis(reuse)
    totals = {s.value: sum(c.get(s.value, 0) for c in by_kreis.values()) for s in ROLLOUT_ORDER}
    progress = reuses.RolloutProgress(**totals)
    kreise = reference.search_authorities(land=land, level="kreis", per_page=200).items
    kreis_names = {k.ags: k.name for k in kreise}
    kreise_map = reference.kreise_map(land.ags)
    map_names = {area.ags: area.name for area in kreise_map.areas}
    kreis_rows = _kreis_rows(reuse, by_kreis, {**map_names, **kreis_names})
    area_status = {ags: reuses.kreis_status(counts) for ags, counts in by_kreis.items()}

    # Alliance members see the rollout, but the contract is the parties' business only.
    contract = reuse.contract if can(current_user, Permission.VIEW_CONTRACT, reuse) else None
    effective = contract.effective_date if contract is not None else None
    manage = can(current_user, Permission.MANAGE_ROLLOUT, reuse)
    open_for_rollout = reuse.stage in CONTRACTED_STAGES
    editable = manage and open_for_rollout

    search = request.args.get("suche", "").strip()[:MAX_QUERY]
    found = present = None
    if editable:
        today = utcnow().date().isoformat()
        forms.update = forms.update or RolloutUpdateForm(formdata=None, date=today)
        forms.add = forms.add or AddAuthoritiesForm(formdata=None, prefix="add")
        forms.kreis = forms.kreis or AddKreisForm(formdata=None, prefix="kreis")
        forms.kreis.kreis.choices = [SelectChoice("", _("– bitte wählen –"))] + [
            SelectChoice(k.ags, f"{k.name} ({k.type})") for k in kreise
        ]
        if effective is not None:
            hint = _(
                "Frühestens am Vertragsbeginn (%(date)s), spätestens heute.",
                date=effective.strftime("%d.%m.%Y"),
            )
            forms.update.date.description = hint
            forms.add.planned_on.description = hint + " " + _("Ohne Angabe: heute.")
            forms.kreis.planned_on.description = forms.add.planned_on.description
        if search:
            found = reference.search_authorities(land=land, q=search, per_page=SEARCH_PER_PAGE)
            present = _already_added(reuse, [a.id for a in found.items])

    return render_template(
        "rollouts/index.html",
        reuse=reuse,
        land=land,
        rows=rows,
        filters=filters,
        list_args=_list_args(),
        progress=progress,
        kreis_rows=kreis_rows,
        other_kreise=max(0, len(kreise_map.areas) - len(kreis_rows)),
        kreise_map=kreise_map,
        area_status=area_status,
        by_kreis=by_kreis,
        kreis_names={**map_names, **kreis_names},
        map_statuses=MAP_STATUSES,
        status_label=status_label,
        statuses=[s.value for s in ROLLOUT_ORDER],
        effective=effective,
        manage=manage,
        editable=editable,
        forms=forms,
        search=search,
        found=found,
        present=present or set(),
        back_url=_back_url(reuse.id),
        reuse_live=reuse.stage == ReuseStage.LIVE,
        open_for_rollout=open_for_rollout,
        stage_name=reuses.stage_label(reuse.stage),
    ), status


@bp.get("/nachnutzungen/<int:reuse_id>/einfuehrung")
@policy(Permission.VIEW_REUSE)
def index(reuse_id: int):
    return _render(reuse_id)


def _refused(error, renames: dict[str, str]) -> Invalid:
    """The service's error with its field names turned into the form's."""
    return Invalid(
        detail=error.detail,
        errors={renames.get(name, name): messages for name, messages in error.errors.items()},
    )


def _error_text(error) -> str:
    messages = [str(m) for msgs in error.errors.values() for m in msgs]
    if error.detail:
        messages.insert(0, error.detail)
    return " ".join(messages) or str(error.title)


def _expired(reuse_id: int):
    flash(_("Das Formular ist abgelaufen. Bitte versuchen Sie es erneut."), "error")
    return redirect(url_for("rollouts.index", reuse_id=reuse_id, **_list_args()))


@bp.post("/nachnutzungen/<int:reuse_id>/einfuehrung/status")
@policy(Permission.MANAGE_ROLLOUT)
def update(reuse_id: int):
    form = RolloutUpdateForm()
    if not form.validate_on_submit():
        return _expired(reuse_id)
    try:
        count = reuses.update_rollout(
            current_user, reuse_id, form.selected_codes(), form.status.data, form.date.data
        )
    except Invalid as error:
        messages = apply_errors(form, _refused(error, UPDATE_FIELDS))
        return _render(reuse_id, Forms(update=form, messages=messages), 422)
    except (Conflict, PreconditionFailed) as error:
        return _render(reuse_id, Forms(update=form, messages=[_error_text(error)]), 409)
    flash(
        ngettext(
            "%(num)d Behörde auf „%(status)s“ gesetzt.",
            "%(num)d Behörden auf „%(status)s“ gesetzt.",
            count,
            status=status_label(form.status.data),
        ),
        "success",
    )
    return redirect(url_for("rollouts.index", reuse_id=reuse_id, **_list_args()))


@bp.post("/nachnutzungen/<int:reuse_id>/einfuehrung/hinzufuegen")
@policy(Permission.MANAGE_ROLLOUT)
def add(reuse_id: int):
    reuse = reuses.get_reuse(current_user, reuse_id)
    whole_kreis = "kreis-kreis" in request.form
    form: AddAuthoritiesForm | AddKreisForm
    if whole_kreis:
        form = AddKreisForm(prefix="kreis")
        renames = KREIS_FIELDS
    else:
        form = AddAuthoritiesForm(prefix="add")
        renames = ADD_FIELDS
    if not form.validate_on_submit():
        return _expired(reuse_id)

    def failed(messages: list[str], status: int):
        if whole_kreis:
            return _render(reuse_id, Forms(kreis=form, messages=messages), status)
        return _render(reuse_id, Forms(add=form, messages=messages), status)

    if whole_kreis:
        kreis = (form.kreis.data or "").strip()
        if not kreis:
            form.kreis.errors = [_("Bitte wählen Sie einen Kreis aus.")]
            return failed([], 422)
        # A key that is no Kreis of the Land goes to the service as it is: it says why not.
        codes = _kreis_codes(reuse.adopter_land_ags, kreis) or [kreis]
    else:
        codes = form.codes.data or []
    try:
        count = reuses.add_rollout_authorities(current_user, reuse_id, codes, form.planned_on.data)
    except Invalid as error:
        return failed(apply_errors(form, _refused(error, renames)), 422)
    except (Conflict, PreconditionFailed) as error:
        return failed([_error_text(error)], 409)
    if count:
        flash(
            ngettext(
                "%(num)d Behörde zur Einführung hinzugefügt (geplant).",
                "%(num)d Behörden zur Einführung hinzugefügt (geplant).",
                count,
            ),
            "success",
        )
    else:
        flash(_("Die ausgewählten Behörden sind bereits in der Einführung."), "info")
    args = _list_args()
    if whole_kreis:
        args.pop("suche", None)
    return redirect(url_for("rollouts.index", reuse_id=reuse_id, **args))


# --- CSV ------------------------------------------------------------------------------------

CSV_HEADER = ("Behörde", "AGS", "Art", "Ebene", "Kreis", "Status", "Status seit", "live seit")
CSV_PAGE = 200


@bp.get("/nachnutzungen/<int:reuse_id>/einfuehrung.csv")
@policy(Permission.VIEW_REUSE)
def export(reuse_id: int):
    """The rollout list (with the page's filters) for German Excel: UTF-8 with BOM, ``;``."""
    filters = _filters()
    with force_locale("de"):  # German labels, whatever the UI language
        csv_labels = {status: str(label) for status, label in reuses.ROLLOUT_LABELS.items()}

    def page(number: int):
        return reuses.list_rollouts(
            current_user,
            reuse_id,
            status=filters["status"] or None,
            q=filters["q"] or None,
            page=number,
            per_page=CSV_PAGE,
        )

    reuse, current = page(1)
    kreise = reference.search_authorities(land=reuse.adopter_land, level="kreis", per_page=200)
    names = {k.ags: k.name for k in kreise.items}
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    while True:
        for row in current.items:
            authority = row.authority
            writer.writerow(
                [
                    neutralise(cell)
                    for cell in (
                        authority.name,
                        authority.ags,
                        authority.type,
                        "Kreis" if authority.level == AuthorityLevel.KREIS else "Gemeinde",
                        names.get(row.kreis_ags, row.kreis_ags),
                        csv_labels[row.status],
                        row.status_on.strftime("%d.%m.%Y"),
                        row.live_on.strftime("%d.%m.%Y") if row.live_on else "",
                    )
                ]
            )
        if not current.has_next:
            break
        _reuse, current = page(current.page + 1)
    response = Response("\ufeff" + buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="einfuehrung-nachnutzung-{reuse.id}.csv"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
