"""Forms for the cost data pages: key data upload, usage entry and usage import.

Field rules only; the cost data service validates the values and the files (and says
which line of a file is wrong).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, StringField


class KeyDataForm(FlaskForm):
    key = RadioField(_l("Schlüssel"), choices=[], validate_choice=False)
    year = StringField(
        _l("Jahr"),
        description=_l("Das Jahr, für das die Werte gelten, z. B. 2024."),
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 4},
    )
    file = FileField(
        _l("CSV-Datei"),
        description=_l(
            "Kopfzeile „land;value“, danach eine Zeile je Land, alle 16 Länder genau einmal;"
            " das Land als AGS (12), ISO-Code (DE-BB) oder Kürzel (BB); Dezimalkomma oder"
            " -punkt, höchstens 5 Nachkommastellen. Der Königsteiner Schlüssel ergibt"
            " zusammen genau 100."
        ),
    )


class UsageEntryForm(FlaskForm):
    year = HiddenField()
    cases = StringField(
        _l("Nutzungen Ihres Landes"),
        description=_l(
            "Die tatsächlichen Nutzungen im Jahr, z. B. eingereichte Anträge; eine ganze Zahl"
            " ohne Tausendertrennzeichen."
        ),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )


class UsageImportForm(FlaskForm):
    year = HiddenField()
    file = FileField(
        _l("CSV-Datei mit Nutzungszahlen"),
        description=_l(
            "Kopfzeile „land;cases“, danach eine Zeile je Land (beliebig viele Länder);"
            " ganze Zahlen ab 0. Enthält eine Zeile einen Fehler, wird nichts übernommen."
        ),
    )
