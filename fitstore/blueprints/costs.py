"""Cost pages of a listing: the yearly cost plan (kept by the provider), the split of a
year with its Rechenweg, and the what-if simulator.

Views stay thin: the cost-sharing service checks who may see (NotFound for anyone
outside the listing's cost sharing) and who may edit, validates, audits and commits.
A successful POST redirects back to the plan with a message (Post/Redirect/Get); a
refused one shows the page again with the reason next to its field (422), or the
conflict on top (409, 412). The simulator is a GET form: it never writes anything.

The Rechenweg is prepared here from the engine's exact figures (``costs.Line``), so
the template only prints: key weight, x months/12, renormalised share, exact cents,
floor, left-over cents and who got one, final amount (domain.md, rules 2-4).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from fitstore import costs
from fitstore.blueprints._helpers import apply_errors
from fitstore.blueprints.listings import euro
from fitstore.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed
from fitstore.forms.costs import (
    DeleteItemForm,
    PlanItemForm,
    SimulationForm,
    month_names,
    simulation_form,
)
from fitstore.forms.listings import format_euro_input
from fitstore.models import CostKey, CostType, FundingModel
from fitstore.models.base import utcnow
from fitstore.permissions import Permission, can, policy
from fitstore.services import alliances, cost_sharing

bp = Blueprint("costs", __name__)


# --- number formats (exact figures, rounded only for display) ------------------------------


@bp.app_template_filter("cost_percent")
def cost_percent(value: Fraction | None) -> str:
    """A share (0..1) in percent with five decimals: "12,23303"."""
    if value is None:
        return "–"
    return format_decimal(costs.to_decimal(value * 100, 5), format="#,##0.00000")


@bp.app_template_filter("cost_exact")
def cost_exact(value: Fraction | None) -> str:
    """Exact cents with two decimals and no grouping: "14679636,06". Rounding never
    reaches the next whole cent (30,9996 shows as "30,99…", not "31,00"), so the floor
    and the remainder shown beside it always agree with it."""
    if value is None:
        return "–"
    shown = costs.to_decimal(value, 2)
    whole = math.floor(value)
    if shown >= whole + 1:
        return format_decimal(Decimal(whole) + Decimal("0.99"), format="0.00") + "…"
    return format_decimal(shown, format="0.00")


@bp.app_template_filter("cost_weight")
def cost_weight(value: Fraction | Decimal | int | None) -> str:
    """A key figure with up to five decimals: "3,03655", "2.521.893"."""
    if value is None:
        return "–"
    return format_decimal(costs.to_decimal(Fraction(value), 5), format="#,##0.#####")


@bp.app_template_filter("cent_count")
def cent_count(value: int) -> str:
    """A number of cents: "119.999.998"."""
    return format_decimal(value, format="#,##0")


@bp.app_template_filter("euro_diff")
def euro_diff(cents: int | None) -> str:
    """A difference in Euro with its sign: "+1.234,56 €", "−1.234,56 €", "±0,00 €"."""
    if cents is None:
        return "–"
    if cents == 0:
        return "±" + euro(0)
    return ("+" if cents > 0 else "−") + euro(abs(cents))


# --- shared helpers ---------------------------------------------------------------------------


def _check_year(year: int) -> None:
    # A year outside the service's range is no page at all (not a form error).
    if not cost_sharing.MIN_YEAR <= year <= cost_sharing.MAX_YEAR:
        raise NotFound()


def _years(listing_id: int, year: int) -> list[int]:
    """The years to switch between: those with a plan, this year and the one shown."""
    return sorted({*cost_sharing.plan_years(listing_id), utcnow().year, year}, reverse=True)


def _weight_label(key: str, year: int) -> str:
    return {
        CostKey.KOENIGSTEIN: _("Königsteiner Schlüssel %(year)d", year=year),
        CostKey.POPULATION: _("Einwohner %(year)d", year=year),
        CostKey.USAGE: _("Nutzungen %(year)d", year=year),
        CostKey.TARGET_GROUP: _("Zielgruppengewicht"),
        CostKey.EQUAL: _("Gleiche Teile"),
        CostKey.MIXED: _("Kombinierter Anteil in %"),
    }[CostKey(key)]


def _month_span(numbers: tuple[int, ...]) -> str:
    """Calendar months as runs: "Januar–Dezember", "Januar–März, Oktober"."""
    names = month_names()
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(
        names[run[0]] if len(run) == 1 else f"{names[run[0]]}–{names[run[-1]]}" for run in runs
    )


@dataclass(frozen=True)
class FixLink:
    """Where the problem of a split is fixed (a link, or a text without one)."""

    text: str
    url: str | None = None


def _fix_links(result: cost_sharing.ListingSplit) -> list[FixLink]:
    field, listing_id, year = result.problem_field or "", result.listing.id, result.year
    if field in ("plan", "total_cents"):
        url = url_for("costs.plan", listing_id=listing_id, year=year)
        return [FixLink(_("Zum Kostenplan %(year)d", year=year), url)]
    if field == "usage" or field == "key_data.usage":
        url = url_for("cost_data.usage", listing_id=listing_id, jahr=year)
        return [FixLink(_("Zu den Nutzungszahlen %(year)d", year=year), url)]
    if field == "key_data.target_group":
        field = "parameters"  # target-group weights are part of the alliance's decision
    if field == "year" or field.startswith("key_data"):
        if can(current_user, Permission.MANAGE_KEY_DATA):
            return [FixLink(_("Zu den Schlüsseldaten"), url_for("cost_data.key_data"))]
        return [FixLink(_("Schlüsseldaten laden die Administratorinnen und Administratoren hoch."))]
    if field in ("parameters", "key", "mix"):
        url = url_for("alliances.alliance", listing_id=listing_id, _anchor="kostenschluessel")
        return [FixLink(_("Zum Kostenschlüssel der Allianz"), url)]
    return []


def _type_totals(items) -> list[tuple[str, int]]:
    sums: dict[CostType, int] = defaultdict(int)
    for item in items:
        sums[item.cost_type] += item.amount_cents
    return [(cost_sharing.cost_type_label(t), sums[t]) for t in CostType if t in sums]


# --- the bar chart ----------------------------------------------------------------------------

CHART_WIDTH, CHART_LABEL, CHART_BAR, CHART_ROW = 720, 210, 340, 30


@dataclass(frozen=True)
class Bar:
    name: str
    amount: str
    kind: str
    y: int
    width: int

    @property
    def text_y(self) -> int:
        return self.y + 15

    @property
    def amount_x(self) -> int:
        return CHART_LABEL + self.width + 8


def _bars(rows: list[cost_sharing.PayerRow]) -> list[Bar]:
    """One bar per payer, as long as its amount relative to the largest (integer pixels)."""
    largest = max((row.cents for row in rows), default=0) or 1
    return [
        Bar(
            name=row.name,
            amount=euro(row.cents),
            kind="bund"
            if row.payer == costs.BUND
            else "participant"
            if row.participant
            else "land",
            y=index * CHART_ROW + 5,
            width=row.cents * CHART_BAR // largest,
        )
        for index, row in enumerate(rows)
    ]


def _chart(rows):
    bars = _bars(rows)
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": len(bars) * CHART_ROW + 10,
        "label_x": CHART_LABEL - 8,
        "bar_x": CHART_LABEL,
    }


# --- the Rechenweg ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """One component key of a mixed key for one payer: its figure, the payer's share of
    the participants' sum of that figure, and what that contributes to the combination."""

    label: str
    percent: Decimal
    value: Decimal | None
    share: Fraction

    @property
    def contribution(self) -> Fraction:
        return self.share * Fraction(self.percent) / 100


@dataclass(frozen=True)
class WayLine:
    line: costs.Line
    name: str
    components: tuple[Component, ...] = ()


@dataclass(frozen=True)
class WayPool:
    name: str
    label: str
    pool: costs.Pool
    lines: list[WayLine]
    weight_label: str
    #: the weight is a share in percent (mixed key)
    weight_is_share: bool
    pro_rata: bool

    @property
    def floor_sum(self) -> int:
        return sum(line.line.floor_cents for line in self.lines)

    @property
    def left_over(self) -> int:
        return self.pool.cents - self.floor_sum

    @property
    def winners(self) -> list[WayLine]:
        """The payers that got a left-over cent, largest remainder first (ties: AGS)."""
        won = [line for line in self.lines if line.line.extra_cent]
        return sorted(won, key=lambda line: (-line.line.remainder, line.line.payer))


def _component_shares(result, payers: list[str]) -> dict[str, tuple[Component, ...]]:
    """For a mixed key: per payer, each component's figure and renormalised share."""
    parts: dict[str, list[Component]] = {payer: [] for payer in payers}
    for name, percent in sorted(result.mix.items()):
        if percent <= 0:
            continue
        if name == CostKey.EQUAL:
            values = dict.fromkeys(payers, Decimal(1))
        else:
            data = result.key_data.get(name, {})
            values = {payer: Decimal(data.get(payer, 0)) for payer in payers}
        total = sum(values.values(), Decimal(0))
        for payer in payers:
            share = Fraction(values[payer]) / Fraction(total) if total else Fraction(0)
            parts[payer].append(
                Component(
                    label=alliances.cost_key_label(name),
                    percent=Decimal(percent),
                    value=None if name == CostKey.EQUAL else values[payer],
                    share=share,
                )
            )
    return {payer: tuple(components) for payer, components in parts.items()}


def _rechenweg(result: cost_sharing.ListingSplit) -> list[WayPool]:
    if result.split is None:
        return []
    pools = []
    for pool in result.split.pools:
        payers = [line.payer for line in pool.lines]
        components = (
            _component_shares(result, payers)
            if pool.name == "participants" and result.key == CostKey.MIXED
            else {}
        )
        if pool.name == "participants":
            weight_label = _weight_label(result.key, result.year)
            weight_is_share, pro_rata = result.key == CostKey.MIXED, True
        elif pool.name == "laender":
            weight_label = _weight_label(CostKey.KOENIGSTEIN, result.year)
            weight_is_share, pro_rata = False, False
        else:
            weight_label, weight_is_share, pro_rata = _("Anteil"), False, False
        pools.append(
            WayPool(
                name=pool.name,
                label=cost_sharing.pool_label(pool.name),
                pool=pool,
                lines=[
                    WayLine(
                        line, cost_sharing.payer_name(line.payer), components.get(line.payer, ())
                    )
                    for line in pool.lines
                ],
                weight_label=weight_label,
                weight_is_share=weight_is_share,
                pro_rata=pro_rata,
            )
        )
    return pools


# --- the split of a year ----------------------------------------------------------------------


@bp.get("/leistungen/<int:listing_id>/kosten")
@policy(Permission.VIEW_COST_SPLIT)
def overview(listing_id: int):
    year = utcnow().year
    cost_sharing.get_plan(current_user, listing_id, year)  # NotFound for outsiders
    # The current year when it has a plan, else the newest past one, else the newest.
    years = cost_sharing.plan_years(listing_id)
    shown = next((y for y in years if y <= year), years[0]) if years else year
    return redirect(url_for("costs.split", listing_id=listing_id, year=shown))


def _split_context(result: cost_sharing.ListingSplit) -> dict:
    rows = result.rows()
    return {
        "result": result,
        "listing": result.listing,
        "rows": rows,
        "chart": _chart(rows) if rows else None,
        "way": _rechenweg(result),
        "fix_links": _fix_links(result) if result.problem else [],
        "weight_label": _weight_label(result.key, result.year),
        "cost_key_label": alliances.cost_key_label,
        "funding_model_label": alliances.funding_model_label,
        "payer_name": cost_sharing.payer_name,
        "CostKey": CostKey,
        "FundingModel": FundingModel,
    }


@bp.get("/leistungen/<int:listing_id>/kosten/<int:year>")
@policy(Permission.VIEW_COST_SPLIT)
def split(listing_id: int, year: int):
    _check_year(year)
    result = cost_sharing.listing_split(current_user, listing_id, year)
    return render_template(
        "costs/split.html",
        **_split_context(result),
        years=_years(listing_id, year),
        type_totals=_type_totals(result.items),
        month_span=_month_span,
        may_edit_plan=can(current_user, Permission.MANAGE_COST_PLAN, result.listing),
        contract_lands=cost_sharing.contract_lands(current_user, result.listing),
    )


# --- the cost plan ----------------------------------------------------------------------------


def _render_plan(
    listing_id: int,
    year: int,
    *,
    form: PlanItemForm | None = None,
    form_errors=(),
    status: int = 200,
):
    plan = cost_sharing.get_plan(current_user, listing_id, year)
    return render_template(
        "costs/plan.html",
        plan=plan,
        listing=plan.listing,
        form=form or PlanItemForm(formdata=None),
        form_errors=list(form_errors),
        years=_years(listing_id, year),
        type_totals=_type_totals(plan.items),
        cost_type_label=cost_sharing.cost_type_label,
    ), status


def _editable_plan(listing_id: int, year: int) -> cost_sharing.CostPlan:
    """The plan, if the caller may edit it: NotFound for outsiders, Forbidden for the
    other Länder of the cost sharing, before any input is looked at."""
    _check_year(year)
    plan = cost_sharing.get_plan(current_user, listing_id, year)
    if not plan.may_edit:
        raise Forbidden()
    return plan


def _plan_item(plan: cost_sharing.CostPlan, item_id: int):
    item = next((item for item in plan.items if item.id == item_id), None)
    if item is None:
        raise NotFound()
    return item


def _item_errors(form: PlanItemForm, error: Invalid) -> list[str]:
    for service_name, form_name in form.SERVICE_FIELDS.items():
        if service_name in error.errors:
            error.errors.setdefault(form_name, []).extend(error.errors.pop(service_name))
    return apply_errors(form, error)


def _item_saved_text(cost_type: str, cents: int) -> dict:
    return {"type": cost_sharing.cost_type_label(cost_type), "amount": euro(cents)}


@bp.get("/leistungen/<int:listing_id>/kosten/<int:year>/plan")
@policy(Permission.VIEW_COST_SPLIT)
def plan(listing_id: int, year: int):
    _check_year(year)
    return _render_plan(listing_id, year)


@bp.post("/leistungen/<int:listing_id>/kosten/<int:year>/plan")
@policy(Permission.MANAGE_COST_PLAN)
def add_item(listing_id: int, year: int):
    _editable_plan(listing_id, year)
    form = PlanItemForm()
    if not form.validate_on_submit():
        return _render_plan(listing_id, year, form=form, status=422)
    try:
        item = cost_sharing.add_plan_item(
            current_user,
            listing_id,
            year,
            form.cost_type.data,
            form.amount.cents,
            form.description.data or "",
        )
    except Invalid as error:
        unplaced = _item_errors(form, error)
        return _render_plan(listing_id, year, form=form, form_errors=unplaced, status=422)
    flash(
        _(
            "Die Position „%(type)s“ über %(amount)s ist im Kostenplan %(year)d.",
            year=year,
            **_item_saved_text(item.cost_type, item.amount_cents),
        ),
        "success",
    )
    return redirect(url_for("costs.plan", listing_id=listing_id, year=year))


def _render_item(plan, item, form: PlanItemForm, *, form_errors=(), status: int = 200):
    return render_template(
        "costs/item.html",
        plan=plan,
        listing=plan.listing,
        item=item,
        form=form,
        form_errors=list(form_errors),
        cost_type_label=cost_sharing.cost_type_label,
        # After a refused change: the stored values the user now decides against.
        show_current=status in (409, 412),
    ), status


@bp.get("/leistungen/<int:listing_id>/kosten/<int:year>/plan/<int:item_id>")
@policy(Permission.MANAGE_COST_PLAN)
def edit_item(listing_id: int, year: int, item_id: int):
    plan = _editable_plan(listing_id, year)
    item = _plan_item(plan, item_id)
    form = PlanItemForm(formdata=None)
    form.cost_type.data = item.cost_type.value
    form.description.data = item.description
    form.amount.data = format_euro_input(item.amount_cents)
    form.lock_version.data = str(item.lock_version)
    return _render_item(plan, item, form)


@bp.post("/leistungen/<int:listing_id>/kosten/<int:year>/plan/<int:item_id>")
@policy(Permission.MANAGE_COST_PLAN)
def update_item(listing_id: int, year: int, item_id: int):
    plan = _editable_plan(listing_id, year)
    item = _plan_item(plan, item_id)
    form = PlanItemForm()
    if not form.validate_on_submit():
        return _render_item(plan, item, form, status=422)
    version = form.version()
    try:
        cost_sharing.update_plan_item(
            current_user,
            listing_id,
            item_id,
            form.cost_type.data,
            form.amount.cents,
            form.description.data or "",
            # A form without a readable version is treated as stale, never as "no check".
            version=version if version is not None else 0,
        )
    except Invalid as error:
        unplaced = _item_errors(form, error)
        return _render_item(plan, item, form, form_errors=unplaced, status=422)
    except (PreconditionFailed, Conflict) as error:
        plan = cost_sharing.get_plan(current_user, listing_id, year)
        current = next((i for i in plan.items if i.id == item_id), None)
        if current is None:  # deleted meanwhile: nothing left to change
            return _render_plan(listing_id, year, form_errors=[error.detail], status=error.status)
        # Keep what the user typed; the next save applies it to the version now shown.
        form.lock_version.data = str(current.lock_version)
        return _render_item(plan, current, form, form_errors=[error.detail], status=error.status)
    flash(
        _(
            "Die Position ist geändert: „%(type)s“ über %(amount)s.",
            **_item_saved_text(form.cost_type.data, form.amount.cents),
        ),
        "success",
    )
    return redirect(url_for("costs.plan", listing_id=listing_id, year=year))


@bp.post("/leistungen/<int:listing_id>/kosten/<int:year>/plan/<int:item_id>/loeschen")
@policy(Permission.MANAGE_COST_PLAN)
def delete_item(listing_id: int, year: int, item_id: int):
    plan = _editable_plan(listing_id, year)
    item = _plan_item(plan, item_id)
    form = DeleteItemForm()
    if not form.validate_on_submit():
        expired = _("Das Formular ist abgelaufen. Bitte senden Sie es erneut.")
        return _render_plan(listing_id, year, form_errors=[expired], status=422)
    saved = _item_saved_text(item.cost_type, item.amount_cents)
    version = form.version()
    try:
        cost_sharing.delete_plan_item(
            current_user, listing_id, item_id, version=version if version is not None else 0
        )
    except (PreconditionFailed, Conflict) as error:
        return _render_plan(listing_id, year, form_errors=[error.detail], status=error.status)
    flash(_("Die Position „%(type)s“ über %(amount)s ist gelöscht.", **saved), "success")
    return redirect(url_for("costs.plan", listing_id=listing_id, year=year))


# --- the simulator ----------------------------------------------------------------------------


def _comparison_rows(
    simulated: cost_sharing.ListingSplit, actual: cost_sharing.ListingSplit
) -> list[cost_sharing.PayerRow]:
    """The simulated payers, then those who pay today but not in the simulation (0 €)."""
    rows = simulated.rows()
    shown = {row.payer for row in rows}
    gone = [row for row in actual.rows() if row.payer not in shown]
    return rows + [
        cost_sharing.PayerRow(row.payer, row.name, False, None, None, None, 0, 0, 0, 0)
        for row in gone
    ]


def _simulation_errors(form: SimulationForm, error: Invalid) -> list[str]:
    """Service errors onto the simulator's fields; mix percentages go to their group."""
    unplaced = []
    for name, messages in error.errors.items():
        target = form.SERVICE_FIELDS.get(name, name)
        if target == "shares" and form.key.data != CostKey.MIXED:
            target = "key"  # e.g. target-group weights the alliance never gave
        if target == "shares":
            form.share_errors.extend(messages)
        elif target in ("land", "key", "funding_model", "total"):
            field = getattr(form, target)
            field.errors = [*field.errors, *messages]
        else:
            unplaced.extend(messages)
    if error.detail:
        unplaced.append(error.detail)
    return unplaced


def _simulation(listing_id: int, year: int) -> tuple[dict, int]:
    """Everything the simulator page and its result fragment show, and the status."""
    _check_year(year)
    actual = cost_sharing.listing_split(current_user, listing_id, year)
    submitted = "key" in request.args
    form = simulation_form(request.args if submitted else None)
    unplaced: list[str] = []
    simulated = None
    status = 200
    if not submitted:
        form.fill(
            actual.participants,
            actual.key,
            actual.funding_model,
            actual.cost_key.parameters,
            format_euro_input(actual.total_cents) if actual.has_plan else "",
        )
        simulated = cost_sharing.simulate(current_user, listing_id, year)
    elif form.validate():
        try:
            simulated = cost_sharing.simulate(
                current_user,
                listing_id,
                year,
                participants=form.participants(),
                key=form.key.data,
                funding_model=form.funding_model.data,
                parameters=form.parameters(),
                total_cents=form.total.cents,
            )
        except Invalid as error:
            unplaced = _simulation_errors(form, error)
            status = 422
    else:
        status = 422
    context = {
        "actual": actual,
        "simulated": simulated,
        "listing": actual.listing,
        "year": year,
        "form": form,
        "form_errors": unplaced,
        "error_fields": _error_fields(form),
        "rows": _comparison_rows(simulated, actual) if simulated and simulated.split else [],
        # What each payer pays today; None when today's split cannot be computed.
        "compare": dict(actual.split.cents) if actual.split else None,
        "fix_links": _fix_links(simulated) if simulated and simulated.problem else [],
        "weight_label": _weight_label(simulated.key, year) if simulated else "",
        "cost_key_label": alliances.cost_key_label,
        "funding_model_label": alliances.funding_model_label,
        "CostKey": CostKey,
        "FundingModel": FundingModel,
    }
    return context, status


def _error_fields(form: SimulationForm) -> list[tuple[str, str, list[str]]]:
    """(anchor id, label, messages) of every field with an error, in form order."""
    fields = [(form.land.id, form.land.label.text, list(form.land.errors))]
    fields += [(start.id, start.label.text, list(start.errors)) for _a, _n, start in form.laender()]
    fields += [(form.key.id, form.key.label.text, list(form.key.errors))]
    fields += [
        (form.funding_model.id, form.funding_model.label.text, list(form.funding_model.errors))
    ]
    fields += [("shares", _("Anteile des Mischschlüssels"), form.share_errors)]
    fields += [(form.total.id, form.total.label.text, list(form.total.errors))]
    return [(anchor, str(label), messages) for anchor, label, messages in fields if messages]


@bp.get("/leistungen/<int:listing_id>/kosten/<int:year>/simulation")
@policy(Permission.VIEW_COST_SPLIT)
def simulation(listing_id: int, year: int):
    context, status = _simulation(listing_id, year)
    return render_template("costs/simulation.html", **context, fragment=False), status


@bp.get("/leistungen/<int:listing_id>/kosten/<int:year>/simulation/ergebnis")
@policy(Permission.VIEW_COST_SPLIT)
def simulation_result(listing_id: int, year: int):
    """Only the result region of the simulator, for ``static/js/cost-simulation.js``."""
    context, status = _simulation(listing_id, year)
    return render_template("costs/_simulation_result.html", **context, fragment=True), status
