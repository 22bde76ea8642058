"""The cost-sharing service on stored data: the worked example of domain.md end to end
(contracts → participants and months → key of the alliance → cents)."""

from __future__ import annotations

import pytest

from fitstore.services import cost_sharing
from tests.factories import (
    WORKED_EXAMPLE_FULL_YEAR,
    WORKED_EXAMPLE_SN_FROM_JULY,
    WORKED_EXAMPLE_YEAR,
    user_by_email,
    worked_example,
)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.mark.parametrize(
    ("sn_from_july", "expected"),
    [(False, WORKED_EXAMPLE_FULL_YEAR), (True, WORKED_EXAMPLE_SN_FROM_JULY)],
)
def test_the_worked_example_comes_out_to_the_cent(ctx, sn_from_july, expected):
    listing_id = worked_example(sn_from_july=sn_from_july)
    result = cost_sharing.listing_split(
        user_by_email("fitko-1@demo.test"), listing_id, WORKED_EXAMPLE_YEAR
    )
    assert result.problem is None
    assert dict(result.split.cents) == expected
    assert {p.land_ags: p.months for p in result.participants} == {
        "12": 12,
        "06": 12,
        "03": 12,
        "14": 6 if sn_from_july else 12,
    }
