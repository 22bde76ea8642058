"""Forms of the reuse and contract pages: interest, conditions, stage steps, the onboarding
checklist, the contract check and the countersignature.

Field rules only: the reuses service validates dates, ranges and the stage machine, and
its messages are attached to these fields by name. Dates are text fields shown as
``<input type="date">`` (ISO values), so the service's German messages apply to them too.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import ValidationError
from wtforms.widgets import DateInput

from fitstore.forms.listings import EuroAmountField, format_euro_input
from fitstore.models import ConditionModel
from fitstore.services.reuses import CONDITION_MODEL_LABELS, ELIGIBILITY_LABELS

MAX_USAGE = 2**31 - 1
_THOUSANDS = re.compile(r"[0-9]{1,3}(\.[0-9]{3})+")


def _version(field) -> int | None:
    value = (field.data or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 12 else None


class VersionedForm(FlaskForm):
    """A form that carries the version of the object the user saw (optimistic locking)."""

    version = HiddenField()

    def expected_version(self) -> int | None:
        return _version(self.version)


# --- the list's filters ---------------------------------------------------------------


class ReuseFilterForm(FlaskForm):
    """The filters of the reuse list (GET, no CSRF token: it changes nothing)."""

    class Meta:
        csrf = False

    stage = SelectField(_l("Stufe"), choices=[], validate_choice=False)
    land = SelectField(_l("Nachnutzendes Land"), choices=[], validate_choice=False)
    side = SelectField(_l("Meine Rolle"), choices=[], validate_choice=False)

    def clean(self, name: str) -> str | None:
        """The submitted value if it is one of the field's choices, else None (and an error)."""
        field = getattr(self, name)
        value = field.data or ""
        if not value:
            return None
        if value not in {str(choice) for choice, _label in field.choices}:
            field.errors = [_l("Unbekannter Wert; der Filter wird nicht angewendet.")]
            return None
        return value


# --- interest ---------------------------------------------------------------------------


class InterestForm(FlaskForm):
    planned_start = StringField(
        _l("Geplanter Start"),
        widget=DateInput(),
        description=_l("Wann Ihr Land die Leistung einführen möchte (optional)."),
    )
    expected_usage = StringField(
        _l("Erwartete Fälle pro Jahr"),
        description=_l("Eine ganze Zahl, z. B. 12000 (optional)."),
        render_kw={"inputmode": "numeric"},
    )
    note = TextAreaField(_l("Anmerkung"), description=_l("Höchstens 2000 Zeichen."))

    usage: int | None = None

    def validate_planned_start(self, field) -> None:
        # The same rule and message as the service, so every mistake shows at once.
        value = (field.data or "").strip()
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValidationError(
                    _l("Bitte geben Sie ein gültiges Datum an (JJJJ-MM-TT).")
                ) from None

    def validate_expected_usage(self, field) -> None:
        self.usage = None
        raw = (field.data or "").replace(" ", "").replace("\u00a0", "").strip()
        if not raw:
            return
        # Plain digits, or German thousands groups ("12.000").
        if _THOUSANDS.fullmatch(raw):
            raw = raw.replace(".", "")
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) > MAX_USAGE:
            raise ValidationError(
                _l("Bitte geben Sie die erwarteten Fälle pro Jahr als ganze Zahl ab 0 an.")
            )
        self.usage = int(raw)

    def data_for_service(self) -> dict[str, Any]:
        return {
            "planned_start": (self.planned_start.data or "").strip() or None,
            "expected_usage": self.usage,
            "note": self.note.data or "",
        }


# --- conditions -------------------------------------------------------------------------


class ConditionsForm(VersionedForm):
    condition_model = RadioField(_l("Entgeltmodell"), choices=[], validate_choice=False)
    annual_fee = EuroAmountField(
        _l("Jahresentgelt in Euro"),
        description=_l("Nur beim Jahresentgelt, z. B. 50.000,00."),
    )
    share_rule = TextAreaField(
        _l("Anteilsregel"),
        description=_l(
            "Nur beim Anteil nach Kostenschlüssel, z. B. „Anteil nach dem Kostenschlüssel"
            " der Nachnutzungsallianz“."
        ),
    )
    connection_cost = EuroAmountField(
        _l("Einmalige Anbindungskosten in Euro"),
        description=_l("Trägt das nachnutzende Land allein, z. B. 25.000,00; 0 wenn keine."),
    )
    scope = TextAreaField(
        _l("Leistungsumfang"),
        description=_l(
            "Was der Bereitsteller liefert: Betrieb, Support, Updates (3 bis 5000 Zeichen)."
        ),
    )
    conditions_start = StringField(
        _l("Geplanter Beginn"),
        widget=DateInput(),
        description=_l("Ab wann die Bedingungen gelten."),
    )

    # Where the service names a field differently from this form.
    SERVICE_FIELDS = {
        "annual_fee_cents": "annual_fee",
        "connection_cost_cents": "connection_cost",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.condition_model.choices = [
            (model.value, label) for model, label in CONDITION_MODEL_LABELS.items()
        ]

    def fill(self, conditions: dict[str, Any]) -> None:
        """Show the reuse's current conditions (``reuses.conditions_of``)."""
        self.condition_model.data = conditions.get("condition_model") or ""
        self.annual_fee.data = format_euro_input(conditions.get("annual_fee_cents"))
        self.share_rule.data = conditions.get("share_rule") or ""
        self.connection_cost.data = format_euro_input(conditions.get("connection_cost_cents"))
        self.scope.data = conditions.get("scope") or ""
        self.conditions_start.data = conditions.get("conditions_start") or ""

    def data_for_service(self) -> dict[str, Any]:
        model = self.condition_model.data or None
        return {
            "condition_model": model,
            # An amount typed for the other model is not part of the proposal.
            "annual_fee_cents": (
                self.annual_fee.cents if model == ConditionModel.ANNUAL_FEE.value else None
            ),
            "share_rule": (self.share_rule.data or "")
            if model == ConditionModel.SHARE_RULE.value
            else "",
            "connection_cost_cents": self.connection_cost.cents,
            "scope": self.scope.data or "",
            "conditions_start": (self.conditions_start.data or "").strip() or None,
        }


# --- stage steps and the checklist --------------------------------------------------------


class TransitionForm(VersionedForm):
    action = HiddenField()
    comment = TextAreaField(_l("Kommentar"))


class OnboardingForm(FlaskForm):
    done = BooleanField(_l("Erledigt"))
    done_on = StringField(_l("Erledigt am"), widget=DateInput())
    note = StringField(_l("Notiz"))


# --- the contract (four eyes) ----------------------------------------------------------------


class CheckForm(VersionedForm):
    eligibility_basis = RadioField(
        _l("Inhouse-Fähigkeit des nachnutzenden Landes"),
        choices=[],
        validate_choice=False,
        description=_l("Worauf die Inhouse-Vergabe über die FITKO beruht."),
    )
    legal_basis = StringField(_l("Rechtsgrundlage"), description=_l("3 bis 200 Zeichen."))
    remarks = TextAreaField(_l("Bemerkungen zur Prüfung"), description=_l("Optional."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.eligibility_basis.choices = [
            (basis.value, label) for basis, label in ELIGIBILITY_LABELS.items()
        ]

    def data_for_service(self) -> dict[str, Any]:
        return {
            "eligibility_basis": self.eligibility_basis.data or None,
            "legal_basis": self.legal_basis.data or "",
            "remarks": self.remarks.data or "",
        }


class CountersignForm(VersionedForm):
    effective_date = StringField(
        _l("Wirksam ab"),
        widget=DateInput(),
        description=_l("Frühestens am Tag der Bestellung."),
    )
