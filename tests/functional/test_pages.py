"""Public pages: the Germany map, Land pages with their Kreise and authorities, legal pages."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fitstore.extensions import db
from fitstore.models import Authority, CostKeyValue, Themenfeld

DATA = Path(__file__).resolve().parents[2] / "fitstore" / "data"


def test_reference_data_is_complete(app):
    with app.app_context():
        count = lambda model, *where: db.session.scalar(  # noqa: E731
            select(func.count()).select_from(model).where(*where)
        )
        assert count(Themenfeld) == 14
        assert count(Authority, Authority.level == "kreis") == 401
        assert count(Authority, Authority.level == "gemeinde") == 11_299
        for key, year in (("koenigstein", 2017), ("koenigstein", 2015)):
            total = db.session.scalar(
                select(func.sum(CostKeyValue.value)).where(
                    CostKeyValue.key == key, CostKeyValue.year == year
                )
            )
            assert Decimal(total) == Decimal("100.00000")
        population = db.session.scalar(
            select(func.sum(CostKeyValue.value)).where(
                CostKeyValue.key == "population", CostKeyValue.year == 2018
            )
        )
        with open(DATA / "kreise.csv", encoding="utf-8") as handle:
            expected = sum(int(row["population"]) for row in csv.DictReader(handle, delimiter=";"))
        assert int(population) == expected


@pytest.mark.parametrize("code", ["12", "BB", "bb", "DE-BB"])
def test_land_page_accepts_every_code(client, code):
    response = client.get(f"/laender/{code}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1" in page and "Brandenburg" in page
    assert "Karte der 18 Kreise" in page  # 14 Landkreise + 4 kreisfreie Städte
    assert "Elbe-Elster" in page


@pytest.mark.parametrize("code", ["XX", "17", "DE-ZZ", "<b>"])
def test_unknown_land_is_a_friendly_404(client, code):
    response = client.get(f"/laender/{code}")
    assert response.status_code == 404
    assert "Diese Seite gibt es nicht" in response.get_data(as_text=True)


def test_land_page_searches_authorities_by_name_and_code(client):
    page = client.get("/laender/12?q=teltow").get_data(as_text=True)
    assert "Teltow-Fläming" in page
    page = client.get("/laender/12?q=12062").get_data(as_text=True)  # Elbe-Elster
    assert "Elbe-Elster" in page and "Herzberg" in page
    page = client.get("/laender/12?q=potsdam&level=kreis").get_data(as_text=True)
    assert "Potsdam, Stadt" in page and "Potsdam-Mittelmark" in page


def test_land_page_paginates_and_never_shows_other_lands(client):
    first = client.get("/laender/12").get_data(as_text=True)
    second = client.get("/laender/12?page=2").get_data(as_text=True)
    assert 'rel="next"' in first and 'rel="prev"' in second
    assert first != second
    # Hamburg's authorities are not Brandenburg's: the search inside Brandenburg finds none.
    assert "0 Behörden gefunden" in client.get("/laender/12?q=hamburg").get_data(as_text=True)


def test_land_page_query_count_does_not_grow_with_data(client, count_queries):
    client.get("/laender/12")  # warm-up
    with count_queries() as all_authorities:
        assert client.get("/laender/12").status_code == 200
    with count_queries() as few:
        assert client.get("/laender/12?q=herzberg").status_code == 200
    with count_queries() as bayern:
        assert client.get("/laender/09?page=40").status_code == 200  # 2,000+ Gemeinden
    assert all_authorities.count == few.count == bayern.count


def test_home_page_query_count_is_constant_for_a_logged_in_user(client, login_as, count_queries):
    login_as("editor-bb@demo.test")
    client.get("/")
    with count_queries() as counter:
        client.get("/")
    # Session, user, Länder for the map, and the header's unread-notification COUNT.
    assert counter.count <= 4


def test_accessibility_statement_has_feedback_form_and_footer_link(client):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/barrierefreiheit"' in page and "Erklärung zur Barrierefreiheit" in page
    statement = client.get("/barrierefreiheit").get_data(as_text=True)
    assert "<form" in statement and 'name="message"' in statement
    assert "Schlichtungsverfahren" in statement


def test_impressum_and_privacy(client):
    assert "FITKO" in client.get("/impressum").get_data(as_text=True)
    assert "Cookie" in client.get("/datenschutz").get_data(as_text=True)


def test_skip_link_and_language(client):
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="de">' in page
    assert 'href="#main"' in page and 'id="main"' in page


def test_maps_have_text_alternatives(client):
    home = client.get("/").get_data(as_text=True)
    assert home.count('aria-label="') >= 16
    land = client.get("/laender/12").get_data(as_text=True)
    assert 'role="img"' in land and "<table" in land


def test_pages_use_only_vendored_assets(client):
    import re

    for url in ("/", "/api/v1/docs", "/anmelden"):
        page = client.get(url).get_data(as_text=True)
        external = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//', page)
        assert external == [], url
    assert client.get("/static/vendor/kern-ux/kern.min.css").status_code == 200
    assert client.get("/static/vendor/kern-ux/LICENSE.md").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "endpoint=x",
        "page=%C2%B2",  # a superscript two is a digit to isdigit(), not to int()
        "_method=POST",
        "_external=1",
        "code=HE",
        "page=2&q=a&_anchor=x",
        "level=kreis&code=09",
    ],
)
def test_query_string_cannot_steer_the_page_links(client, query):
    response = client.get(f"/laender/BB?{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "http://localhost" not in page  # no absolute links from the Host header
    for link in re.findall(r'href="(/laender/[^"]*)"', page):
        assert link.startswith(("/laender/BB", "/laender/12"))  # never another Land's list


def test_page_links_keep_the_search(client):
    page = client.get("/laender/09?q=berg").get_data(as_text=True)
    assert 'href="/laender/09?q=berg&amp;page=2"' in page
