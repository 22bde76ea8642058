"""A Land's cost statement as an Excel workbook (XLSX, built with openpyxl).

The sheet "Abrechnung" holds the rows of the page and the CSV: one row per listing the
Land pays a share of, one per one-off Anbindungskosten, and the sums. Amounts are numbers
in Euro with the format ``#,##0.00 "€"`` for reading, and integer cents in a column of
their own so nothing depends on a spreadsheet's floating-point rounding (cents beyond
2**53, which no spreadsheet number holds exactly, are written there as text). Shares are
exact percentages rounded to 5 decimals. A second sheet "Nicht berechenbar" lists the
listings whose split cannot be computed (they are not in the sums).

No Flask request is needed; the labels are German whatever the UI language, as in the
catalogue export (flask_babel's ``force_locale`` needs an app context, and uses none
without one). Text cells are always stored as text, so a listing title starting with "="
is never run as a formula.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from flask_babel import force_locale
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from fitstore import costs
from fitstore.services import alliances
from fitstore.services.cost_sharing import Statement

EURO_FORMAT = '#,##0.00 "€"'
PERCENT_FORMAT = "0.00000"
CENTS_FORMAT = "0"
DATE_FORMAT = "DD.MM.YYYY"
SHEET = "Abrechnung"
OPEN_SHEET = "Nicht berechenbar"


#: Integers up to this size are exact as a spreadsheet number (an IEEE double); openpyxl
#: writes larger ones rounded, so the cents column holds those as text, digit for digit.
EXACT_NUMBER = 2**53


def _euro(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _cents(cents: int) -> int | str:
    return cents if abs(cents) <= EXACT_NUMBER else str(cents)


def _columns() -> list[tuple[str, float]]:
    """(header, width) of the sheet's columns, in order."""
    return [
        (_("Art"), 18),
        (_("Leistung (ID)"), 12),
        (_("Leistung"), 40),
        (_("Schlüssel"), 26),
        (_("Finanzierungsmodell"), 30),
        (_("Monate"), 9),
        (_("Anteil in %"), 13),
        (_("Kosten laut Plan"), 18),
        (_("Anteil Beteiligte"), 18),
        (_("Anteil alle Länder"), 18),
        (_("Betrag"), 18),
        (_("Betrag in Cent"), 16),
        (_("Vertrag"), 18),
        (_("wirksam ab"), 12),
    ]


# Column numbers (1-based) of the cells with a number format.
SHARE, PLAN, PARTICIPANTS, LAENDER, AMOUNT, CENTS, EFFECTIVE = 7, 8, 9, 10, 11, 12, 14


def _put(sheet: Worksheet, row: int, values: list) -> None:
    for column, value in enumerate(values, start=1):
        if value is None:
            continue
        if isinstance(value, str):
            # Control characters (possible in a title sent through the API) have no place
            # in the XML of a workbook; openpyxl would refuse the whole file.
            value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
        cell: Cell = sheet.cell(row=row, column=column, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # never a formula, whatever the text starts with
        if column in (PLAN, PARTICIPANTS, LAENDER, AMOUNT):
            cell.number_format = EURO_FORMAT
        elif column == SHARE:
            cell.number_format = PERCENT_FORMAT
        elif column == CENTS:
            cell.number_format = CENTS_FORMAT
        elif column == EFFECTIVE and isinstance(value, date):
            cell.number_format = DATE_FORMAT


def _header(sheet: Worksheet, columns: list[tuple[str, float]]) -> None:
    bold = Font(bold=True)
    for column, (title, width) in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=column, value=title)
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.column_dimensions[get_column_letter(column)].width = width


def _mix(mix: dict[str, Decimal]) -> str:
    parts = [
        f"{value.normalize():f}".replace(".", ",") + " % " + alliances.cost_key_label(name)
        for name, value in sorted(mix.items())
        if value
    ]
    return ", ".join(parts)


def _share_rows(statement: Statement) -> list[list]:
    rows = []
    for line in statement.lines:
        split, row = line.split, line.row
        key = alliances.cost_key_label(split.key)
        if split.mix:
            key += " (" + _mix(split.mix) + ")"
        rows.append(
            [
                _("Kostenanteil"),
                line.listing.id,
                line.listing.title,
                key,
                alliances.funding_model_label(split.funding_model),
                row.months,
                None if row.share is None else costs.to_decimal(row.share * 100, 5),
                _euro(split.total_cents),
                _euro(row.participants_cents),
                _euro(row.laender_cents),
                _euro(row.cents),
                _cents(row.cents),
                None,
                None,
            ]
        )
    return rows


def _connection_rows(statement: Statement) -> list[list]:
    return [
        [
            _("Anbindungskosten"),
            cost.listing.id,
            cost.listing.title,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            _euro(cost.cents),
            _cents(cost.cents),
            cost.contract_number,
            cost.effective_date,
        ]
        for cost in statement.connection_costs
    ]


def _sum_row(label: str, cents: int) -> list:
    return [
        label,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        _euro(cents),
        _cents(cents),
    ]


def _open_items(workbook: Workbook, statement: Statement) -> None:
    sheet = workbook.create_sheet(OPEN_SHEET)
    _header(sheet, [(_("Leistung (ID)"), 12), (_("Leistung"), 40), (_("Grund"), 100)])
    for number, line in enumerate(statement.open_items, start=2):
        _put(sheet, number, [line.listing.id, line.listing.title, line.problem])
        sheet.cell(row=number, column=3).alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"


def build(statement: Statement) -> bytes:
    """The statement as the bytes of an XLSX file."""
    with force_locale("de"):
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = SHEET
        _header(sheet, _columns())
        rows = [
            *_share_rows(statement),
            *_connection_rows(statement),
            _sum_row(_("Summe Kostenanteile"), statement.shared_cents),
            _sum_row(_("Summe Anbindungskosten"), statement.connection_cents),
            _sum_row(_("Gesamtbetrag"), statement.total_cents),
        ]
        for number, values in enumerate(rows, start=2):
            _put(sheet, number, values)
        for cell in sheet[len(rows) + 1]:
            cell.font = Font(bold=True)
        # Header row and the columns naming the listing stay in view when scrolling.
        sheet.freeze_panes = "D2"
        sheet.print_title_rows = "1:1"
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
        if statement.open_items:
            _open_items(workbook, statement)
        title = _(
            "Kostenabrechnung %(land)s %(year)d", land=statement.land.name, year=statement.year
        )
        workbook.properties.title = title
        workbook.properties.subject = _(
            "Anteile an den laufenden Kosten und einmalige Anbindungskosten"
        )
        workbook.properties.creator = "FIT-Store"
        workbook.properties.language = "de-DE"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
