"""Forms of the cost pages: a line item of the cost plan, and the what-if simulator.

Field rules only. The cost-sharing service validates cost types, amounts, keys,
funding models and mix percentages, and its messages are attached to these fields by
name, so choice fields here do not second-guess it (``validate_choice=False``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from babel.dates import get_month_names
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Form, HiddenField, SelectField, SelectMultipleField, StringField
from wtforms.validators import ValidationError

from fitstore import costs
from fitstore.forms.listings import EuroAmountField
from fitstore.models import CostKey, CostType, FundingModel
from fitstore.services.alliances import cost_key_label, funding_model_label
from fitstore.services.cost_sharing import cost_type_label

SHARE_PREFIX = "share_"
START_PREFIX = "ab_"
# The keys a mixed key combines: every key but "mixed" itself and "target_group", whose
# per-Land weights a mixed key has no room for (the alliance service refuses it too).
MIXABLE_KEYS = tuple(key for key in CostKey if key not in (CostKey.MIXED, CostKey.TARGET_GROUP))


def month_names() -> dict[int, str]:
    """January..December in the page's language (1-12)."""
    return dict(get_month_names("wide", locale=get_locale() or "de"))


# --- the cost plan ---------------------------------------------------------------------


class PlanItemForm(FlaskForm):
    cost_type = SelectField(_l("Kostenart"), choices=[], validate_choice=False)
    description = StringField(
        _l("Beschreibung"),
        description=_l("z. B. Rechenzentrum, Pflege der Formulare; höchstens 200 Zeichen."),
        render_kw={"maxlength": 200, "autocomplete": "off"},
    )
    amount = EuroAmountField(
        _l("Betrag in Euro"),
        description=_l("Der Betrag für das ganze Jahr, z. B. 800.000,00."),
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    lock_version = HiddenField()

    # Where the service names a field differently from this form.
    SERVICE_FIELDS = {"amount_cents": "amount"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cost_type.choices = [(t.value, cost_type_label(t)) for t in CostType]

    def validate_amount(self, field) -> None:
        # Runs after EuroAmountField.pre_validate; an empty field has no cents.
        if field.cents is None and not field.errors:
            raise ValidationError(_("Bitte geben Sie den Betrag in Euro an, z. B. 800.000,00."))

    def version(self) -> int | None:
        return _version(self.lock_version.data)


class DeleteItemForm(FlaskForm):
    """The delete button of a line item: the CSRF token and the version the user saw."""

    lock_version = HiddenField()

    def version(self) -> int | None:
        return _version(self.lock_version.data)


def _version(text: str | None) -> int | None:
    value = (text or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


# --- the simulator ---------------------------------------------------------------------


class SimulationForm(Form):
    """The what-if simulator: a GET form (plain ``wtforms.Form``: nothing is saved, so
    there is no CSRF token). ``land`` lists the participating Länder by AGS; each Land
    has its start month ``ab_<ags>`` (1-12; months = 13 - start)."""

    land = SelectMultipleField(_l("Teilnehmende Länder"), choices=[], validate_choice=False)
    key = SelectField(
        _l("Kostenschlüssel"),
        description=_l(
            "Der Zielgruppenschlüssel rechnet mit den Gewichten aus dem Beschluss der Allianz,"
            " der Mischschlüssel mit den Anteilen unten."
        ),
        choices=[],
        validate_choice=False,
    )
    funding_model = SelectField(_l("Finanzierungsmodell"), choices=[], validate_choice=False)
    total = EuroAmountField(
        _l("Gesamtbetrag in Euro"),
        description=_l("Leer lassen für die Summe des Kostenplans."),
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )

    # Where the service names a field differently from this form.
    SERVICE_FIELDS = {"total_cents": "total", "participants": "land", "parameters": "shares"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.land.choices = list(costs.LAENDER.items())
        self.key.choices = [(key.value, cost_key_label(key)) for key in CostKey]
        self.funding_model.choices = [
            (model.value, funding_model_label(model)) for model in FundingModel
        ]
        months = month_names()
        for ags, name in costs.LAENDER.items():
            start = self.start(ags)
            start.choices = [(str(number), label) for number, label in months.items()]
            start.label.text = name
        for key in MIXABLE_KEYS:
            self.share(key).label.text = cost_key_label(key)
        #: errors that concern the percentages of a mixed key as a whole
        self.share_errors: list[str] = []

    def start(self, ags: str) -> SelectField:
        return getattr(self, START_PREFIX + ags)

    def share(self, key: CostKey | str):
        return getattr(self, SHARE_PREFIX + CostKey(key).value)

    def shares(self) -> list:
        return [self.share(key) for key in MIXABLE_KEYS]

    def laender(self) -> list[tuple[str, str, SelectField]]:
        """(AGS, name, start-month field) of the 16 Länder."""
        return [(ags, name, self.start(ags)) for ags, name in costs.LAENDER.items()]

    def fill(self, participants, key: str, funding_model: str, parameters, total: str) -> None:
        """Show the real situation: a participant with ``months`` starts in month
        ``13 - months``, everyone else is unchecked and starts in January."""
        taking_part = {p.land_ags: p.months for p in participants if p.months}
        self.land.data = sorted(taking_part)
        for ags in costs.LAENDER:
            self.start(ags).data = str(13 - taking_part.get(ags, 12))
        self.key.data = key
        self.funding_model.data = funding_model
        if key == CostKey.MIXED:
            for name, value in parameters.items():
                if name in {k.value for k in MIXABLE_KEYS}:
                    self.share(name).data = _plain(value)
        self.total.data = total

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        checked = set(self.land.data or [])
        for ags, _name, start in self.laender():
            # Only the start of a participating Land counts; the others are ignored.
            if ags in checked and start.data not in {str(number) for number in range(1, 13)}:
                start.errors = [
                    *start.errors,
                    # The summary puts the field's label (the Land) before it.
                    _("Bitte einen Monat von Januar bis Dezember wählen."),
                ]
                valid = False
        unknown = [code for code in self.land.data or [] if code not in costs.LAENDER]
        if unknown:
            self.land.errors = [
                *self.land.errors,
                _("Bitte wählen Sie die Länder aus der Liste."),
            ]
            valid = False
        elif not self.land.data:
            self.land.errors = [
                *self.land.errors,
                _("Bitte wählen Sie mindestens ein teilnehmendes Land."),
            ]
            valid = False
        return valid

    def participants(self) -> list[dict[str, Any]]:
        """The participants as ``cost_sharing.simulate`` takes them (after ``validate``)."""
        return [
            {"land": ags, "months": 13 - int(self.start(ags).data)}
            for ags in sorted(set(self.land.data or []))
        ]

    def parameters(self) -> dict[str, str] | None:
        """The percentages of a mixed key (blank fields left out); ``None`` for any other
        key, so the service keeps the parameters of the real key (target-group weights)."""
        if self.key.data != CostKey.MIXED.value:
            return None
        return {
            key.value: self.share(key).data.strip()
            for key in MIXABLE_KEYS
            if (self.share(key).data or "").strip()
        }


def _plain(value) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@lru_cache(maxsize=1)
def _simulation_form_class() -> type[SimulationForm]:
    fields: dict[str, Any] = {
        START_PREFIX + ags: SelectField(ags, choices=[], validate_choice=False)
        for ags in costs.LAENDER
    }
    fields.update(
        {
            SHARE_PREFIX + key.value: StringField(
                key.value, render_kw={"inputmode": "decimal", "autocomplete": "off"}
            )
            for key in MIXABLE_KEYS
        }
    )
    return type("CostSimulationForm", (SimulationForm,), fields)


def simulation_form(formdata=None, **kwargs) -> SimulationForm:
    return _simulation_form_class()(formdata=formdata, **kwargs)
