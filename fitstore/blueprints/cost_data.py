"""Cost data pages: key data per year (admins) and usage figures per listing and year."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from fitstore.blueprints._helpers import apply_errors
from fitstore.errors import Conflict, Invalid
from fitstore.forms.cost_data import KeyDataForm, UsageEntryForm, UsageImportForm
from fitstore.models.base import utcnow
from fitstore.permissions import Permission, policy
from fitstore.services import cost_data

bp = Blueprint("cost_data", __name__)


def _upload(form) -> bytes | None:
    upload = form.file.data
    return upload.read() if upload and getattr(upload, "filename", "") else None


# --- key data ------------------------------------------------------------------------


def _key_form(formdata=None) -> KeyDataForm:
    form = KeyDataForm() if formdata is None else KeyDataForm(formdata=formdata)
    form.key.choices = [(key, str(label)) for key, label in cost_data.KEY_LABELS.items()]
    if form.key.data not in cost_data.KEY_LABELS and request.method == "GET":
        form.key.data = "koenigstein"
    return form


def _render_key_data(form: KeyDataForm, form_errors=(), status: int = 200):
    return render_template(
        "cost_data/key_data.html",
        tables=cost_data.key_tables(),
        form=form,
        form_errors=list(form_errors),
        format_value=cost_data.format_value,
    ), status


@bp.get("/verwaltung/schluesseldaten")
@policy(Permission.MANAGE_KEY_DATA)
def key_data():
    return _render_key_data(_key_form())


@bp.post("/verwaltung/schluesseldaten")
@policy(Permission.MANAGE_KEY_DATA)
def upload_key_data():
    form = _key_form()
    if not form.validate_on_submit():
        return _render_key_data(form, status=422)
    try:
        cost_data.import_key_csv(current_user, form.key.data, form.year.data, _upload(form))
    except Invalid as error:
        return _render_key_data(form, apply_errors(form, error), 422)
    except Conflict as error:
        return _render_key_data(form, [error.detail], 409)
    flash(
        _(
            "%(key)s %(year)s ist gespeichert: 16 Werte.",
            key=cost_data.key_label(form.key.data),
            year=form.year.data.strip(),
        ),
        "success",
    )
    return redirect(url_for("cost_data.key_data"))


@bp.get("/verwaltung/schluesseldaten/vorlage.csv")
@policy(Permission.MANAGE_KEY_DATA)
def key_data_template():
    return Response(
        cost_data.key_csv_template(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="schluesseldaten-vorlage.csv"'},
    )


# --- usage figures -------------------------------------------------------------------


def _year_arg() -> int:
    """The ``jahr`` of the query; the current year when it is missing or no year."""
    value = request.args.get("jahr", "")
    if value.isascii() and value.isdigit() and len(value) == 4:
        year = int(value)
        if cost_data.MIN_YEAR <= year <= cost_data.MAX_YEAR:
            return year
    return utcnow().year


def _render_usage(
    listing_id: int,
    year,
    *,
    entry_form: UsageEntryForm | None = None,
    import_form: UsageImportForm | None = None,
    form_errors=(),
    status: int = 200,
):
    overview = cost_data.usage_figures(current_user, listing_id, year)
    entry_form = entry_form or UsageEntryForm(formdata=None)
    import_form = import_form or UsageImportForm(formdata=None)
    entry_form.year.data = import_form.year.data = str(overview.year)
    own = overview.own_row
    if entry_form.cases.data is None and own is not None and own.figure is not None:
        entry_form.cases.data = str(own.figure.cases)
    return render_template(
        "cost_data/usage.html",
        overview=overview,
        listing=overview.listing,
        entry_form=entry_form,
        import_form=import_form,
        form_errors=list(form_errors),
        current_year=utcnow().year,
    ), status


def _usage_errors(form, error: Invalid) -> list[str]:
    """Field errors onto the form; the (hidden) year's and the rest go above the form."""
    unplaced = apply_errors(form, error)
    unplaced.extend(form.year.errors)
    form.year.errors = []
    return unplaced


def _posted_year(form) -> int:
    value = (form.year.data or "").strip()
    if value.isascii() and value.isdigit() and len(value) == 4:
        year = int(value)
        if cost_data.MIN_YEAR <= year <= cost_data.MAX_YEAR:
            return year
    return utcnow().year


@bp.get("/leistungen/<int:listing_id>/nutzung")
@policy(Permission.VIEW_USAGE)
def usage(listing_id: int):
    return _render_usage(listing_id, _year_arg())


@bp.post("/leistungen/<int:listing_id>/nutzung")
@policy(Permission.RECORD_USAGE)
def record_usage(listing_id: int):
    form = UsageEntryForm()
    year = _posted_year(form)
    if form.validate_on_submit():
        try:
            figure = cost_data.record_usage(
                current_user, listing_id, form.year.data, form.cases.data
            )
        except Invalid as error:
            unplaced = _usage_errors(form, error)
            return _render_usage(
                listing_id, year, entry_form=form, form_errors=unplaced, status=422
            )
        except Conflict as error:
            return _render_usage(listing_id, year, form_errors=[error.detail], status=409)
        flash(
            _(
                "Gespeichert: %(cases)s Nutzungen in %(year)d.",
                cases=cost_data.format_value(figure.cases),
                year=figure.year,
            ),
            "success",
        )
        return redirect(url_for("cost_data.usage", listing_id=listing_id, jahr=figure.year))
    return _render_usage(listing_id, year, entry_form=form, status=422)


@bp.post("/leistungen/<int:listing_id>/nutzung/import")
@policy(Permission.IMPORT_USAGE)
def import_usage(listing_id: int):
    form = UsageImportForm()
    year = _posted_year(form)
    if form.validate_on_submit():
        try:
            figures = cost_data.import_usage_csv(
                current_user, listing_id, form.year.data, _upload(form)
            )
        except Invalid as error:
            unplaced = _usage_errors(form, error)
            return _render_usage(
                listing_id, year, import_form=form, form_errors=unplaced, status=422
            )
        except Conflict as error:
            return _render_usage(listing_id, year, form_errors=[error.detail], status=409)
        flash(
            ngettext(
                "Importiert: die Nutzungszahl von %(num)d Land für %(year)d.",
                "Importiert: die Nutzungszahlen von %(num)d Ländern für %(year)d.",
                len(figures),
                year=year,
            ),
            "success",
        )
        return redirect(url_for("cost_data.usage", listing_id=listing_id, jahr=year))
    return _render_usage(listing_id, year, import_form=form, status=422)
