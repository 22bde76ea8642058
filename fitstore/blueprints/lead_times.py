"""Lead times per stage and the list of long waits (FITKO and members).

Both pages are GET forms that change nothing. The transparency service decides what a
reader sees (FITKO and admins: every listing; a Land user: the listings its Land
provides, reuses or is an alliance member of, and among the waits those reuses it may
open) and computes the figures in a fixed number of queries; the views only read the
query parameters and prepare the bar chart. Land names come from the map file, so the
pages never load a Land per row.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template, request
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import Form, SelectField, StringField

from fitstore.blueprints._helpers import page_arg
from fitstore.errors import NotFound
from fitstore.permissions import Permission, policy
from fitstore.services import reference, reuses, transparency
from fitstore.services.pagination import Page

bp = Blueprint("lead_times", __name__)

MAX_THRESHOLD_DAYS = 3650
WAITS_PER_PAGE = 50

# The bar chart of the lead times (SVG user units).
CHART_WIDTH = 760
CHART_LABEL = 210  # the stage names end here
CHART_BAR = 380  # the longest bar
CHART_ROW = 64  # one stage: a median bar and a 90th percentile bar
BAR_HEIGHT = 20


def days_text(value: float | None) -> str:
    """Days with at most one decimal in the page's language ("12,5", "3"); "–" if none."""
    if value is None:
        return "–"
    return format_decimal(value, format="#,##0.#")


def land_names() -> dict[str, str]:
    return {area.ags: area.name for area in reference.germany_map().areas}


# --- lead times -----------------------------------------------------------------------------


class LeadTimeQueryForm(Form):
    """Which listing's lead times to show; the field name is the query parameter
    (``?leistung=7``). A GET form that changes nothing, so no CSRF token."""

    leistung = SelectField(_l("Leistung"), choices=[], validate_choice=False)


@dataclass(frozen=True)
class StageBars:
    """One stage in the chart: its name, and its median and 90th percentile bars."""

    label: str
    y: int
    median_width: int
    p90_width: int
    median_text: str
    p90_text: str
    count: int

    @property
    def label_y(self) -> int:
        return self.y + BAR_HEIGHT + 6

    @property
    def median_y(self) -> int:
        return self.y + 2

    @property
    def p90_y(self) -> int:
        return self.y + BAR_HEIGHT + 10

    @property
    def median_text_x(self) -> int:
        return CHART_LABEL + self.median_width + 8

    @property
    def p90_text_x(self) -> int:
        return CHART_LABEL + self.p90_width + 8


def lead_time_chart(rows: list[transparency.StageLeadTime]) -> dict:
    """Bars as long as the days relative to the longest 90th percentile (integer units);
    a stage without completed stays gets no bar, only its words."""
    longest = max((row.p90_days or 0 for row in rows), default=0) or 1

    def width(value: float | None) -> int:
        # At least one unit, so that a stay of a few hours still shows as a bar.
        return 0 if value is None else max(1, round(value * CHART_BAR / longest))

    stages = []
    for index, row in enumerate(rows):
        if row.count:
            median_text = _("Median: %(days)s Tage", days=days_text(row.median_days))
            p90_text = _("90. Perzentil: %(days)s Tage", days=days_text(row.p90_days))
        else:
            median_text = _("keine abgeschlossenen Aufenthalte")
            p90_text = ""
        stages.append(
            StageBars(
                label=reuses.stage_label(row.stage),
                y=index * CHART_ROW + 6,
                median_width=width(row.median_days),
                p90_width=width(row.p90_days),
                median_text=median_text,
                p90_text=p90_text,
                count=row.count,
            )
        )
    return {
        "stages": stages,
        "width": CHART_WIDTH,
        "height": len(stages) * CHART_ROW + 10,
        "label_x": CHART_LABEL - 10,
        "bar_x": CHART_LABEL,
        "bar_height": BAR_HEIGHT,
    }


@bp.get("/auswertung/durchlaufzeiten")
@policy(Permission.VIEW_LEAD_TIMES)
def lead_times():
    """Median and 90th percentile days per stage, for all listings the reader sees or
    one of them (``?leistung=<id>``; a listing outside that choice is NotFound)."""
    listings = transparency.lead_time_listings(current_user)
    names = land_names()
    form = LeadTimeQueryForm(request.args)
    form.leistung.choices = [("", _("Alle Leistungen, die Sie sehen (%(num)d)", num=len(listings)))]
    form.leistung.choices += [
        (str(listing.id), f"{listing.title} ({names.get(listing.provider_land_ags, '')})")
        for listing in listings
    ]
    wanted = (request.args.get("leistung") or "").strip()
    listing = None
    if wanted:
        listing = next((item for item in listings if str(item.id) == wanted), None)
        if listing is None:
            raise NotFound()
    form.leistung.data = str(listing.id) if listing else ""
    rows = transparency.lead_times(current_user, listing.id if listing else None)
    return render_template(
        "lead_times/lead_times.html",
        form=form,
        listing=listing,
        provider_name=names.get(listing.provider_land_ags, "") if listing else "",
        listings_count=len(listings),
        rows=rows,
        chart=lead_time_chart(rows),
        stage_label=reuses.stage_label,
        days_text=days_text,
    )


# --- long waits -----------------------------------------------------------------------------


class WaitQueryForm(Form):
    """The threshold of the waiting list (``?tage=30``); a GET form, no CSRF token."""

    tage = StringField(
        _l("Wartet seit mindestens (Tage)"),
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 4},
    )


def _threshold(form: WaitQueryForm, default: int) -> int | None:
    """The threshold the query asks for; the default when it asks for none; None (with
    a message on the field) for anything but a whole number from 0 to 3650."""
    text = (form.tage.data or "").strip()
    if not text:
        form.tage.data = str(default)
        return default
    # isascii(): "²".isdigit() is true, but int("²") fails; the length check keeps
    # int() away from thousands of digits.
    if text.isascii() and text.isdigit() and len(text) <= 4 and int(text) <= MAX_THRESHOLD_DAYS:
        return int(text)
    form.tage.errors = [
        _(
            "Bitte geben Sie eine ganze Zahl von 0 bis %(max)d an. Angezeigt wird die"
            " Liste mit der Voreinstellung von %(default)d Tagen.",
            max=MAX_THRESHOLD_DAYS,
            default=default,
        )
    ]
    return None


def _page(items: list, number: int, per_page: int) -> Page:
    """One page of a list the service has already loaded; a page past the end shows the
    last one."""
    pages = max(1, -(-len(items) // per_page))
    number = min(max(1, number), pages)
    start = (number - 1) * per_page
    return Page(items[start : start + per_page], number, per_page, len(items))


@bp.get("/auswertung/wartende")
@policy(Permission.VIEW_LEAD_TIMES)
def waits():
    """Reuses waiting at least ``?tage=`` days (default WAIT_THRESHOLD_DAYS) for the same
    party, oldest first, with who has to act. A bad threshold shows the default list
    with a message on the field (422)."""
    default = transparency.default_threshold()
    form = WaitQueryForm(request.args)
    form.tage.description = _(
        "Eine ganze Zahl von 0 bis %(max)d. Ohne Angabe gilt die Voreinstellung von"
        " %(default)d Tagen.",
        max=MAX_THRESHOLD_DAYS,
        default=default,
    )
    threshold = _threshold(form, default)
    refused = threshold is None
    if refused:
        threshold = default
    waits = transparency.waiting_list(current_user, threshold)
    return render_template(
        "lead_times/waits.html",
        form=form,
        threshold=threshold,
        default=default,
        refused=refused,
        waits=_page(waits, page_arg(), WAITS_PER_PAGE),
        land_names=land_names(),
        stage_label=reuses.stage_label,
    ), (422 if refused else 200)
