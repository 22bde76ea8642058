"""The public dashboard: Germany by Land and Kreis, per Land, over time.

No login is needed. Every figure comes from ``fitstore.services.transparency``; the
views here only choose, sort and lay out (map colours, legends, chart geometry), so the
pages cannot disagree with the open data, the feed or the API. Each page runs a fixed
number of queries whatever the number of reuses and rollouts, and shows public facts
only: published listings, stages with their dates, live authorities; never conditions,
contracts or money.

Tables sort on the server: the column headers are links that set ``sortierung`` (a
column key, unique across the tables of a page, so one parameter serves them all) and
``richtung`` (``auf``/``ab``). Unknown values fall back to the table's default order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask_babel import format_date, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from fitstore.errors import NotFound
from fitstore.models import Listing, ReuseStage
from fitstore.permissions import Permission, policy
from fitstore.services import public_cache, reference, reuses, transparency

bp = Blueprint("transparency", __name__)

LAYERS = {"laender": _l("Länder"), "kreise": _l("Kreise")}
DEFAULT_LAYER = "laender"
ASCENDING, DESCENDING = "auf", "ab"
MAX_ID_DIGITS = 12  # longer digit strings are no listing id (and would overflow a database)

# Legend order of the stage colours on the one-listing Land map.
_STAGE_CSS_ORDER = [f"stage--{stage}" for stage in reuses.STAGE_LABELS] + [
    "stage--provider",
    "stage--none",
]


# --- sorting ------------------------------------------------------------------------------


def collate(text: str) -> str:
    """A sort key for German names without a locale: umlauts next to their vowel
    ("Baden-Württemberg" before "Bayern", "Lübeck" between "Lörrach" and "Lüneburg")."""
    return text.casefold().translate(str.maketrans("äöü", "aou"))


@dataclass(frozen=True)
class Column:
    key: str  # the value of ``sortierung``
    label: Any
    value: Callable[[Any], Any]  # the sort value of a row; None sorts last either way
    numeric: bool = False


@dataclass(frozen=True)
class SortHeader:
    key: str
    label: str
    href: str
    aria_sort: str | None  # "ascending"/"descending" on the sorted column only
    action: str  # what following the link does, for screen readers
    numeric: bool


@dataclass(frozen=True)
class SortedTable:
    rows: list
    headers: list[SortHeader]
    column: str
    descending: bool

    @property
    def description(self) -> str:
        direction = _("absteigend") if self.descending else _("aufsteigend")
        return _(
            "sortiert nach „%(column)s“, %(direction)s", column=self.column, direction=direction
        )

    def header(self, key: str) -> SortHeader:
        return next(h for h in self.headers if h.key == key)


def sort_rows(rows: Iterable, value: Callable[[Any], Any], descending: bool, name) -> list:
    """Rows by ``value`` (ties by ``name`` ascending, rows without a value last)."""
    ordered = sorted(rows, key=lambda row: collate(name(row)))
    present = [row for row in ordered if value(row) is not None]
    missing = [row for row in ordered if value(row) is None]
    # Python's sort is stable also in reverse, so equal values keep the name order.
    present.sort(key=value, reverse=descending)
    return present + missing


def sorted_table(
    rows: Iterable,
    columns: list[Column],
    default: str,
    name: Callable[[Any], str],
    link: Callable[..., str],
    anchor: str,
) -> SortedTable:
    """Sort ``rows`` by the requested column if it belongs to this table, else by
    ``default`` ascending; build the header links (each toggles its direction)."""
    by_key = {column.key: column for column in columns}
    requested = request.args.get("sortierung", "")
    if requested in by_key:
        column = by_key[requested]
        descending = request.args.get("richtung") == DESCENDING
    else:
        column, descending = by_key[default], False
    headers = []
    for candidate in columns:
        active = candidate is column
        next_descending = active and not descending
        label = str(candidate.label)
        headers.append(
            SortHeader(
                candidate.key,
                label,
                link(
                    sortierung=candidate.key,
                    richtung=DESCENDING if next_descending else ASCENDING,
                )
                + f"#{anchor}",
                ("descending" if descending else "ascending") if active else None,
                _("absteigend sortieren") if next_descending else _("aufsteigend sortieren"),
                candidate.numeric,
            )
        )
    return SortedTable(
        sort_rows(rows, column.value, descending, name), headers, str(column.label), descending
    )


# --- maps -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapItem:
    ags: str
    d: str
    css: str
    title: str


@dataclass(frozen=True)
class MapView:
    id: str
    view_box: str
    title: str
    items: list[MapItem]
    legend_title: str
    legend: list[tuple[str, str]]  # (css class, words)
    attribution: str
    borders: tuple = ()  # Länder outlines drawn over a Kreis map
    kreise: bool = False


def bucket_legend() -> list[tuple[str, str]]:
    """The count classes in words: "0", "1", "2–5", "6–20", "21 und mehr"."""
    legend = []
    for low, high, css in transparency.LIVE_BUCKETS:
        if high is None:
            words = _("%(low)d und mehr", low=low)
        elif low == high:
            words = str(low)
        else:
            words = f"{low}–{high}"
        legend.append((css, words))
    return legend


def land_names() -> dict[str, str]:
    return {area.ags: area.name for area in reference.germany_map().areas}


def land_map(listing: Listing | None, rows: list[transparency.LandRow]) -> MapView:
    germany = reference.germany_map()
    paths = {area.ags: area.d for area in germany.areas}
    if listing is not None:
        items = [MapItem(r.ags, paths[r.ags], r.css, f"{r.name}: {r.label}") for r in rows]
        occurring = {r.css for r in rows}
        legend = [(css, _stage_css_label(css)) for css in _STAGE_CSS_ORDER if css in occurring]
        return MapView(
            "land-map",
            germany.view_box,
            _(
                "Karte der 16 Länder, gefärbt nach der Stufe der Nachnutzung von „%(listing)s“;"
                " dieselben Angaben stehen in der Tabelle „Länder“.",
                listing=listing.title,
            ),
            items,
            _("Stufe der Nachnutzung"),
            legend,
            germany.attribution,
        )
    items = [
        MapItem(
            r.ags,
            paths[r.ags],
            r.css,
            ngettext(
                "%(land)s: %(num)d Leistung im Produktivbetrieb",
                "%(land)s: %(num)d Leistungen im Produktivbetrieb",
                r.value,
                land=r.name,
            ),
        )
        for r in rows
    ]
    return MapView(
        "land-map",
        germany.view_box,
        _(
            "Karte der 16 Länder, gefärbt nach der Zahl der EfA-Leistungen im"
            " Produktivbetrieb; dieselben Zahlen stehen in der Tabelle „Länder“."
        ),
        items,
        _("Leistungen im Produktivbetrieb"),
        bucket_legend(),
        germany.attribution,
    )


def _stage_css_label(css: str) -> str:
    if css == "stage--provider":
        return _("Bereitstellendes Land")
    if css == "stage--none":
        return _("keine Nachnutzung")
    return reuses.stage_label(ReuseStage(css.removeprefix("stage--")))


def _authorities_title(name: str, count: int) -> str:
    return ngettext(
        "%(kreis)s: %(num)d live Behörde", "%(kreis)s: %(num)d live Behörden", count, kreis=name
    )


def kreis_map(
    rows: list[transparency.KreisRow], title: str, land_ags: str | None = None
) -> MapView:
    """The Kreise (all 401, or one Land's) coloured by live authorities; over all of
    Germany the Länder borders are drawn on top (same coordinates)."""
    layer = reference.kreise_map(land_ags) if land_ags else reference.kreise_map_all()
    by_ags = {row.ags: row for row in rows}
    items = [
        MapItem(
            area.ags,
            area.d,
            by_ags[area.ags].css,
            _authorities_title(by_ags[area.ags].name, by_ags[area.ags].live_authorities),
        )
        for area in layer.areas
        if area.ags in by_ags
    ]
    borders = () if land_ags else tuple(area.d for area in reference.germany_map().areas)
    return MapView(
        "kreis-map",
        layer.view_box,
        title,
        items,
        _("Live Behörden je Kreis"),
        bucket_legend(),
        layer.attribution,
        borders,
        kreise=True,
    )


def named_kreise(rows: list[transparency.KreisRow]) -> list[transparency.KreisRow]:
    """The rows with the official Kreis names: the map file calls both the city and the
    Landkreis "Osnabrück"; kreise.csv says "Osnabrück, Stadt" and "Osnabrück"."""
    names = transparency.kreis_names()
    return [
        transparency.KreisRow(r.ags, names.get(r.ags, r.name), r.land_ags, r.live_authorities)
        for r in rows
    ]


# --- the pages ------------------------------------------------------------------------------


def listing_arg() -> Listing | None:
    """The ``leistung`` query value: empty or absent means all listings; anything but a
    published listing's id is a 404."""
    raw = request.args.get("leistung", "")
    if raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_ID_DIGITS):
        raise NotFound()
    return transparency.public_listing(int(raw))


def layer_arg() -> str:
    value = request.args.get("ebene", DEFAULT_LAYER)
    return value if value in LAYERS else DEFAULT_LAYER


def _figures_of(overview: transparency.Overview, listing: Listing):
    return next(f for f in overview.listings if f.listing.id == listing.id)


@bp.get("/dashboard")
@policy(Permission.PUBLIC)
def dashboard():
    listing = listing_arg()
    layer = layer_arg()
    # The content is public and the same for everybody who asks for this view; only the
    # page around it (header, language form with its CSRF token) is the visitor's own.
    key = (
        "dashboard",
        str(get_locale()),
        listing.id if listing else None,
        layer,
        request.args.get("sortierung", ""),
        request.args.get("richtung", ""),
    )
    content = public_cache.cached(
        key, lambda: _dashboard_content(listing, layer), store=public_cache.PAGES
    )
    return render_template("transparency/dashboard.html", listing=listing, content=content)


def _dashboard_content(listing: Listing | None, layer: str) -> Markup:
    overview = transparency.overview()
    names = land_names()

    def link(**params) -> str:
        return url_for(
            "transparency.dashboard",
            leistung=listing.id if listing else None,
            ebene=layer if layer != DEFAULT_LAYER else None,
            **params,
        )

    land_table = kreis_table = listing_table = None
    if layer == "laender":
        rows = transparency.land_layer(listing)
        the_map = land_map(listing, rows)
        if listing is not None:
            columns = [
                Column("land", _l("Land"), lambda r: collate(r.name)),
                Column("stufe", _l("Stufe"), lambda r: r.value),
                Column("seit", _l("seit"), lambda r: r.since),
            ]
        else:
            columns = [
                Column("land", _l("Land"), lambda r: collate(r.name)),
                Column("leistungen", _l("Leistungen im Produktivbetrieb"), lambda r: r.value, True),
            ]
        land_table = sorted_table(rows, columns, "land", lambda r: r.name, link, "laender")
    else:
        rows = named_kreise(transparency.kreis_layer(listing))
        title = (
            _(
                "Karte der 401 Kreise, gefärbt nach der Zahl der Behörden, die „%(listing)s“"
                " live nutzen; dieselben Zahlen stehen in der Tabelle „Kreise“.",
                listing=listing.title,
            )
            if listing
            else _(
                "Karte der 401 Kreise, gefärbt nach der Zahl der Behörden, die mindestens eine"
                " EfA-Leistung live nutzen; dieselben Zahlen stehen in der Tabelle „Kreise“."
            )
        )
        the_map = kreis_map(rows, title)
        columns = [
            Column("kreis", _l("Kreis"), lambda r: (collate(r.name), r.ags)),
            Column("land", _l("Land"), lambda r: collate(names.get(r.land_ags, r.land_ags))),
            Column("behoerden", _l("Live Behörden"), lambda r: r.live_authorities, True),
        ]
        kreis_table = sorted_table(rows, columns, "land", lambda r: r.name, link, "kreise")
    if listing is None:
        columns = [
            Column("leistung", _l("Leistung"), lambda f: collate(f.listing.title)),
            Column("laender-live", _l("Länder im Produktivbetrieb"), lambda f: f.live_lands, True),
            Column(
                "laender-vorbereitung",
                _l("Länder in Vorbereitung oder Anbindung"),
                lambda f: f.onboarding_lands,
                True,
            ),
            Column(
                "laender-offen", _l("Länder nicht begonnen"), lambda f: f.not_started_lands, True
            ),
            Column("behoerden-live", _l("Live Behörden"), lambda f: f.live_authorities, True),
            Column(
                "kreise-live",
                _l("Kreise mit live Behörde"),
                lambda f: f.kreise_with_live,
                True,
            ),
        ]
        listing_table = sorted_table(
            overview.listings, columns, "leistung", lambda f: f.listing.title, link, "leistungen"
        )
    # An autoescaped template's output: already HTML, safe to place as it is.
    return Markup(  # noqa: S704
        render_template(
            "transparency/_dashboard_content.html",
            listing=listing,
            figures=_figures_of(overview, listing) if listing else None,
            overview=overview,
            layer=layer,
            layers=LAYERS,
            the_map=the_map,
            land_table=land_table,
            kreis_table=kreis_table,
            listing_table=listing_table,
            land_names=names,
            land_paths={ags: url_for("transparency.land", land_ags=ags) for ags in names},
        )
    )


@bp.get("/dashboard/laender/<land_ags>")
@policy(Permission.PUBLIC)
def land(land_ags: str):
    data = transparency.land_overview(land_ags)  # NotFound for an unknown Land
    authorities, connections, kreise_live = transparency.live_totals(data.land.ags)
    rows = named_kreise(transparency.kreis_layer(None, data.land.ags))
    the_map = kreis_map(
        rows,
        _(
            "Karte der Kreise in %(land)s, gefärbt nach der Zahl der Behörden, die mindestens"
            " eine EfA-Leistung live nutzen; dieselben Zahlen stehen in der Tabelle „Kreise“.",
            land=data.land.name,
        ),
        data.land.ags,
    )

    def link(**params) -> str:
        return url_for("transparency.land", land_ags=data.land.ags, **params)

    columns = [
        Column("kreis", _l("Kreis"), lambda r: (collate(r.name), r.ags)),
        Column("behoerden", _l("Live Behörden"), lambda r: r.live_authorities, True),
    ]
    kreis_table = sorted_table(rows, columns, "kreis", lambda r: r.name, link, "kreise")
    return render_template(
        "transparency/land.html",
        data=data,
        live_authorities=authorities,
        live_connections=connections,
        kreise_live=kreise_live,
        kreise_total=len(rows),
        the_map=the_map,
        kreis_table=kreis_table,
        stage_label=reuses.stage_label,
    )


# --- the history chart ----------------------------------------------------------------------

CHART_WIDTH = 720
PANEL_HEIGHT = 210
PLOT_LEFT = 56
PLOT_RIGHT = 16
PLOT_TOP = 34  # room for the panel heading
PLOT_BOTTOM = 34  # room for the year labels
MAX_YEAR_LABELS = 12
MIN_LABEL_GAP = 40  # a year label is about 32 units wide


@dataclass(frozen=True)
class Panel:
    title: str
    css: str
    top: float  # y of the panel's top edge
    plot_top: float
    plot_bottom: float
    ticks: list[tuple[float, int]]  # (y, value)
    path: str  # the step line
    x_labels: list[tuple[float, str]]  # (x, year)
    last_value: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    right: float
    panels: list[Panel]


def coordinate(value: float) -> float | int:
    """An SVG coordinate rounded to a tenth, whole numbers without ".0"."""
    rounded = round(value, 1)
    return int(rounded) if rounded == int(rounded) else rounded


def nice_ceiling(value: int) -> tuple[int, int]:
    """(top, step) of a y axis for values up to ``value``: 1, 2 or 5 times a power of
    ten per step, at most five steps."""
    if value <= 0:
        return 1, 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            candidate = step * factor
            if math.ceil(value / candidate) <= 5:
                return math.ceil(value / candidate) * candidate, candidate
        step *= 10


def series_labels(listing: Listing | None) -> tuple[str, str]:
    """The names of the two history series: for all services together they count pairs
    (Land x service, authority x service), which the dashboard names the same way."""
    if listing is None:
        return (
            _("Nachnutzungen im Produktivbetrieb (Land × Leistung)"),
            _("Live-Anbindungen (Behörde × Leistung)"),
        )
    return _("Länder im Produktivbetrieb"), _("Live Behörden")


def history_chart(points: list[transparency.MonthPoint], labels: tuple[str, str]) -> Chart:
    """Two panels sharing the months axis: live Länder and live authorities, each on
    its own scale (authorities outnumber Länder by far). Geometry only; no figures."""
    count = len(points)
    plot_width = CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT
    slot = plot_width / count
    x_labels = []
    years = sorted({p.month.year for p in points})
    every = max(1, math.ceil(len(years) / MAX_YEAR_LABELS))
    for index, point in enumerate(points):
        first_of_year = point.month.month == 1 or index == 0
        if first_of_year and (point.month.year - years[0]) % every == 0:
            x = coordinate(PLOT_LEFT + index * slot)
            if x_labels and x - x_labels[-1][0] < MIN_LABEL_GAP:
                x_labels.pop()  # a December start would collide with the next January
            x_labels.append((x, str(point.month.year)))
    panels = []
    series = [
        (labels[0], "history-chart__line--lands", "live_lands"),
        (labels[1], "history-chart__line--authorities", "live_authorities"),
    ]
    for number, (title, css, attribute) in enumerate(series):
        top = number * PANEL_HEIGHT
        plot_top, plot_bottom = top + PLOT_TOP, top + PANEL_HEIGHT - PLOT_BOTTOM
        values = [getattr(p, attribute) for p in points]
        ceiling, step = nice_ceiling(max(values))

        def y(value: int, plot_top=plot_top, plot_bottom=plot_bottom, ceiling=ceiling) -> float:
            return coordinate(plot_bottom - (plot_bottom - plot_top) * value / ceiling)

        # A step line: flat through each month, a vertical step where the count changes.
        commands = [f"M{PLOT_LEFT},{y(values[0])}"]
        for index in range(1, count):
            if values[index] != values[index - 1]:
                commands.append(f"H{coordinate(PLOT_LEFT + index * slot)}")
                commands.append(f"V{y(values[index])}")
        commands.append(f"H{CHART_WIDTH - PLOT_RIGHT}")
        panels.append(
            Panel(
                title,
                css,
                top,
                plot_top,
                plot_bottom,
                [(y(v), v) for v in range(0, ceiling + 1, step)],
                " ".join(commands),
                x_labels,
                values[-1],
            )
        )
    return Chart(
        CHART_WIDTH, PANEL_HEIGHT * len(series), PLOT_LEFT, CHART_WIDTH - PLOT_RIGHT, panels
    )


def month_words(month: date) -> str:
    return format_date(month, "MMMM yyyy")


@bp.get("/dashboard/verlauf")
@policy(Permission.PUBLIC)
def history():
    listing = listing_arg()
    points = transparency.time_series(listing.id if listing else None)
    labels = series_labels(listing)
    return render_template(
        "transparency/history.html",
        listing=listing,
        listings=transparency.public_listings(),
        points=points,
        labels=labels,
        chart=history_chart(points, labels) if points else None,
        month_words=month_words,
    )
