"""The cost statement of a Land and year over all listings: page, CSV, XLSX, print.

Views stay thin: ``cost_sharing.land_statement`` checks the permission (another Land's
statement is NotFound), computes every listing's split of the year in a constant number
of queries and collects the Land's lines, its one-off Anbindungskosten and the listings
that cannot be computed. The page, the CSV and the XLSX all show that one statement, so
they hold the same cents.
"""

from __future__ import annotations

from fractions import Fraction

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import Form, SelectField, StringField

from fitstore import costs
from fitstore.errors import Invalid
from fitstore.models.alliance import FundingModel
from fitstore.models.base import utcnow
from fitstore.permissions import Permission, policy
from fitstore.services import alliances, cost_sharing, statement_xlsx

bp = Blueprint("statements", __name__)

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class StatementQueryForm(Form):
    """Which statement to open. A GET form that changes nothing, so no CSRF token; the
    field names are the query parameters (``?land=12&jahr=2027``)."""

    land = SelectField(_l("Land"), choices=[], validate_choice=False)
    jahr = StringField(
        _l("Jahr"),
        description=_l("Das Kalenderjahr der Abrechnung, vierstellig, z. B. 2027."),
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 4},
    )


def _query_form(formdata=None) -> StatementQueryForm:
    form = StatementQueryForm(formdata=formdata)
    lands = cost_sharing.visible_statement_lands(current_user)
    form.land.choices = [(land.ags, f"{land.name} ({land.ags})") for land in lands]
    return form


def _render_index(form: StatementQueryForm, status: int = 200):
    return render_template("statements/index.html", form=form), status


def _check_query(form: StatementQueryForm) -> int | None:
    """The year of a valid query, or None with messages on the fields."""
    if form.land.data not in {ags for ags, _label in form.land.choices}:
        form.land.errors = [_("Bitte wählen Sie ein Land aus der Liste.")]
    text = (form.jahr.data or "").strip()
    year = int(text) if text.isascii() and text.isdigit() and len(text) == 4 else None
    if year is None:
        form.jahr.errors = [_("Bitte geben Sie das Jahr vierstellig an, z. B. 2026.")]
    elif not cost_sharing.MIN_YEAR <= year <= cost_sharing.MAX_YEAR:
        form.jahr.errors = [
            _(
                "Bitte geben Sie ein Jahr von %(low)d bis %(high)d an.",
                low=cost_sharing.MIN_YEAR,
                high=cost_sharing.MAX_YEAR,
            )
        ]
    return None if form.land.errors or form.jahr.errors else year


def _defaults(form: StatementQueryForm) -> None:
    """Fill what the query leaves out: the reader's own Land (else the first one it may
    see) and the current year."""
    if "land" not in request.args:
        choices = [ags for ags, _label in form.land.choices]
        own = getattr(current_user, "land_ags", None)
        form.land.data = own if own in choices else (choices[0] if choices else None)
    if "jahr" not in request.args:
        form.jahr.data = str(utcnow().year)


@bp.get("/kosten/abrechnung")
@policy(Permission.VIEW_COST_STATEMENT)
def index():
    """The choice of Land and year. A query (``?land=12&jahr=2027``; either may be left
    out) redirects to that statement; a bad one shows the form with its messages (422)."""
    submitted = "land" in request.args or "jahr" in request.args
    form = _query_form(request.args if submitted else None)
    _defaults(form)
    if not submitted:
        return _render_index(form)
    year = _check_query(form)
    if year is None:
        return _render_index(form, 422)
    return redirect(url_for(".statement", land_ags=form.land.data, year=year))


# --- the statement ---------------------------------------------------------------------


def percent(share: Fraction | None) -> str:
    """An exact share (0..1) as a percentage with 5 decimals in the page's language."""
    if share is None:
        return "–"
    return format_decimal(costs.to_decimal(share * 100, 5), format="#,##0.00000")


def _mix_text(split: cost_sharing.ListingSplit) -> str:
    return ", ".join(
        _(
            "%(percent)s %% %(key)s",
            percent=format_decimal(value, format="#,##0.##"),
            key=alliances.cost_key_label(name),
        )
        for name, value in sorted(split.mix.items())
        if value
    )


def _split_link(line: cost_sharing.StatementLine, land_ags: str) -> str:
    """The cost split page of the line's listing when the reader may open it: FITKO and
    admins always, a Land's users when their Land takes part (or provides it). A Land that
    only pays the all-Länder pool of an ``efa_2024`` listing gets the listing page instead,
    never a link that answers 404."""
    listing = line.listing
    own = getattr(current_user, "land_ags", None)
    taking_part = any(p.land_ags == land_ags and p.months for p in line.split.participants)
    if own is None or taking_part or own == listing.provider_land_ags:
        return url_for("costs.split", listing_id=listing.id, year=line.split.year)
    return url_for("listings.listing", listing_id=listing.id)


def _statement_or_form(land_ags: str, year: int):
    """The statement, or the choice form with the year's message (422) for a year the
    service refuses."""
    try:
        return cost_sharing.land_statement(current_user, land_ags, year), None
    except Invalid as error:
        form = _query_form()
        form.land.data = land_ags
        form.jahr.data = str(year)
        form.jahr.errors = list(error.errors.get("year", [])) or [str(error)]
        return None, _render_index(form, 422)


@bp.get("/kosten/abrechnung/<land_ags>/<int:year>")
@policy(Permission.VIEW_COST_STATEMENT)
def statement(land_ags: str, year: int):
    result, refused = _statement_or_form(land_ags, year)
    if refused:
        return refused
    efa = any(line.split.funding_model == FundingModel.EFA_2024 for line in result.lines)
    years = [
        other
        for other in (result.year - 1, result.year + 1)
        if cost_sharing.MIN_YEAR <= other <= cost_sharing.MAX_YEAR
    ]
    return render_template(
        "statements/statement.html",
        statement=result,
        efa=efa,
        other_years=years,
        percent=percent,
        mix_text=_mix_text,
        split_link=lambda line: _split_link(line, result.land.ags),
        cost_key_label=alliances.cost_key_label,
        funding_model_label=alliances.funding_model_label,
        created=utcnow(),
    )


def _filename(statement: cost_sharing.Statement, extension: str) -> str:
    return f"kostenabrechnung-{statement.land.ags}-{statement.year}.{extension}"


def _download(body: str | bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # A Land's statement is private to it: never keep it in a shared cache.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/kosten/abrechnung/<land_ags>/<int:year>.csv")
@policy(Permission.VIEW_COST_STATEMENT)
def statement_csv(land_ags: str, year: int):
    """The statement as CSV (``cost_sharing.statement_csv``: ``;``, decimal comma, the
    amounts also in integer cents), served as UTF-8 **with** a byte order mark, as the
    catalogue export: German Excel opens a file without one as Windows-1252 and garbles
    "Königsteiner". A program reading the file decodes it as ``utf-8-sig``."""
    result = cost_sharing.land_statement(current_user, land_ags, year)
    body = "\ufeff" + cost_sharing.statement_csv(result)
    return _download(body, "text/csv", _filename(result, "csv"))  # Flask adds charset=utf-8


# The view keeps a name that does not shadow the service module it calls.
@bp.get("/kosten/abrechnung/<land_ags>/<int:year>.xlsx", endpoint="statement_xlsx")
@policy(Permission.VIEW_COST_STATEMENT)
def statement_xlsx_download(land_ags: str, year: int):
    result = cost_sharing.land_statement(current_user, land_ags, year)
    return _download(statement_xlsx.build(result), XLSX_MIMETYPE, _filename(result, "xlsx"))
