"""The cost engine: who pays how many cents of a listing's yearly running costs.

Pure and deterministic: plain data in, plain data out; no Flask, no database, no floats.
Inputs are integer cents and ``Decimal`` (or ``int``) key weights. Every figure derived
from them (renormalised shares, month factors, mixed-key combinations, exact amounts,
remainders) is exact: the engine scales the weights of a split to integers and rounds
with integer arithmetic; ``Line`` hands the figures out as exact ``fractions.Fraction``
values and ``to_decimal`` rounds one for display. So the same inputs always give the same
cents, whichever database they came from (domain rule 5), and the order of remainders
never depends on a chosen precision (``Decimal(1) / 3`` is not exact; this engine never
divides).

How a split is computed (domain.md, "Cost sharing", rules 2-4):

1. **Key weight** ``w_i`` of every participant (a Land, by its 2-digit AGS):

   - ``koenigstein`` / ``population`` / ``target_group``: the figure of that Land in
     ``key_data[key]``; a participant without a figure is refused (a year without key
     data).
   - ``usage``: the usage figure; a missing figure counts as 0, but if no participant has
     any usage the key is refused.
   - ``equal``: 1 for everyone.
   - ``mixed``: ``w_i = sum_k p_k/100 * w_k,i / sum_j w_k,j`` over the component keys
     ``k`` with percentages ``p_k`` (``SplitRequest.mix``, summing to exactly 100). Each
     component is renormalised over the participants first, so shares are combined, not
     raw figures of different units (Einwohner vs. percent vs. applications).

2. **Pro rata**: effective weight ``e_i = w_i * months_i / 12`` (``months_i`` from
   ``month_count``; 0 months is allowed and pays nothing of this pool).
3. **Renormalise** over the participants: ``share_i = e_i / sum_j e_j``.
4. **Largest remainder** (``largest_remainder``): exact amount ``pool * share_i``,
   floor it, hand the left-over cents one each to the largest fractional parts, ties to
   the smaller AGS code. The cents of a pool sum to the pool, always.

Funding models (``SplitRequest.funding_model``):

- ``participants``: one pool, 100 % of the total, split among the participants as above.
- ``efa_2024`` (IT-Planungsrat 2023/35): the total is first split into three pools in the
  ratio 2:1:1 with the same largest-remainder rule (ties in pool order ``participants``,
  ``bund``, ``laender``), so the pools sum exactly to the total:

  - ``participants`` (50 %): among the participants by the key, pro rata by months;
  - ``bund`` (25 %): paid by the Bund alone (payer ``"bund"``);
  - ``laender`` (25 %): among all 16 Länder by the Königsteiner Schlüssel of the year
    (``key_data["koenigstein"]``, all 16 figures required, renormalised over the 16).
    Assumption: this pool is a contribution of the whole federation, not of the
    contract, so it is **not** pro rata: every Land pays it for the full year (months
    12), whether or not it participates and whatever the key of the listing.

  A payer's total is the sum of its cents over the pools (``Split.cents``).

Bad input raises ``CostError`` with a German message saying what to fix and the ``field``
it concerns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from types import MappingProxyType

__all__ = [
    "BUND",
    "FUNDING_MODELS",
    "KEYS",
    "LAENDER",
    "MAX_CENTS",
    "CostError",
    "Line",
    "Participant",
    "Pool",
    "Split",
    "SplitRequest",
    "euro_to_cents",
    "largest_remainder",
    "month_count",
    "split",
    "to_decimal",
]

#: The largest amount a PostgreSQL ``bigint`` of cents holds; larger totals are refused.
MAX_CENTS = 2**63 - 1

#: The payer of the Bund's pool under ``efa_2024``; sorts after every AGS code.
BUND = "bund"

#: The 16 Länder by AGS code and name (only for messages).
LAENDER: Mapping[str, str] = MappingProxyType(
    {
        "01": "Schleswig-Holstein",
        "02": "Hamburg",
        "03": "Niedersachsen",
        "04": "Bremen",
        "05": "Nordrhein-Westfalen",
        "06": "Hessen",
        "07": "Rheinland-Pfalz",
        "08": "Baden-Württemberg",
        "09": "Bayern",
        "10": "Saarland",
        "11": "Berlin",
        "12": "Brandenburg",
        "13": "Mecklenburg-Vorpommern",
        "14": "Sachsen",
        "15": "Sachsen-Anhalt",
        "16": "Thüringen",
    }
)

#: Cost keys and what their weights are called in messages.
KEYS: Mapping[str, str] = MappingProxyType(
    {
        "koenigstein": "Königsteiner Schlüssel",
        "population": "Einwohnerzahlen",
        "usage": "Nutzungszahlen",
        "target_group": "Zielgruppengewichte",
        "equal": "gleiche Teile",
        "mixed": "gewichtete Kombination",
    }
)

#: Keys whose weights come from ``SplitRequest.key_data``.
DATA_KEYS = ("koenigstein", "population", "usage", "target_group")

FUNDING_MODELS = ("participants", "efa_2024")

#: ``efa_2024`` pools in tie order, with their ratio (2:1:1 = 50 % / 25 % / 25 %).
EFA_2024_POOLS: Mapping[str, int] = MappingProxyType({"participants": 2, "bund": 1, "laender": 1})


class CostError(ValueError):
    """Input the engine refuses; ``field`` names the input to fix, ``str()`` says how."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.message = message
        self.field = field


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Participant:
    """A participating Land (2-digit AGS) and its months in force in the year (0-12)."""

    ags: str
    months: int = 12


@dataclass(frozen=True)
class SplitRequest:
    """Everything one split needs.

    ``key_data`` maps a key name to ``{ags: weight}`` (``Decimal`` or ``int``, >= 0):
    ``koenigstein`` (percent, all 16 Länder for ``efa_2024``), ``population``, ``usage``,
    ``target_group``. Only the keys in use are read. ``mix`` maps component keys of a
    ``mixed`` key to percentages summing to exactly 100; it is ignored for other keys.
    ``year`` only appears in messages.
    """

    total_cents: int
    participants: Sequence[Participant]
    key: str
    funding_model: str = "participants"
    key_data: Mapping[str, Mapping[str, Decimal | int]] = field(default_factory=dict)
    mix: Mapping[str, Decimal | int] = field(default_factory=dict)
    year: int | None = None


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Line:
    """One payer's part of one pool, with every intermediate figure.

    The exact figures are kept as integers (``*_units``) and read as exact ``Fraction``
    properties: ``weight`` is the key weight (for ``mixed`` the combined share),
    ``effective_weight`` is ``weight * months / 12``, ``share`` its renormalised fraction
    of the pool, ``exact_cents`` = pool cents x share and ``remainder`` its fractional
    part. ``floor_cents`` is the floor of the exact cents, ``extra_cent`` whether a
    left-over cent went here, and ``cents`` = floor + extra, the amount billed.
    """

    payer: str
    months: int
    floor_cents: int
    extra_cent: bool
    cents: int
    #: weight = weight_units / weight_denominator (integers, see ``_integers``)
    weight_units: int
    weight_denominator: int
    #: weight_units * months; the pool is split in proportion to these
    effective_units: int
    #: sum of effective_units over the pool's lines
    pool_units: int
    pool_cents: int

    @property
    def weight(self) -> Fraction:
        return Fraction(self.weight_units, self.weight_denominator)

    @property
    def effective_weight(self) -> Fraction:
        return Fraction(self.effective_units, 12 * self.weight_denominator)

    @property
    def share(self) -> Fraction:
        return Fraction(self.effective_units, self.pool_units)

    @property
    def exact_cents(self) -> Fraction:
        return Fraction(self.pool_cents * self.effective_units, self.pool_units)

    @property
    def remainder(self) -> Fraction:
        return self.exact_cents - self.floor_cents


@dataclass(frozen=True)
class Pool:
    """A part of the total: ``fraction`` of it (``exact_cents`` before rounding,
    ``cents`` after), split among its ``lines`` (by payer, Länder by AGS code)."""

    name: str
    fraction: Fraction
    exact_cents: Fraction
    cents: int
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Split:
    """The result: pools with their lines, and ``cents`` per payer summed over the pools
    (Länder by AGS code, then ``"bund"``). ``sum(cents.values()) == total_cents``."""

    total_cents: int
    key: str
    funding_model: str
    pools: tuple[Pool, ...]
    cents: Mapping[str, int]

    def pool(self, name: str) -> Pool:
        for pool in self.pools:
            if pool.name == name:
                return pool
        raise KeyError(name)


# --------------------------------------------------------------------------- rounding
#
# Exactness: every weight is an exact ratio of integers (``Decimal.as_integer_ratio`` is
# exact for finite Decimals). The weights of one split are scaled to integers ``W_i`` over
# a common denominator, so the exact amount of payer i is ``total * W_i / S`` with
# ``S = sum(W)``; ``divmod`` gives its floor and its remainder ``r_i / S``, and remainders
# of one split compare as the integers ``r_i``. No rounding precision is involved, and
# thirds are as exact as halves.


def _round(total: int, units: Mapping[str, int]) -> tuple[int, dict[str, int], set[str]]:
    """Largest remainder of ``total`` over integer ``units`` (their order = tie order):
    the sum of the units, the floor per payer and the payers that get a left-over cent."""
    denominator = sum(units.values())
    if denominator <= 0:
        raise CostError(
            "Die Summe der Gewichte ist 0; es gibt niemanden, auf den die Kosten verteilt werden können.",
            "weights",
        )
    floors: dict[str, int] = {}
    rests: dict[str, int] = {}
    for payer, w in units.items():
        floors[payer], rests[payer] = divmod(total * w, denominator)
    left_over = total - sum(floors.values())
    winners: set[str] = set()
    if left_over:
        # sorted() is stable: among equal remainders the earlier payer in tie order wins.
        winners = set(sorted(units, key=lambda payer: -rests[payer])[:left_over])
    return denominator, floors, winners


def _integers(ratios: Mapping[str, tuple[int, int]]) -> tuple[dict[str, int], int]:
    """Exact ratios ``n_i / d_i`` as integers over their least common denominator ``D``:
    ``({payer: n_i * D / d_i}, D)``."""
    common = math.lcm(*(d for _, d in ratios.values())) if ratios else 1
    return {payer: n * (common // d) for payer, (n, d) in ratios.items()}, common


def largest_remainder(
    total_cents: int,
    weights: Mapping[str, Fraction | Decimal | int],
    tie_order: Sequence[str] | None = None,
) -> dict[str, int]:
    """Split ``total_cents`` in proportion to ``weights`` (>= 0, not all 0) into integer
    cents that sum to the total: floor every exact amount ``total * w_i / sum(w)``, then
    give the left-over cents one each to the largest fractional parts. Ties go to the payer
    earlier in ``tie_order`` (default: sorted keys, i.e. the smaller AGS code; ``"bund"``
    sorts after every AGS). The result is in tie order."""
    _check_total(total_cents)
    order = list(tie_order) if tie_order is not None else sorted(weights)
    if sorted(order) != sorted(weights):
        raise CostError(
            "Die Reihenfolge für Gleichstände muss jeden Zahler genau einmal nennen.", "tie_order"
        )
    units, _ = _integers({payer: _ratio(weights[payer], "weights", payer) for payer in order})
    _, floors, winners = _round(total_cents, units)
    return {payer: floors[payer] + (payer in winners) for payer in order}


# --------------------------------------------------------------------------- the split


def split(request: SplitRequest) -> Split:
    """Split ``request.total_cents`` among the payers; see the module docstring."""
    total = request.total_cents
    _check_total(total)
    if request.funding_model not in FUNDING_MODELS:
        raise CostError(
            f"Unbekanntes Finanzierungsmodell „{request.funding_model}“; erlaubt sind: {', '.join(FUNDING_MODELS)}.",
            "funding_model",
        )
    participants = _check_participants(request.participants)
    units, denominator = _key_weights(request, participants)
    months = {p.ags: p.months for p in participants}
    if not any(units[ags] and months[ags] for ags in units):
        raise CostError(
            "Kein Teilnehmer mit einem Gewicht größer 0 ist in diesem Jahr auch nur einen Monat beteiligt; "
            "bitte die Monate der Teilnehmer prüfen.",
            "months",
        )

    if request.funding_model == "participants":
        pools = (_pool("participants", Fraction(1), total, total, units, denominator, months),)
    else:
        sizes = largest_remainder(total, EFA_2024_POOLS, tie_order=list(EFA_2024_POOLS))
        fractions = {name: Fraction(ratio, 4) for name, ratio in EFA_2024_POOLS.items()}
        laender, laender_denominator = _integers(_all_laender_koenigstein(request))
        pools = (
            _pool(
                "participants",
                fractions["participants"],
                total,
                sizes["participants"],
                units,
                denominator,
                months,
            ),
            _pool("bund", fractions["bund"], total, sizes["bund"], {BUND: 1}, 1, {BUND: 12}),
            _pool(
                "laender",
                fractions["laender"],
                total,
                sizes["laender"],
                laender,
                laender_denominator,
                dict.fromkeys(laender, 12),
            ),
        )
    cents: dict[str, int] = {}
    for pool in pools:
        for line in pool.lines:
            cents[line.payer] = cents.get(line.payer, 0) + line.cents
    ordered = {payer: cents[payer] for payer in sorted(cents)}
    return Split(total, request.key, request.funding_model, pools, MappingProxyType(ordered))


def _pool(
    name: str,
    fraction: Fraction,
    total: int,
    pool_cents: int,
    units: Mapping[str, int],
    denominator: int,
    months: Mapping[str, int],
) -> Pool:
    """Split ``pool_cents`` among the payers of ``units`` (weights ``units / denominator``),
    pro rata by ``months``: effective units ``W_i * months_i`` (the ``/ 12`` cancels out
    in the renormalisation)."""
    effective = {payer: units[payer] * months[payer] for payer in sorted(units)}
    pool_units, floors, winners = _round(pool_cents, effective)
    lines = tuple(
        Line(
            payer=payer,
            months=months[payer],
            floor_cents=floors[payer],
            extra_cent=payer in winners,
            cents=floors[payer] + (payer in winners),
            weight_units=units[payer],
            weight_denominator=denominator,
            effective_units=e,
            pool_units=pool_units,
            pool_cents=pool_cents,
        )
        for payer, e in effective.items()
    )
    return Pool(name, fraction, total * fraction, pool_cents, lines)


# --------------------------------------------------------------------------- key weights


def _key_weights(
    request: SplitRequest, participants: Sequence[Participant]
) -> tuple[dict[str, int], int]:
    """The participants' key weights as ``({ags: W_i}, D)``, weight_i = ``W_i / D``.

    ``mixed``: with component weights ``W_k,i`` (sum ``S_k``) and percentages
    ``a_k / b_k``, combined_i = ``sum_k a_k / b_k / 100 * W_k,i / S_k``; over the common
    denominator ``L = lcm(b_k * S_k)`` that is ``sum_k a_k * W_k,i * (L / (b_k * S_k))``
    divided by ``100 * L``: integers again, exact.
    """
    key = request.key
    if key not in KEYS:
        raise CostError(
            f"Unbekannter Kostenschlüssel „{key}“; erlaubt sind: {', '.join(KEYS)}.", "key"
        )
    if key != "mixed":
        return _integers(_single_key_weights(request, key, participants))
    components = []
    for component, percent in _check_mix(request.mix).items():
        units, _ = _integers(_single_key_weights(request, component, participants))
        a, b = _ratio(percent, "mix", component)
        components.append((units, a, b * sum(units.values())))
    common = math.lcm(*(q for _, _, q in components))
    combined = {
        p.ags: sum(a * units[p.ags] * (common // q) for units, a, q in components)
        for p in participants
    }
    return combined, 100 * common


def _single_key_weights(
    request: SplitRequest, key: str, participants: Sequence[Participant]
) -> dict[str, tuple[int, int]]:
    """The participants' weights under one key as exact ratios ``{ags: (n, d)}``."""
    if key == "equal":
        return {p.ags: (1, 1) for p in participants}
    where = f"key_data.{key}"
    year = f"das Jahr {request.year}" if request.year is not None else "dieses Jahr"
    data = request.key_data.get(key)
    if not data:
        if key == "usage":
            raise CostError(
                f"Für den Schlüssel „usage“ liegen für {year} keine Nutzungszahlen vor; bitte die Nutzungen der Teilnehmer erfassen oder importieren oder einen anderen Schlüssel wählen.",
                where,
            )
        raise CostError(
            f"Für {year} liegen keine Daten zum Schlüssel „{key}“ ({KEYS[key]}) vor; bitte die Schlüsseldaten des Jahres erfassen oder einen anderen Schlüssel wählen.",
            where,
        )
    weights: dict[str, tuple[int, int]] = {}
    for p in participants:
        if p.ags in data:
            weights[p.ags] = _ratio(data[p.ags], where, p.ags)
        elif key == "usage":
            weights[p.ags] = (0, 1)
        else:
            raise CostError(
                f"Für {_land(p.ags)} fehlt für {year} ein Wert des Schlüssels „{key}“ ({KEYS[key]}); bitte den Wert erfassen.",
                where,
            )
    if not any(n for n, _ in weights.values()):
        if key == "usage":
            raise CostError(
                f"Für den Schlüssel „usage“ liegen für {year} keine Nutzungszahlen der Teilnehmer vor (alle 0 oder fehlend); bitte die Nutzungen erfassen oder einen anderen Schlüssel wählen.",
                where,
            )
        raise CostError(
            f"Alle Werte des Schlüssels „{key}“ ({KEYS[key]}) sind für die Teilnehmer 0; bitte die Schlüsseldaten prüfen oder einen anderen Schlüssel wählen.",
            where,
        )
    return weights


def _all_laender_koenigstein(request: SplitRequest) -> dict[str, tuple[int, int]]:
    data = request.key_data.get("koenigstein") or {}
    missing = [ags for ags in LAENDER if ags not in data]
    if missing:
        year = f"das Jahr {request.year}" if request.year is not None else "dieses Jahr"
        names = ", ".join(_land(ags) for ags in missing)
        raise CostError(
            f"Das Finanzierungsmodell „efa_2024“ verteilt 25 % nach dem Königsteiner Schlüssel auf alle 16 Länder; für {year} fehlen die Werte von: {names}.",
            "key_data.koenigstein",
        )
    weights = {ags: _ratio(data[ags], "key_data.koenigstein", ags) for ags in LAENDER}
    if not any(n for n, _ in weights.values()):
        raise CostError(
            "Alle Werte des Königsteiner Schlüssels sind 0; bitte die Schlüsseldaten prüfen.",
            "key_data.koenigstein",
        )
    return weights


def _check_mix(mix: Mapping[str, Decimal | int]) -> dict[str, Decimal | int]:
    if not mix:
        raise CostError(
            "Für den Schlüssel „mixed“ fehlt die Gewichtung; bitte Schlüssel und Prozentanteile angeben, z. B. 50 % usage und 50 % koenigstein.",
            "mix",
        )
    for component, percent in mix.items():
        if component == "mixed":
            raise CostError(
                "Ein gemischter Schlüssel kann keinen gemischten Schlüssel enthalten.", "mix"
            )
        if component not in KEYS:
            raise CostError(
                f"Unbekannter Schlüssel „{component}“ in der Gewichtung; erlaubt sind: {', '.join(k for k in KEYS if k != 'mixed')}.",
                "mix",
            )
        if not _is_number(percent) or percent <= 0:
            raise CostError(
                f"Der Anteil des Schlüssels „{component}“ muss eine Zahl größer 0 sein (Prozent), nicht „{percent}“; Schlüssel mit 0 % bitte weglassen.",
                "mix",
            )
    total = sum(Fraction(p) for p in mix.values())
    if total != 100:
        raise CostError(
            f"Die Anteile des gemischten Schlüssels ergeben {sum(Decimal(p) for p in mix.values())} % statt genau 100 %; bitte die Prozentanteile anpassen.",
            "mix",
        )
    return dict(mix)


# --------------------------------------------------------------------------- validation


def _check_total(total: object) -> None:
    if isinstance(total, bool) or not isinstance(total, int):
        raise CostError(
            f"Der Betrag muss eine ganze Zahl von Cent sein, nicht „{total}“; bitte den Betrag in Euro mit höchstens zwei Nachkommastellen angeben.",
            "total_cents",
        )
    if total < 0:
        raise CostError(
            "Der Betrag darf nicht negativ sein; bitte einen Betrag ab 0 angeben.", "total_cents"
        )
    if total > MAX_CENTS:
        raise CostError(
            f"Der Betrag ist zu groß: höchstens {MAX_CENTS} Cent können gespeichert werden; bitte den Betrag prüfen.",
            "total_cents",
        )


def _check_participants(participants: Iterable[Participant]) -> list[Participant]:
    checked: list[Participant] = []
    seen: set[str] = set()
    for p in participants:
        if not isinstance(p, Participant):
            raise CostError(f"Ungültiger Teilnehmer „{p}“.", "participants")
        if not isinstance(p.ags, str) or p.ags not in LAENDER:
            raise CostError(
                f"„{p.ags}“ ist kein Land-Schlüssel; bitte den zweistelligen AGS des Landes angeben (01 bis 16).",
                "participants",
            )
        if p.ags in seen:
            raise CostError(
                f"{_land(p.ags)} ist doppelt als Teilnehmer angegeben; bitte nur einmal.",
                "participants",
            )
        seen.add(p.ags)
        if isinstance(p.months, bool) or not isinstance(p.months, int) or not 0 <= p.months <= 12:
            raise CostError(
                f"Die Monate von {_land(p.ags)} müssen eine ganze Zahl von 0 bis 12 sein, nicht „{p.months}“.",
                "months",
            )
        checked.append(p)
    if not checked:
        raise CostError(
            "Es gibt keine Teilnehmer, auf die die Kosten verteilt werden können; bitte mindestens ein Land angeben.",
            "participants",
        )
    return sorted(checked, key=lambda p: p.ags)


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, Decimal) and value.is_finite()


def _ratio(value: object, where: str, payer: str) -> tuple[int, int]:
    """A weight as an exact, non-negative ratio ``(numerator, denominator)``; ``int``,
    finite ``Decimal`` and ``Fraction`` are accepted; floats (inexact), NaN and infinities
    are refused."""
    if isinstance(value, Fraction):
        ratio = (value.numerator, value.denominator)
    elif _is_number(value):
        ratio = value.as_integer_ratio()  # exact for int and finite Decimal
    else:
        raise CostError(
            f"Der Wert für {_land(payer)} muss eine Zahl (Decimal oder ganze Zahl) sein, nicht „{value}“.",
            where,
        )
    if ratio[0] < 0:
        raise CostError(
            f"Der Wert für {_land(payer)} darf nicht negativ sein ({value}); bitte korrigieren.",
            where,
        )
    return ratio


def _land(ags: str) -> str:
    return f"{LAENDER[ags]} ({ags})" if ags in LAENDER else f"„{ags}“"


# --------------------------------------------------------------------------- helpers


def month_count(effective_date: date, end_date: date | None, year: int) -> int:
    """Calendar months of ``year`` in which a contract is in force (domain rule 3).

    A contract effective on any day of a month counts that month; a termination
    (``end_date``, ``None`` = open-ended) counts up to and including its month. A contract
    not in force in ``year`` at all gives 0.
    """
    if effective_date.year > year or (end_date is not None and end_date.year < year):
        return 0
    first = effective_date.month if effective_date.year == year else 1
    last = end_date.month if end_date is not None and end_date.year == year else 12
    return max(0, last - first + 1)


def to_decimal(value: Fraction | Decimal | int, places: int) -> Decimal:
    """``value`` rounded half-even to ``places`` decimal places, computed exactly (for
    display: exact cents to 2 places, shares in percent to 5, ...)."""
    scaled = Fraction(value) * 10**places
    quotient, rest = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * rest
    if twice > scaled.denominator or (twice == scaled.denominator and quotient % 2):
        quotient += 1
    return Decimal(quotient).scaleb(-places)


def euro_to_cents(amount: Decimal | int | str) -> int:
    """Integer cents of a Euro amount (``Decimal``, ``int`` or a string like
    ``"1200000.00"``); refuses non-numbers, negatives, fractions of a cent and amounts a
    ``bigint`` of cents cannot hold (they are never truncated)."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int | str):
        raise CostError(
            f"„{amount}“ ist kein Betrag; bitte den Betrag in Euro angeben, z. B. 1200000.00.",
            "total_cents",
        )
    try:
        value = Decimal(amount.strip()) if isinstance(amount, str) else Decimal(amount)
    except InvalidOperation:
        raise CostError(
            f"„{amount}“ ist kein Betrag; bitte den Betrag in Euro angeben, z. B. 1200000.00.",
            "total_cents",
        ) from None
    if not value.is_finite():
        raise CostError(
            f"„{amount}“ ist kein Betrag; bitte den Betrag in Euro angeben, z. B. 1200000.00.",
            "total_cents",
        )
    cents = Fraction(value) * 100
    if cents.denominator != 1:
        raise CostError(
            f"Der Betrag {amount} hat Bruchteile eines Cents; bitte höchstens zwei Nachkommastellen angeben.",
            "total_cents",
        )
    _check_total(int(cents))
    return int(cents)
