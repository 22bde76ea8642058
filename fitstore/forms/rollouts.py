"""Forms of the rollout page (Einführung bei Behörden): bulk status moves and adding
authorities. Field rules only: the reuses service checks keys, steps and dates and its
German messages land on these fields by name."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice

from fitstore.models import RolloutStatus

BULK_TARGETS = [
    SelectChoice(RolloutStatus.CONNECTING.value, _l("in Anbindung")),
    SelectChoice(RolloutStatus.LIVE.value, _l("live")),
]


class _Codes(SelectMultipleField):
    """Authority keys as checkboxes or hidden fields the page renders itself; the service
    judges the keys (unknown, foreign or malformed ones get its message)."""

    def __init__(self, label=None, **kwargs):
        super().__init__(label, choices=[], validate_choice=False, **kwargs)


class _Date(StringField):
    """An ``<input type="date">`` (ISO date); the service parses it and says what is wrong."""

    def __init__(self, label=None, **kwargs):
        kwargs.setdefault("render_kw", {"type": "date"})
        super().__init__(label, **kwargs)


class RolloutUpdateForm(FlaskForm):
    """Move the checked rows (``scope=selected``) or every row of the page shown
    (``scope=page``, the page's keys in ``page_codes``) one step on."""

    codes = _Codes(_l("Ausgewählte Behörden"))
    page_codes = _Codes(_l("Behörden dieser Seite"))
    status = RadioField(_l("Neuer Status"), choices=BULK_TARGETS, validate_choice=False)
    date = _Date(_l("Datum des Schritts"))
    scope = HiddenField()

    def selected_codes(self) -> list[str]:
        chosen = self.page_codes.data if self.scope.data == "page" else self.codes.data
        return list(chosen or [])


class AddAuthoritiesForm(FlaskForm):
    """Add the authorities ticked in the search results."""

    codes = _Codes(_l("Gefundene Behörden"))
    planned_on = _Date(_l("Geplant seit"))


class AddKreisForm(FlaskForm):
    """Add a whole Kreis: the Kreis itself and all its Gemeinden."""

    kreis = SelectField(_l("Kreis oder kreisfreie Stadt"), choices=[], validate_choice=False)
    planned_on = _Date(_l("Geplant seit"))
