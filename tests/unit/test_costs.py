"""The pure cost engine (``fitstore.costs``): the worked example of domain.md to the cent,
rounding and ties, the ``efa_2024`` pools, refused input, months in force, properties over
random inputs (hypothesis) and a benchmark. No app, no database."""

from __future__ import annotations

import random
import time
from datetime import date
from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fitstore.costs import (
    BUND,
    LAENDER,
    MAX_CENTS,
    CostError,
    Participant,
    Split,
    SplitRequest,
    euro_to_cents,
    largest_remainder,
    month_count,
    split,
    to_decimal,
)

# The engine is pure Python: the PostgreSQL run would repeat the same computation.
pytestmark = pytest.mark.database_free

# Königsteiner Schlüssel 2017 (fitstore/data/laender.csv), percent.
KOENIGSTEIN_2017 = {
    "01": D("3.39074"),
    "02": D("2.55752"),
    "03": D("9.33138"),
    "04": D("0.95331"),
    "05": D("21.14424"),
    "06": D("7.39885"),
    "07": D("4.83089"),
    "08": D("12.96662"),
    "09": D("15.53327"),
    "10": D("1.21111"),
    "11": D("5.08324"),
    "12": D("3.03655"),
    "13": D("2.01240"),
    "14": D("5.05577"),
    "15": D("2.79941"),
    "16": D("2.69470"),
}
BB, HE, NI, SN = "12", "06", "03", "14"
EXAMPLE_TOTAL = 120_000_000  # 1,200,000.00 EUR

SETTINGS = settings(max_examples=150, deadline=None, database=None)


def example(sn_months: int = 12, **overrides) -> SplitRequest:
    fields = {
        "total_cents": EXAMPLE_TOTAL,
        "participants": [
            Participant(BB),
            Participant(HE),
            Participant(NI),
            Participant(SN, sn_months),
        ],
        "key": "koenigstein",
        "key_data": {"koenigstein": KOENIGSTEIN_2017},
        "year": 2017,
    } | overrides
    return SplitRequest(**fields)


# --------------------------------------------------------------------------- worked example


def test_worked_example_full_year_to_the_cent():
    result = split(example())

    assert dict(result.cents) == {NI: 45_110_821, HE: 35_768_364, BB: 14_679_636, SN: 24_441_179}
    (pool,) = result.pools
    lines = {line.payer: line for line in pool.lines}
    percent = {ags: to_decimal(line.share * 100, 5) for ags, line in lines.items()}
    assert percent == {BB: D("12.23303"), HE: D("29.80697"), NI: D("37.59235"), SN: D("20.36765")}
    exact = {ags: to_decimal(line.exact_cents, 2) for ags, line in lines.items()}
    assert exact == {
        BB: D("14679636.06"),
        HE: D("35768363.85"),
        NI: D("45110820.60"),
        SN: D("24441179.49"),
    }
    assert sum(line.floor_cents for line in pool.lines) == 119_999_998
    assert {ags for ags, line in lines.items() if line.extra_cent} == {HE, NI}
    assert lines[BB].weight == D("3.03655") and lines[BB].months == 12


def test_worked_example_sn_from_1_july():
    result = split(example(sn_months=month_count(date(2017, 7, 1), None, 2017)))

    assert dict(result.cents) == {BB: 16_344_089, HE: 39_823_967, NI: 50_225_720, SN: 13_606_224}
    sn = next(line for line in result.pools[0].lines if line.payer == SN)
    assert sn.months == 6 and sn.effective_weight == Fraction(D("5.05577")) / 2


def test_worked_example_under_efa_2024():
    result = split(example(funding_model="efa_2024"))

    assert [(p.name, p.cents) for p in result.pools] == [
        ("participants", 60_000_000),
        ("bund", 30_000_000),
        ("laender", 30_000_000),
    ]
    participants, bund, laender = result.pools
    assert {line.payer: line.cents for line in participants.lines} == largest_remainder(
        60_000_000, {ags: KOENIGSTEIN_2017[ags] for ags in (BB, HE, NI, SN)}
    )
    assert [(line.payer, line.cents) for line in bund.lines] == [(BUND, 30_000_000)]
    assert [line.payer for line in laender.lines] == sorted(LAENDER)
    assert {line.months for line in laender.lines} == {12}
    assert {line.payer: line.cents for line in laender.lines} == largest_remainder(
        30_000_000, KOENIGSTEIN_2017
    )
    # A Land outside the contract pays only its part of the all-Länder pool.
    assert result.cents["01"] == next(line.cents for line in laender.lines if line.payer == "01")
    assert result.cents[NI] == sum(
        line.cents for pool in result.pools for line in pool.lines if line.payer == NI
    )
    assert list(result.cents)[-1] == BUND
    assert sum(result.cents.values()) == EXAMPLE_TOTAL


def test_efa_2024_laender_pool_is_not_pro_rata():
    result = split(example(sn_months=3, funding_model="efa_2024"))
    participants, _, laender = result.pools
    assert next(line.months for line in participants.lines if line.payer == SN) == 3
    assert next(line.months for line in laender.lines if line.payer == SN) == 12


# --------------------------------------------------------------------------- rounding


def test_largest_remainder_ties_go_to_the_smaller_ags():
    assert largest_remainder(2, {"03": 1, "01": 1, "02": 1}) == {"01": 1, "02": 1, "03": 0}
    assert largest_remainder(1, {BUND: 1, "16": 1}) == {"16": 1, BUND: 0}
    assert largest_remainder(1, {"a": 1, "b": 1}, tie_order=["b", "a"]) == {"b": 1, "a": 0}


def test_largest_remainder_is_exact_for_thirds():
    assert largest_remainder(100, {"01": 1, "02": 1, "03": 1}) == {"01": 34, "02": 33, "03": 33}
    # 1/3 in Decimal is not exact; the engine compares remainders exactly.
    assert largest_remainder(10, {"01": D(1) / D(3), "02": Fraction(1, 3)}) == {"01": 5, "02": 5}
    assert largest_remainder(7, {"01": Fraction(2, 3), "02": Fraction(1, 3)}) == {"01": 5, "02": 2}


@pytest.mark.parametrize(
    ("total", "pools"),
    [
        (0, {"participants": 0, "bund": 0, "laender": 0}),
        (1, {"participants": 1, "bund": 0, "laender": 0}),
        (2, {"participants": 1, "bund": 1, "laender": 0}),
        (3, {"participants": 1, "bund": 1, "laender": 1}),
        (4, {"participants": 2, "bund": 1, "laender": 1}),
        (5, {"participants": 3, "bund": 1, "laender": 1}),
    ],
)
def test_efa_2024_pools_sum_to_the_total(total, pools):
    result = split(example(total_cents=total, funding_model="efa_2024"))
    assert {p.name: p.cents for p in result.pools} == pools
    assert sum(result.cents.values()) == total


def test_a_participant_with_zero_months_pays_nothing():
    result = split(example(sn_months=0))
    assert result.cents[SN] == 0
    assert sum(result.cents.values()) == EXAMPLE_TOTAL


def test_the_largest_total_is_split_without_overflow():
    result = split(example(total_cents=MAX_CENTS, funding_model="efa_2024"))
    assert sum(result.cents.values()) == MAX_CENTS


def test_mixed_key_combines_renormalised_shares():
    # usage 3:1 among two Länder, koenigstein ~ 1:1; 50/50 gives 5/8 and 3/8.
    request = SplitRequest(
        total_cents=800,
        participants=[Participant("01"), Participant("02")],
        key="mixed",
        mix={"usage": D("50"), "koenigstein": D("50")},
        key_data={"usage": {"01": 300, "02": 100}, "koenigstein": {"01": D("2.5"), "02": D("2.5")}},
    )
    result = split(request)
    assert dict(result.cents) == {"01": 500, "02": 300}
    assert [line.weight for line in result.pools[0].lines] == [Fraction(5, 8), Fraction(3, 8)]


def test_equal_and_population_and_target_group_keys():
    people = [Participant("01"), Participant("02"), Participant("03")]
    assert dict(split(SplitRequest(100, people, "equal")).cents) == {"01": 34, "02": 33, "03": 33}
    population = {"01": 2_896_712, "02": 1_841_179, "03": 7_982_448}
    assert (
        sum(
            split(
                SplitRequest(100, people, "population", key_data={"population": population})
            ).cents.values()
        )
        == 100
    )
    targets = {"01": D("0"), "02": D("1"), "03": D("3")}
    assert dict(
        split(SplitRequest(100, people, "target_group", key_data={"target_group": targets})).cents
    ) == {
        "01": 0,
        "02": 25,
        "03": 75,
    }


def test_usage_counts_missing_figures_as_zero():
    people = [Participant("01"), Participant("02")]
    result = split(SplitRequest(100, people, "usage", key_data={"usage": {"02": 7}}))
    assert dict(result.cents) == {"01": 0, "02": 100}


def test_to_decimal_rounds_half_even_and_exactly():
    assert to_decimal(Fraction(1, 8), 2) == D("0.12")
    assert to_decimal(Fraction(3, 8), 2) == D("0.38")
    assert to_decimal(Fraction(1, 3), 5) == D("0.33333")
    assert to_decimal(Fraction(-1, 3), 2) == D("-0.33")
    assert str(to_decimal(Fraction(45110820_60, 100), 2)) == "45110820.60"


# --------------------------------------------------------------------------- refused input


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"total_cents": -1}, "total_cents", "negativ"),
        ({"total_cents": "120000"}, "total_cents", "ganze Zahl von Cent"),
        ({"total_cents": 1.5}, "total_cents", "ganze Zahl von Cent"),
        ({"total_cents": D("100")}, "total_cents", "ganze Zahl von Cent"),
        ({"total_cents": True}, "total_cents", "ganze Zahl von Cent"),
        ({"total_cents": MAX_CENTS + 1}, "total_cents", "zu groß"),
        ({"key_data": {}}, "key_data.koenigstein", "Für das Jahr 2017 liegen keine Daten"),
        (
            {"key_data": {"koenigstein": {BB: D(3), HE: D(7), NI: D(9)}}},
            "key_data.koenigstein",
            "Sachsen (14)",
        ),
        (
            {"key_data": {"koenigstein": KOENIGSTEIN_2017 | {BB: D(-1)}}},
            "key_data.koenigstein",
            "nicht negativ",
        ),
        (
            {"key_data": {"koenigstein": KOENIGSTEIN_2017 | {BB: 3.03655}}},
            "key_data.koenigstein",
            "muss eine Zahl",
        ),
        (
            {"key_data": {"koenigstein": KOENIGSTEIN_2017 | {BB: D("NaN")}}},
            "key_data.koenigstein",
            "muss eine Zahl",
        ),
        (
            {"key_data": {"koenigstein": dict.fromkeys(LAENDER, D(0))}},
            "key_data.koenigstein",
            "sind für die Teilnehmer 0",
        ),
        ({"key": "usage"}, "key_data.usage", "keine Nutzungszahlen"),
        (
            {"key": "usage", "key_data": {"usage": {BB: 0, "01": 5}}},
            "key_data.usage",
            "keine Nutzungszahlen",
        ),
        ({"key": "population"}, "key_data.population", "Einwohnerzahlen"),
        ({"key": "target_group"}, "key_data.target_group", "Zielgruppengewichte"),
        ({"key": "haushalt"}, "key", "Unbekannter Kostenschlüssel"),
        ({"funding_model": "bund_only"}, "funding_model", "Unbekanntes Finanzierungsmodell"),
        ({"key": "mixed"}, "mix", "fehlt die Gewichtung"),
        (
            {"key": "mixed", "mix": {"koenigstein": D("50"), "equal": D("49.99")}},
            "mix",
            "99.99 % statt genau 100 %",
        ),
        ({"key": "mixed", "mix": {"koenigstein": 60, "equal": 60}}, "mix", "statt genau 100 %"),
        ({"key": "mixed", "mix": {"koenigstein": 50, "mixed": 50}}, "mix", "keinen gemischten"),
        (
            {"key": "mixed", "mix": {"koenigstein": 50, "steuern": 50}},
            "mix",
            "Unbekannter Schlüssel „steuern“",
        ),
        ({"key": "mixed", "mix": {"koenigstein": 110, "equal": -10}}, "mix", "größer 0"),
        ({"key": "mixed", "mix": {"koenigstein": 50.0, "equal": 50.0}}, "mix", "größer 0"),
        (
            {"key": "mixed", "mix": {"koenigstein": 50, "usage": 50}},
            "key_data.usage",
            "keine Nutzungszahlen",
        ),
        ({"participants": []}, "participants", "keine Teilnehmer"),
        ({"participants": [Participant("17")]}, "participants", "zweistelligen AGS"),
        ({"participants": [Participant("1")]}, "participants", "zweistelligen AGS"),
        ({"participants": [Participant(12)]}, "participants", "zweistelligen AGS"),
        ({"participants": [Participant(BB), Participant(BB)]}, "participants", "doppelt"),
        ({"participants": [Participant(BB, 13)]}, "months", "0 bis 12"),
        ({"participants": [Participant(BB, -1)]}, "months", "0 bis 12"),
        ({"participants": [Participant(BB, True)]}, "months", "0 bis 12"),
        ({"participants": [Participant(BB, 0), Participant(HE, 0)]}, "months", "Monate"),
        (
            {"key": "equal", "funding_model": "efa_2024", "key_data": {"koenigstein": {BB: D(3)}}},
            "key_data.koenigstein",
            "alle 16 Länder",
        ),
    ],
)
def test_bad_input_is_refused_with_what_to_fix(overrides, field, words):
    with pytest.raises(CostError) as caught:
        split(example(**overrides))
    assert caught.value.field == field
    assert words in str(caught.value)


def test_largest_remainder_refuses_weights_summing_to_zero():
    with pytest.raises(CostError) as caught:
        largest_remainder(100, {"01": 0, "02": D(0)})
    assert caught.value.field == "weights"


@pytest.mark.parametrize(
    ("amount", "cents"),
    [("1200000.00", 120_000_000), (D("0.01"), 1), (7, 700), (" 12.5 ", 1250), ("0", 0)],
)
def test_euro_to_cents(amount, cents):
    assert euro_to_cents(amount) == cents


@pytest.mark.parametrize(
    "amount",
    ["zwölf", "", "NaN", "Infinity", "-0.01", "1.005", 1.5, None, True, str(MAX_CENTS + 1) + "00"],
)
def test_euro_to_cents_refuses_what_is_no_amount(amount):
    with pytest.raises(CostError) as caught:
        euro_to_cents(amount)
    assert caught.value.field == "total_cents"


def test_euro_to_cents_refuses_instead_of_truncating():
    assert euro_to_cents(D(MAX_CENTS) / 100) == MAX_CENTS
    with pytest.raises(CostError, match="zu groß"):
        euro_to_cents(D(MAX_CENTS + 1) / 100)


# --------------------------------------------------------------------------- months in force


@pytest.mark.parametrize(
    ("effective", "end", "months"),
    [
        (date(2024, 3, 15), None, 10),
        (date(2024, 2, 1), date(2024, 6, 30), 5),
        (date(2024, 2, 28), date(2024, 6, 1), 5),
        (date(2025, 1, 1), None, 0),
        (date(2020, 5, 1), date(2023, 12, 31), 0),
        (date(2020, 1, 1), None, 12),
        (date(2024, 1, 1), date(2024, 12, 31), 12),
        (date(2023, 6, 1), date(2024, 3, 31), 3),
        (date(2024, 11, 1), date(2025, 4, 30), 2),
        (date(2024, 12, 31), None, 1),
        (date(2024, 7, 1), date(2024, 7, 1), 1),
    ],
)
def test_month_count(effective, end, months):
    assert month_count(effective, end, 2024) == months


# --------------------------------------------------------------------------- properties

AGS = sorted(LAENDER)
SIMPLE_KEYS = ("koenigstein", "population", "usage", "target_group", "equal")


@st.composite
def decimals(draw, low: int, high: int, places: int) -> D:
    """A Decimal with ``places`` decimal places in [low, high] (hundred-thousandths etc.)."""
    return D(draw(st.integers(low * 10**places, high * 10**places))).scaleb(-places)


@st.composite
def mixes(draw) -> dict[str, D]:
    """1-3 component keys with positive percentages (2 places) summing to exactly 100."""
    keys = draw(st.lists(st.sampled_from(SIMPLE_KEYS), min_size=1, max_size=3, unique=True))
    cuts = sorted(
        draw(
            st.lists(
                st.integers(1, 9_999), min_size=len(keys) - 1, max_size=len(keys) - 1, unique=True
            )
        )
    )
    bounds = [0, *cuts, 10_000]
    return {k: D(bounds[i + 1] - bounds[i]).scaleb(-2) for i, k in enumerate(keys)}


KEY_CHOICES = st.one_of(
    st.sampled_from(SIMPLE_KEYS).map(lambda k: (k, {})), mixes().map(lambda m: ("mixed", m))
)
TOTALS = st.one_of(st.integers(0, 10**6), st.integers(0, 10**12), st.integers(0, MAX_CENTS))


@st.composite
def requests(
    draw, funding_model=None, same_weights=False, same_months=False, min_size=1
) -> SplitRequest:
    """A valid request. The first participant is in force >= 1 month with positive weights
    under every key, so the split is always defined; the others may have 0 months and 0
    (or missing) usage and target-group weights."""
    chosen = draw(st.lists(st.sampled_from(AGS), min_size=min_size, max_size=16, unique=True))
    months_all = draw(st.integers(1, 12))
    months = [
        months_all if same_months else draw(st.integers(1 if i == 0 else 0, 12))
        for i in range(len(chosen))
    ]
    koenigstein = {ags: draw(decimals(0, 25, 5)) + D("0.00001") for ags in AGS}
    population = {ags: draw(st.integers(1, 20_000_000)) for ags in AGS}
    usage = {
        ags: draw(st.integers(1 if ags == chosen[0] else 0, 10**6))
        for ags in chosen
        if draw(st.booleans()) or ags == chosen[0]
    }
    target = {ags: draw(decimals(1 if ags == chosen[0] else 0, 1000, 3)) for ags in chosen}
    if same_weights:
        first = chosen[0]
        for data in (koenigstein, population, usage, target):
            data.update(dict.fromkeys(chosen, data[first]))
    key, mix = draw(KEY_CHOICES)
    return SplitRequest(
        total_cents=draw(TOTALS),
        participants=[Participant(ags, m) for ags, m in zip(chosen, months, strict=True)],
        key=key,
        mix=mix,
        funding_model=funding_model or draw(st.sampled_from(["participants", "efa_2024"])),
        key_data={
            "koenigstein": koenigstein,
            "population": population,
            "usage": usage,
            "target_group": target,
        },
        year=2024,
    )


def check_invariants(request: SplitRequest, result: Split) -> None:
    assert sum(result.cents.values()) == request.total_cents
    assert sum(pool.cents for pool in result.pools) == request.total_cents
    assert all(cents >= 0 for cents in result.cents.values())
    for pool in result.pools:
        assert sum(line.cents for line in pool.lines) == pool.cents
        assert sum(line.share for line in pool.lines) == 1
        for line in pool.lines:
            assert line.cents == line.floor_cents + line.extra_cent
            assert abs(line.cents - line.exact_cents) < 1
            assert line.exact_cents == pool.cents * line.share
            assert line.effective_weight == line.weight * line.months / 12
            assert 0 <= line.remainder < 1
    if request.key == "mixed":  # the combined weights are shares of the participants
        assert sum(line.weight for line in result.pool("participants").lines) == 1
    participants = {p.ags for p in request.participants}
    expected_payers = (
        participants if request.funding_model == "participants" else set(LAENDER) | {BUND}
    )
    assert set(result.cents) == expected_payers


@SETTINGS
@given(requests())
def test_property_shares_sum_to_the_total_and_none_is_negative(request):
    check_invariants(request, split(request))


@SETTINGS
@given(requests(), st.randoms(use_true_random=False))
def test_property_result_does_not_depend_on_input_order(request, rnd):
    participants = list(request.participants)
    rnd.shuffle(participants)

    def shuffled(mapping):
        items = list(mapping.items())
        rnd.shuffle(items)
        return dict(items)

    reordered = SplitRequest(
        total_cents=request.total_cents,
        participants=tuple(participants),
        key=request.key,
        mix=shuffled(request.mix),
        funding_model=request.funding_model,
        key_data=shuffled({k: shuffled(v) for k, v in request.key_data.items()}),
        year=request.year,
    )
    first, second = split(request), split(reordered)
    assert first.pools == second.pools
    assert list(first.cents.items()) == list(second.cents.items())


@SETTINGS
@given(requests(same_weights=True, same_months=True))
def test_property_equal_weights_and_months_differ_by_at_most_one_cent(request):
    result = split(request)
    participants = {p.ags for p in request.participants}
    pool_cents = [line.cents for line in result.pool("participants").lines]
    assert max(pool_cents) - min(pool_cents) <= 1
    if request.funding_model == "participants":
        totals = [result.cents[ags] for ags in participants]
        assert max(totals) - min(totals) <= 1
    else:  # equal Königstein too: the all-Länder pool also differs by at most one cent
        laender = [
            line.cents for line in result.pool("laender").lines if line.payer in participants
        ]
        assert max(laender) - min(laender) <= 1


@SETTINGS
@given(requests(same_weights=True, min_size=2), st.data())
def test_property_more_months_never_pay_less(request, data):
    a, b = data.draw(
        st.lists(st.sampled_from(request.participants), min_size=2, max_size=2, unique=True)
    )
    assume(a.months != b.months)
    more, fewer = (a, b) if a.months > b.months else (b, a)
    result = split(request)
    pool = {line.payer: line.cents for line in result.pool("participants").lines}
    assert pool[more.ags] >= pool[fewer.ags]
    if request.funding_model == "participants":
        assert result.cents[more.ags] >= result.cents[fewer.ags]
    else:
        # The all-Länder pool ignores months; with identical Königstein weights its tie
        # rule (smaller AGS) may give the Land with fewer months its one extra cent.
        assert result.cents[more.ags] >= result.cents[fewer.ags] - 1


# --------------------------------------------------------------------------- benchmark


def test_benchmark_600_listings_in_under_one_second():
    rnd = random.Random(2024)
    koenigstein = dict(KOENIGSTEIN_2017)
    population = {ags: rnd.randint(600_000, 18_000_000) for ags in AGS}
    batch = []
    for _ in range(600):
        chosen = rnd.sample(AGS, 12)
        batch.append(
            SplitRequest(
                total_cents=rnd.randint(10_000_00, 5_000_000_00),
                participants=[Participant(ags, rnd.randint(1, 12)) for ags in chosen],
                key="mixed",
                mix={"usage": D("50"), "koenigstein": D("30"), "population": D("20")},
                funding_model="efa_2024",
                key_data={
                    "koenigstein": koenigstein,
                    "population": population,
                    "usage": {ags: rnd.randint(0, 250_000) for ags in chosen},
                },
                year=2024,
            )
        )
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        results = [split(request) for request in batch]
        timings.append(time.perf_counter() - start)
    best = min(timings)
    print(
        f"\ncost engine: 600 splits (12 participants, efa_2024, mixed key) in {best:.3f} s (best of 3)"
    )
    assert all(sum(r.cents.values()) == q.total_cents for r, q in zip(results, batch, strict=True))
    assert best < 1.0, f"600 splits took {best:.3f} s (best of 3), budget 1.0 s"
