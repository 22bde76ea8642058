"""Forms of the listing pages: the listing itself, documents, review decisions.

Field rules only. The listings service validates the content (codes,
Themenfeld, Reifegrad, lengths) and its messages are attached to these
fields by name, so choice fields here do not second-guess it
(``validate_choice=False``): an unknown Themenfeld gets the service's German
message on the field, not WTForms' generic one.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from typing import Any

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import ValidationError

from fitstore.models import Transport, UserAccount

# OZG maturity levels as the OZG-Reifegradmodell describes them.
REIFEGRAD_LABELS = {
    0: _l("0 – offline: Information und Antrag nur auf Papier oder vor Ort"),
    1: _l("1 – Information online"),
    2: _l("2 – Formular online, Einreichung noch nicht digital"),
    3: _l("3 – vollständig online mit Nutzerkonto und digitalem Bescheid (OZG-konform)"),
    4: _l("4 – Once-Only: Nachweise kommen direkt von den Behörden"),
}
REIFEGRAD_SHORT = {
    0: _l("0 – offline"),
    1: _l("1 – Information online"),
    2: _l("2 – Formular online"),
    3: _l("3 – vollständig online"),
    4: _l("4 – Once-Only"),
}
USER_ACCOUNT_LABELS = {
    UserAccount.NONE: _l("Kein Nutzerkonto nötig"),
    UserAccount.SERVICEKONTO: _l("Servicekonto eines Landes"),
    UserAccount.BUNDID: _l("BundID"),
    UserAccount.BOTH: _l("Servicekonto eines Landes oder BundID"),
}
TRANSPORT_LABELS = {
    Transport.FIT_CONNECT: "FIT-Connect",
    Transport.OSCI_DVDV: "OSCI/DVDV",
}
CHECK_PREFIX = "check_"

# --- euro amounts ------------------------------------------------------------------------

_AMOUNT_CHARS = re.compile(r"[0-9.,]+")
MAX_EURO_DIGITS = 16  # well below BIGINT cents; larger sums are typing mistakes


def parse_euro(text: str | None) -> int | None:
    """Euro amount as typed → integer cents (None when empty); ValueError with a German message.

    German form "1.200.000,00", plain "1200000.50", or English "1,200,000.50":
    where both separators occur the last one is the decimal separator; a lone
    comma is decimal; dots in groups of three ("1.200") separate thousands.
    """
    raw = (text or "").replace("\u00a0", "").replace(" ", "").strip()
    raw = raw.removesuffix("€").removesuffix("EUR").strip()
    if not raw:
        return None
    if raw.startswith("-"):
        raise ValueError(_l("Der Betrag darf nicht negativ sein."))
    invalid = _l("Bitte geben Sie einen Betrag in Euro an, z. B. 1.200.000,00.")
    if not _AMOUNT_CHARS.fullmatch(raw):
        raise ValueError(invalid)
    if "," in raw and "." in raw:
        decimal_sep = "," if raw.rfind(",") > raw.rfind(".") else "."
    elif "," in raw:
        decimal_sep = ","
    elif raw.count(".") > 1 or re.fullmatch(r"[0-9]{1,3}(\.[0-9]{3})+", raw):
        decimal_sep = ","  # only thousands separators
    else:
        decimal_sep = "."
    thousands_sep = "." if decimal_sep == "," else ","
    integer, _sep, fraction = raw.partition(decimal_sep)
    if decimal_sep in fraction or thousands_sep in fraction or not integer:
        raise ValueError(invalid)
    if thousands_sep in integer:
        if not re.fullmatch(rf"[0-9]{{1,3}}(\{thousands_sep}[0-9]{{3}})+", integer):
            raise ValueError(invalid)
        integer = integer.replace(thousands_sep, "")
    if not integer.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError(invalid)
    if len(fraction) > 2:
        raise ValueError(_l("Bitte höchstens zwei Nachkommastellen (Cent) angeben."))
    if len(integer.lstrip("0")) > MAX_EURO_DIGITS:
        raise ValueError(_l("Der Betrag ist zu groß."))
    return int(Decimal(f"{integer}.{fraction or '0'}") * 100)


def format_euro_input(cents: int | None) -> str:
    """Cents → the value shown in an amount field, in the page's language ("1.200.000,00")."""
    if cents is None:
        return ""
    return format_decimal(Decimal(cents) / 100, format="#,##0.00")


class EuroAmountField(StringField):
    """A euro amount in a text field; after validation ``cents`` holds the integer value."""

    cents: int | None = None

    def pre_validate(self, form) -> None:
        self.cents = None
        try:
            self.cents = parse_euro(self.data)
        except ValueError as error:
            raise ValidationError(str(error.args[0])) from None


# --- the listing form ----------------------------------------------------------------------


class ListingForm(FlaskForm):
    title = StringField(
        _l("Titel"), description=_l("Wie Bürgerinnen und Bürger die Leistung kennen.")
    )
    ozg_name = StringField(_l("OZG-Leistung"), description=_l("Name im OZG-Umsetzungskatalog."))
    ozg_id = StringField(_l("OZG-ID"), description=_l("Nur Ziffern, z. B. 10255."))
    leika_keys = TextAreaField(
        _l("Leistungsschlüssel (LeiKa)"),
        description=_l(
            "Je Schlüssel genau 14 Ziffern; mehrere durch Leerzeichen, Komma oder Zeilenumbruch trennen."
        ),
    )
    themenfeld_number = SelectField(_l("Themenfeld"), choices=[], validate_choice=False)
    reifegrad = RadioField(_l("Reifegrad"), choices=[], validate_choice=False)
    operator_id = SelectField(_l("Betreiber (IT-Dienstleister)"), choices=[], validate_choice=False)
    description = TextAreaField(
        _l("Beschreibung"),
        description=_l(
            "Markdown: **fett**, *kursiv*, Listen mit „-“, Links als [Text](https://…). HTML wird entfernt."
        ),
    )
    transport = RadioField(_l("Transport"), choices=[], validate_choice=False)
    xoev_standard = StringField(_l("XÖV-Standard"), description=_l("z. B. XAusländer"))
    user_account = SelectField(_l("Nutzerkonto"), choices=[], validate_choice=False)
    payment = StringField(_l("Bezahldienst"), description=_l("z. B. ePayBL"))
    requirements_note = TextAreaField(_l("Weitere Anbindungsvoraussetzungen"))
    annual_cost = EuroAmountField(
        _l("Jährliche Betriebskosten in Euro"), description=_l("z. B. 1.200.000,00")
    )
    connection_cost = EuroAmountField(
        _l("Einmalige Anbindungskosten je Land in Euro"), description=_l("z. B. 25.000,00")
    )
    contact_name = StringField(_l("Ansprechperson"))
    contact_email = EmailField(_l("E-Mail-Adresse der Ansprechperson"))
    lock_version = HiddenField()

    # Where the service names a field differently from this form.
    SERVICE_FIELDS = {
        "annual_cost_cents": "annual_cost",
        "connection_cost_cents": "connection_cost",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Assigned here, not in the field declarations: WTForms 3.3 deprecates tuple
        # choices passed to a field's constructor.
        self.reifegrad.choices = [(str(level), label) for level, label in REIFEGRAD_LABELS.items()]
        self.transport.choices = [(value.value, label) for value, label in TRANSPORT_LABELS.items()]
        self.user_account.choices = [
            (value.value, label) for value, label in USER_ACCOUNT_LABELS.items()
        ]

    def checklist(self, groups) -> list[tuple[str, list[tuple[Any, Any]]]]:
        """``criteria_by_group()`` paired with this form's checkbox for each criterion."""
        return [
            (group, [(c, getattr(self, CHECK_PREFIX + c.key)) for c in criteria])
            for group, criteria in groups
        ]

    def fill(self, content: dict[str, Any], checked: dict[str, bool]) -> None:
        """Show ``content`` (the service's field values) in the form."""
        for name in (
            "title",
            "ozg_name",
            "ozg_id",
            "description",
            "xoev_standard",
            "payment",
            "requirements_note",
            "contact_name",
            "contact_email",
        ):
            getattr(self, name).data = content.get(name) or ""
        self.leika_keys.data = "\n".join((content.get("leika_keys") or "").split())
        self.themenfeld_number.data = str(content.get("themenfeld_number") or "")
        reifegrad = content.get("reifegrad")
        self.reifegrad.data = "" if reifegrad is None else str(reifegrad)
        self.operator_id.data = str(content.get("operator_id") or "")
        self.transport.data = content.get("transport") or ""
        self.user_account.data = content.get("user_account") or UserAccount.NONE.value
        self.annual_cost.data = format_euro_input(content.get("annual_cost_cents"))
        self.connection_cost.data = format_euro_input(content.get("connection_cost_cents"))
        for key, value in checked.items():
            getattr(self, CHECK_PREFIX + key).data = value

    def content(self, criterion_keys) -> dict[str, Any]:
        """The submitted values in the shape the listings service takes."""
        return {
            "title": self.title.data,
            "ozg_name": self.ozg_name.data,
            "ozg_id": self.ozg_id.data,
            "leika_keys": self.leika_keys.data or "",
            "themenfeld_number": self.themenfeld_number.data,
            "reifegrad": self.reifegrad.data,
            "operator_id": self.operator_id.data or None,
            "description": self.description.data,
            "transport": self.transport.data,
            "xoev_standard": self.xoev_standard.data,
            "user_account": self.user_account.data or UserAccount.NONE.value,
            "payment": self.payment.data,
            "requirements_note": self.requirements_note.data,
            "checklist": {
                key: bool(getattr(self, CHECK_PREFIX + key).data) for key in criterion_keys
            },
            "annual_cost_cents": self.annual_cost.cents,
            "connection_cost_cents": self.connection_cost.cents,
            "contact_name": self.contact_name.data,
            "contact_email": self.contact_email.data,
        }

    def expected_version(self) -> int | None:
        value = (self.lock_version.data or "").strip()
        return int(value) if value.isdigit() and len(value) < 12 else None


@lru_cache(maxsize=1)
def _listing_form_class(criteria: tuple) -> type[ListingForm]:
    # One checkbox per EfA-Mindestanforderung; the criteria are data, so the
    # fields are added once when the first form is built.
    fields = {CHECK_PREFIX + c.key: BooleanField(c.text) for c in criteria}
    return type("ListingChecklistForm", (ListingForm,), fields)


def listing_form(criteria: tuple, **kwargs) -> ListingForm:
    return _listing_form_class(criteria)(**kwargs)


# --- documents and decisions --------------------------------------------------------------


class DocumentForm(FlaskForm):
    title = StringField(
        _l("Titel des Dokuments"),
        description=_l("z. B. Leistungsbeschreibung, Anbindungsleitfaden"),
    )
    file = FileField(_l("PDF-Datei"), description=_l("Nur PDF, höchstens 10 MB."))


class DecisionForm(FlaskForm):
    """A lifecycle button: CSRF token, the version the user saw, where to go back to."""

    lock_version = HiddenField()
    next = HiddenField()

    def expected_version(self) -> int | None:
        value = (self.lock_version.data or "").strip()
        return int(value) if value.isdigit() and len(value) < 12 else None

    def required_version(self) -> int:
        """The version the reviewer saw; a decision without it is treated as stale (0)."""
        version = self.expected_version()
        return 0 if version is None else version


class ReasonForm(DecisionForm):
    """A decision that needs a reason (FITKO returns a listing or refuses a change)."""

    reason = TextAreaField(_l("Begründung"))
