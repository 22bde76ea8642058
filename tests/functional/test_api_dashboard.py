"""The dashboard API: public adoption figures, a listing's Länder and Kreise, a Land's
overview, the time series; lead times and waits behind a token.

The figures must be those of ``fitstore.services.transparency`` (the pages and the open
data use it too) and, on a generated data set, those the generator made
(``tests.factories.generated_adoption``: e.g. exactly 53 Kreise with a live authority).
Bad input is a 404 or 422 problem, never a 500; every operation runs a constant number
of queries. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from fitstore.extensions import db
from fitstore.models import Listing, ListingStatus, Organisation, OrganisationKind
from fitstore.services import admin, transparency
from tests.factories import generated_adoption, user_by_email

API = "/api/v1"
PROBLEM_JSON = "application/problem+json"
FITKO = "fitko-1@demo.test"
PUBLIC_URLS = (
    "/dashboard",
    "/dashboard/listings/{id}",
    "/dashboard/lands/12",
    "/dashboard/timeseries",
    "/dashboard/timeseries?listing_id={id}",
)


def get(client, path: str, headers=None):
    return client.get(f"{API}{path}", headers=headers)


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json(force=True)
    assert body["status"] == status
    if field is not None:
        assert field in body.get("errors", {}), body
    return body


def listing_ids(app, status: ListingStatus) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Listing.id).where(Listing.status == status)))


def published_with_reuses(app) -> int:
    """The published listing with the most live Länder in the demo (Aufenthaltstitel)."""
    with app.app_context():
        figures = transparency.overview().listings
        return max(figures, key=lambda f: (f.live_lands, f.live_authorities)).listing.id


@pytest.fixture
def tokens(api_token):
    return {
        "fitko": api_token(FITKO),
        "bb": api_token("viewer-bb@demo.test"),
    }


# --- the overview -----------------------------------------------------------------------


def test_overview_is_public_and_equals_the_service(app, client):
    response = get(client, "/dashboard")
    assert response.status_code == 200
    body = response.get_json()
    with app.app_context():
        expected = transparency.overview()
        assert body["totals"] == {
            "listings": len(expected.listings),
            "live_authorities": expected.live_authorities,
            "live_connections": expected.live_connections,
            "kreise_with_live": expected.kreise_with_live,
            "kreise_total": 401,
            "live_reuses": expected.live_reuses,
            "onboarding_reuses": expected.onboarding_reuses,
        }
        rows = {row["id"]: row for row in body["listings"]}
        assert [row["id"] for row in body["listings"]] == [f.listing.id for f in expected.listings]
        for figures in expected.listings:
            row = rows[figures.listing.id]
            assert row == {
                "id": figures.listing.id,
                "url": f"{API}/listings/{figures.listing.id}",
                "title": figures.listing.title,
                "ozg_id": figures.listing.ozg_id,
                "provider_land_ags": figures.listing.provider_land_ags,
                "live_lands": figures.live_lands,
                "onboarding_lands": figures.onboarding_lands,
                "not_started_lands": figures.not_started_lands,
                "live_authorities": figures.live_authorities,
                "kreise_with_live": figures.kreise_with_live,
                "kreise_total": 401,
            }
            assert row["live_lands"] + row["onboarding_lands"] + row["not_started_lands"] == 16
    # The demo has live Länder and authorities: the figures are not all zero.
    assert body["totals"]["live_reuses"] > 0 and body["totals"]["kreise_with_live"] > 0
    # Only published listings: no draft, submitted or withdrawn one.
    unpublished = {
        *listing_ids(app, ListingStatus.DRAFT),
        *listing_ids(app, ListingStatus.SUBMITTED),
        *listing_ids(app, ListingStatus.WITHDRAWN),
    }
    assert unpublished and not unpublished & set(rows)
    assert set(rows) == set(listing_ids(app, ListingStatus.PUBLISHED))


def test_a_listing_has_16_lands_and_401_kreise_as_the_service_says(app, client):
    listing_id = published_with_reuses(app)
    body = get(client, f"/dashboard/listings/{listing_id}").get_json()
    overview_row = next(
        row for row in get(client, "/dashboard").get_json()["listings"] if row["id"] == listing_id
    )
    # The same figures as in the overview.
    assert {key: body[key] for key in overview_row} == overview_row
    assert [row["land_ags"] for row in body["lands"]] == [f"{n:02d}" for n in range(1, 17)]
    assert len(body["kreise"]) == 401
    assert len({row["kreis_ags"] for row in body["kreise"]}) == 401
    with app.app_context():
        listing = db.session.get(Listing, listing_id)
        stages = transparency.current_stages([listing_id])
        counts = transparency.kreis_live_counts(listing_id)
        for row in body["lands"]:
            stage = stages.get((listing_id, row["land_ags"]))
            assert row["provider"] == (row["land_ags"] == listing.provider_land_ags)
            assert row["stage"] == (str(stage.stage) if stage else None)
            assert row["status"] == (stage.status if stage else "not_started")
            assert row["stage_since"] == (stage.stage_since.date().isoformat() if stage else None)
            assert row["name"]
    for row in body["kreise"]:
        assert row["live_authorities"] == counts.get(row["kreis_ags"], 0)
        assert row["land_ags"] == row["kreis_ags"][:2]
    assert sum(row["status"] == "live" for row in body["lands"]) == body["live_lands"]
    assert sum(row["status"] == "onboarding" for row in body["lands"]) == body["onboarding_lands"]
    assert sum(row["live_authorities"] for row in body["kreise"]) == body["live_authorities"]
    assert sum(row["live_authorities"] > 0 for row in body["kreise"]) == body["kreise_with_live"]
    assert body["live_lands"] > 0 and body["kreise_with_live"] > 0


@pytest.mark.parametrize("status", [ListingStatus.DRAFT, ListingStatus.WITHDRAWN])
def test_an_unpublished_listing_is_not_found(app, client, status):
    for listing_id in listing_ids(app, status):
        assert_problem(get(client, f"/dashboard/listings/{listing_id}"), 404)
        assert_problem(get(client, f"/dashboard/timeseries?listing_id={listing_id}"), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/listings/999999",
        f"/dashboard/listings/{2**31}",
        f"/dashboard/listings/{2**70}",
        "/dashboard/listings/0",
        "/dashboard/listings/abc",
        "/dashboard/listings/-1",
        "/dashboard/lands/17",
        "/dashboard/lands/00",
        "/dashboard/lands/DE-XX",
        "/dashboard/lands/bb",
        "/dashboard/lands/" + "1" * 500,
        "/dashboard/timeseries?listing_id=999999",
    ],
)
def test_unknown_things_are_404_problems(client, path):
    assert_problem(get(client, path), 404)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/dashboard?x=1", "x"),
        ("/dashboard?lang=fr", "lang"),
        ("/dashboard/listings/1?listing_id=1", "listing_id"),
        ("/dashboard/lands/12?page=1", "page"),
        ("/dashboard/timeseries?listing_id=abc", "listing_id"),
        ("/dashboard/timeseries?listing_id=0", "listing_id"),
        ("/dashboard/timeseries?listing_id=-5", "listing_id"),
        (f"/dashboard/timeseries?listing_id={2**31}", "listing_id"),
        (f"/dashboard/timeseries?listing_id={10**400}", "listing_id"),
        ("/dashboard/timeseries?listing_id=", "listing_id"),
        ("/dashboard/timeseries?listing_id=1.5", "listing_id"),
        ("/dashboard/timeseries?listing=1", "listing"),
        ("/dashboard/lands/%00", "land_ags"),
    ],
)
def test_bad_query_values_are_422_problems_naming_the_field(client, path, field):
    assert_problem(get(client, path), 422, field)


# --- one Land -----------------------------------------------------------------------------


def test_a_land_by_ags_iso_or_short_code_equals_the_service(app, client):
    bodies = [get(client, f"/dashboard/lands/{code}").get_json() for code in ("12", "DE-BB", "BB")]
    assert bodies[0] == bodies[1] == bodies[2]
    body = bodies[0]
    assert body["land"] == {"ags": "12", "iso": "DE-BB", "short": "BB", "name": "Brandenburg"}
    with app.app_context():
        expected = transparency.land_overview("12")
        assert [row["listing"]["id"] for row in body["live"]] == [x.id for x, _s in expected.live]
        assert [row["listing"]["id"] for row in body["onboarding"]] == [
            x.id for x, _s in expected.onboarding
        ]
        assert [row["id"] for row in body["not_started"]] == [x.id for x in expected.not_started]
        assert [row["id"] for row in body["provided"]] == [x.id for x in expected.provided]
        for row, (_listing, stage) in zip(body["live"], expected.live, strict=True):
            assert row["stage"] == "live"
            assert row["live_since"] == stage.live_since.isoformat()
            assert row["live_authorities"] == expected.live_authorities.get(row["listing"]["id"], 0)
        for row in body["onboarding"]:
            assert row["stage"] != "live" and row["live_since"] is None
    published = set(listing_ids(app, ListingStatus.PUBLISHED))
    shown = [row["listing"]["id"] for row in body["live"] + body["onboarding"]] + [
        row["id"] for row in body["not_started"]
    ]
    # Every published listing exactly once; nothing else.
    assert sorted(shown) == sorted(published)
    # Brandenburg provides the Aufenthaltstitel and runs it with its own authorities.
    assert body["live"] and body["provided"]
    assert sum(row["live_authorities"] for row in body["live"]) > 0


# --- the time series --------------------------------------------------------------------


def test_the_time_series_equals_the_service_and_ends_with_today(app, client):
    listing_id = published_with_reuses(app)
    for path, wanted in (
        ("/dashboard/timeseries", None),
        (f"/dashboard/timeseries?listing_id={listing_id}", listing_id),
    ):
        body = get(client, path).get_json()
        with app.app_context():
            points = transparency.time_series(wanted)
        assert body["points"] == [
            {
                "month": point.month.strftime("%Y-%m"),
                "live_lands": point.live_lands,
                "live_authorities": point.live_authorities,
            }
            for point in points
        ]
        assert body["points"][-1]["month"] == date.today().strftime("%Y-%m")
        assert (body["listing"] or {}).get("id") == wanted
        months = [point["month"] for point in body["points"]]
        assert months == sorted(set(months))


# --- lead times and waits ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/lead-times", "/waits", "/waits?days=0"])
def test_lead_times_and_waits_need_a_token(client, path):
    assert_problem(get(client, path), 401)
    assert_problem(get(client, path, {"Authorization": "Bearer not-a-token"}), 401)


def test_a_user_without_a_land_is_refused_lead_times(app, client, api_token):
    with app.app_context():
        bund = db.session.scalar(
            select(Organisation.id).where(Organisation.kind == OrganisationKind.BUND)
        )
        admin.create_user(
            user_by_email("admin@demo.test"),
            email="bund-viewer@demo.test",
            name="Bund Viewer",
            role="viewer",
            organisation_id=bund,
            password="a-long-enough-password",
        )
    headers = api_token("bund-viewer@demo.test")
    assert_problem(get(client, "/lead-times", headers), 403)
    assert_problem(get(client, "/waits", headers), 403)


def test_lead_times_equal_the_service_for_fitko_and_a_land(app, client, tokens):
    listing_id = published_with_reuses(app)
    for who, email in (("fitko", FITKO), ("bb", "viewer-bb@demo.test")):
        for query, wanted in (("", None), (f"?listing_id={listing_id}", listing_id)):
            response = get(client, f"/lead-times{query}", tokens[who])
            assert response.status_code == 200, response.get_data(as_text=True)
            body = response.get_json()
            with app.app_context():
                expected = transparency.lead_times(user_by_email(email), wanted)
            assert body["stages"] == [
                {
                    "stage": str(row.stage),
                    "count": row.count,
                    "median_days": row.median_days,
                    "p90_days": row.p90_days,
                }
                for row in expected
            ]
            assert (body["listing"] or {}).get("id") == wanted
    # The demo history has reuses that left interest: real figures, not only nulls.
    assert body["stages"][0]["stage"] == "interest"
    assert body["stages"][0]["count"] > 0 and body["stages"][0]["median_days"] is not None


def test_a_land_sees_lead_times_and_waits_of_its_listings_only(app, client, tokens, api_token):
    """A Land that neither provides, reuses nor belongs to the alliance of the demo's
    Aufenthaltstitel: 404 for its lead times, and none of its waits."""
    listing_id = published_with_reuses(app)
    shorts = [
        "sh",
        "hh",
        "ni",
        "hb",
        "nw",
        "he",
        "rp",
        "bw",
        "by",
        "sl",
        "be",
        "bb",
        "mv",
        "sn",
        "st",
        "th",
    ]
    with app.app_context():
        for short in shorts:
            email = f"editor-{short}@demo.test"
            visible = {x.id for x in transparency.lead_time_listings(user_by_email(email))}
            if listing_id not in visible:
                break
        else:
            pytest.fail("every Land sees the listing: the demo changed")
    outsider = api_token(email)
    assert_problem(get(client, f"/lead-times?listing_id={listing_id}", outsider), 404)
    assert get(client, f"/lead-times?listing_id={listing_id}", tokens["fitko"]).status_code == 200

    everyone = get(client, "/waits?days=0&page_size=100", tokens["fitko"]).get_json()
    mine = get(client, "/waits?days=0&page_size=100", outsider).get_json()
    assert any(item["listing"]["id"] == listing_id for item in everyone["items"])
    assert all(item["listing"]["id"] in visible for item in mine["items"])
    assert mine["total"] < everyone["total"]


def test_waits_equal_the_service_oldest_first_with_who_has_to_act(app, client, tokens):
    body = get(client, "/waits?days=0&page_size=100", tokens["fitko"]).get_json()
    with app.app_context():
        expected = transparency.waiting_list(user_by_email(FITKO), 0)
        assert body["threshold_days"] == 0
        assert body["total"] == len(expected) > 0
        assert [item["reuse"]["id"] for item in body["items"]] == [w.reuse.id for w in expected]
        for item, wait in zip(body["items"], expected, strict=True):
            assert item["party"] == wait.party
            assert item["land_ags"] == wait.land_ags
            assert item["days"] == wait.days
            assert item["reuse"]["stage"] == str(wait.reuse.stage)
            assert item["reuse"]["url"] == f"{API}/reuses/{wait.reuse.id}"
    since = [item["since"] for item in body["items"]]
    assert since == sorted(since)
    # The default threshold is the configured one; a huge one leaves nothing.
    default = get(client, "/waits", tokens["fitko"]).get_json()
    assert default["threshold_days"] == app.config["WAIT_THRESHOLD_DAYS"]
    assert all(item["days"] >= default["threshold_days"] for item in default["items"])
    assert get(client, "/waits?days=36500", tokens["fitko"]).get_json()["total"] == 0
    # Pages: two items per page cover the same list.
    paged = []
    for page in range(1, body["total"] // 2 + 2):
        answer = get(client, f"/waits?days=0&page_size=2&page={page}", tokens["fitko"]).get_json()
        assert answer["pages"] == (body["total"] + 1) // 2
        paged += [item["reuse"]["id"] for item in answer["items"]]
    assert paged == [item["reuse"]["id"] for item in body["items"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("days=-1", "days"),
        ("days=36501", "days"),
        ("days=abc", "days"),
        (f"days={10**30}", "days"),
        ("page=0", "page"),
        ("page_size=1000", "page_size"),
        ("listing_id=1", "listing_id"),
        ("threshold=5", "threshold"),
    ],
)
def test_bad_wait_queries_are_422(client, tokens, query, field):
    assert_problem(get(client, f"/waits?{query}", tokens["fitko"]), 422, field)


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("listing_id=abc", 422, "listing_id"),
        ("listing_id=0", 422, "listing_id"),
        (f"listing_id={2**40}", 422, "listing_id"),
        ("days=3", 422, "days"),
        ("listing_id=999999", 404, None),
    ],
)
def test_bad_lead_time_queries(client, tokens, query, status, field):
    assert_problem(get(client, f"/lead-times?{query}", tokens["fitko"]), status, field)


# --- the generated data set -------------------------------------------------------------


def test_the_figures_are_those_of_the_generated_data(app, client):
    with app.app_context():
        generated = generated_adoption(seed=11, kreise=(53,))
    made = generated.listings[0]
    row = next(r for r in get(client, "/dashboard").get_json()["listings"] if r["id"] == made.id)
    assert (row["kreise_with_live"], row["kreise_total"]) == (53, 401)
    assert row["live_lands"] == made.live_lands == 5
    assert row["onboarding_lands"] == made.onboarding_lands
    assert row["live_authorities"] == made.live_authorities

    body = get(client, f"/dashboard/listings/{made.id}").get_json()
    assert {r["land_ags"]: r["status"] for r in body["lands"]} == {
        f"{n:02d}": made.status(f"{n:02d}") for n in range(1, 17)
    }
    assert {
        r["kreis_ags"]: r["live_authorities"] for r in body["kreise"] if r["live_authorities"]
    } == made.live_kreise
    provider = [r for r in body["lands"] if r["provider"]]
    assert [r["land_ags"] for r in provider] == [made.provider]
    assert provider[0]["status"] == "live"

    series = get(client, f"/dashboard/timeseries?listing_id={made.id}").get_json()["points"]
    assert series[-1]["live_lands"] == made.live_lands
    assert series[-1]["live_authorities"] == made.live_authorities
    # The provider's own use went live first, the adopters later: the series grows.
    assert series[0]["live_lands"] < series[-1]["live_lands"]

    for land_ags, count in made.live_by_land.items():
        land = get(client, f"/dashboard/lands/{land_ags}").get_json()
        live = {r["listing"]["id"]: r["live_authorities"] for r in land["live"]}
        assert live[made.id] == count


def test_every_operation_runs_a_constant_number_of_queries(app, client, tokens, count_queries):
    def counts() -> dict[str, int]:
        listing_id = published_with_reuses(app)
        result = {}
        for template in PUBLIC_URLS:
            path = template.format(id=listing_id)
            with count_queries() as counter:
                assert get(client, path).status_code == 200, path
            result[template] = counter.count
        for path in ("/lead-times", "/waits?days=0&page_size=100"):
            for who in ("fitko", "bb"):
                get(client, path, tokens[who])  # the token's first use writes once
                with count_queries() as counter:
                    assert get(client, path, tokens[who]).status_code == 200, path
                result[f"{who} {path}"] = counter.count
        return result

    before = counts()
    with app.app_context():
        generated_adoption(seed=12, kreise=(30, 8))
    after = counts()
    assert after == before
    # The public figures take a handful of queries, whatever the data.
    assert max(before[url] for url in PUBLIC_URLS) <= 5


def test_the_operations_are_documented(client):
    spec = client.get(f"{API}/openapi.json").get_json()
    paths = spec["paths"]
    public = (
        "/api/v1/dashboard",
        "/api/v1/dashboard/listings/{listing_id}",
        "/api/v1/dashboard/lands/{land_ags}",
        "/api/v1/dashboard/timeseries",
    )
    for path in public:
        operation = paths[path]["get"]
        assert operation["security"] == [{}], path
        assert "200" in operation["responses"] and "422" in operation["responses"]
    for path in ("/api/v1/lead-times", "/api/v1/waits"):
        operation = paths[path]["get"]
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"200", "401", "403", "422"} <= set(operation["responses"])
