"""The rollout page of a reuse (Einführung bei Behörden): progress, Kreis map and table,
the list with bulk moves, adding authorities, refusals, and who sees what.

Each test builds its own contracted reuse through the services: Bayern adopts a fresh
published listing of Brandenburg (FITKO checks and countersigns with effective date
today). Everything after that happens through the pages.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from fitstore.extensions import db
from fitstore.models import Authority, Rollout
from fitstore.models.base import utcnow
from fitstore.services import listings, reuses
from tests.factories import listing_content, user_by_email

EDITOR = "editor-by@demo.test"  # the adopter Land's editor
VIEWER = "viewer-by@demo.test"
PROVIDER = "editor-bb@demo.test"

# Bavarian authorities: Gemeinde Ingolstadt, Gemeinde München, Kreis München (city).
INGOLSTADT, MUENCHEN, MUENCHEN_KREIS = "09161000", "09162000", "09162"
ROSENHEIM = "09163"  # kreisfreie Stadt: the Kreis and its one Gemeinde 09163000
ALTOETTING = "09171"  # Landkreis with 24 Gemeinden
BRANDENBURG_HAVEL = "12051000"  # a Gemeinde of the provider Land


def today():
    return utcnow().date()


def text_of(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


def url(reuse_id: int, tail: str = "") -> str:
    return f"/nachnutzungen/{reuse_id}/einfuehrung{tail}"


def contracted_reuse(app, adopter: str = EDITOR) -> int:
    """A reuse of a new Brandenburg listing by ``adopter``'s Land, contracted today."""
    with app.app_context():
        provider = user_by_email(PROVIDER)
        editor = user_by_email(adopter)
        listing = listings.create_listing(provider, listing_content(title="Einführungstest"))
        listings.submit_listing(provider, listing.id)
        listings.publish_listing(user_by_email("fitko-1@demo.test"), listing.id)
        reuse = reuses.express_interest(
            editor, listing.id, {"planned_start": None, "expected_usage": 100, "note": ""}
        )
        reuses.transition(provider, reuse.id, "start_coordination")
        reuses.propose_conditions(
            provider,
            reuse.id,
            {
                "condition_model": "annual_fee",
                "annual_fee_cents": 100_000,
                "connection_cost_cents": 50_000,
                "scope": "Betrieb und Pflege",
                "conditions_start": today().isoformat(),
            },
        )
        reuses.transition(editor, reuse.id, "order")
        contract_id = reuse.contract.id
        reuses.check_contract(
            user_by_email("fitko-1@demo.test"),
            contract_id,
            {"eligibility_basis": "traeger", "legal_basis": reuses.DEFAULT_LEGAL_BASIS},
        )
        reuses.countersign_contract(
            user_by_email("fitko-2@demo.test"), contract_id, {"effective_date": today()}
        )
        return reuse.id


def bring_live(app, reuse_id: int) -> None:
    """The reuse itself: connecting, checklist done, testing, live (through the service)."""
    with app.app_context():
        editor = user_by_email(EDITOR)
        reuses.transition(editor, reuse_id, "start_connecting")
        reuse = reuses.get_reuse(editor, reuse_id)
        for item in [i for i in reuse.onboarding_items if i.mandatory]:
            reuses.update_onboarding_item(editor, reuse_id, item.key, True)
        reuses.transition(editor, reuse_id, "start_testing")
        reuses.transition(editor, reuse_id, "go_live")


def statuses(app, reuse_id: int) -> dict[str, str]:
    with app.app_context():
        return {
            ags: str(status)
            for ags, status in db.session.execute(
                select(Authority.ags, Rollout.status)
                .join(Authority, Authority.id == Rollout.authority_id)
                .where(Rollout.reuse_id == reuse_id)
            )
        }


def add(client, reuse_id: int, codes, planned_on: str = ""):
    return client.post(
        url(reuse_id, "/hinzufuegen"), data={"add-codes": codes, "add-planned_on": planned_on}
    )


def add_kreis(client, reuse_id: int, kreis: str, planned_on: str = ""):
    return client.post(
        url(reuse_id, "/hinzufuegen"), data={"kreis-kreis": kreis, "kreis-planned_on": planned_on}
    )


def move(client, reuse_id: int, codes, status: str, on=None, scope: str = "selected", **extra):
    data = {"codes": codes, "status": status, "date": (on or today()).isoformat(), "scope": scope}
    data.update(extra)
    return client.post(url(reuse_id, "/status"), data=data)


@pytest.fixture
def reuse_id(app):
    return contracted_reuse(app)


@pytest.fixture
def five(app, client, login_as, reuse_id):
    """Five Bavarian authorities planned: Ingolstadt, München (Gemeinde and Kreis) and the
    whole kreisfreie Stadt Rosenheim (Kreis and Gemeinde)."""
    login_as(EDITOR)
    assert add(client, reuse_id, [INGOLSTADT, MUENCHEN, MUENCHEN_KREIS]).status_code == 302
    assert add_kreis(client, reuse_id, ROSENHEIM).status_code == 302
    return reuse_id


# --- adding ---------------------------------------------------------------------------------


def test_editor_finds_authorities_by_name_and_adds_the_checked_ones(
    app, client, login_as, reuse_id
):
    login_as(EDITOR)
    page = client.get(url(reuse_id), query_string={"suche": "Ingolstadt"})
    assert page.status_code == 200
    body = text_of(page)
    assert "Einführung bei Behörden" in body
    assert f'name="add-codes" value="{INGOLSTADT}"' in body
    assert "Noch keine Behörde in der Einführung." in body
    # Only Bavaria's authorities are offered.
    brandenburg = client.get(url(reuse_id), query_string={"suche": "Brandenburg an der Havel"})
    assert "0 Behörden gefunden" in text_of(brandenburg)

    response = add(client, reuse_id, [INGOLSTADT, MUENCHEN])
    assert response.status_code == 302
    assert url(reuse_id) in response.headers["Location"]
    assert statuses(app, reuse_id) == {INGOLSTADT: "planned", MUENCHEN: "planned"}
    after = text_of(client.get(url(reuse_id), query_string={"suche": "Ingolstadt"}))
    assert "2 Behörden zur Einführung hinzugefügt (geplant)." in after
    assert "0 von 2 Behörden live" in after
    assert "bereits in der Einführung" in after
    assert f'name="add-codes" value="{INGOLSTADT}"' not in after


def test_whole_kreis_adds_the_kreis_and_all_its_gemeinden(app, client, login_as, reuse_id):
    login_as(EDITOR)
    page = text_of(client.get(url(reuse_id)))
    assert f'<option value="{ALTOETTING}">Altötting' in page
    response = add_kreis(client, reuse_id, ALTOETTING)
    assert response.status_code == 302
    with app.app_context():
        expected = set(
            db.session.scalars(select(Authority.ags).where(Authority.kreis_ags == ALTOETTING))
        )
    assert len(expected) == 25  # the Landkreis and its 24 Gemeinden
    assert set(statuses(app, reuse_id)) == expected
    assert "25 Behörden zur Einführung hinzugefügt" in text_of(client.get(url(reuse_id)))
    # Twice changes nothing.
    again = add_kreis(client, reuse_id, ALTOETTING)
    assert again.status_code == 302
    assert "bereits in der Einführung" in text_of(client.get(url(reuse_id)))
    assert len(statuses(app, reuse_id)) == 25


def test_another_lands_authority_is_refused_and_nothing_is_stored(app, client, login_as, reuse_id):
    login_as(EDITOR)
    response = add(client, reuse_id, [INGOLSTADT, BRANDENBURG_HAVEL])
    assert response.status_code == 422
    body = text_of(response)
    assert f"Diese Behörden gehören nicht zu Bayern: {BRANDENBURG_HAVEL}" in body
    assert "Bitte prüfen Sie Ihre Angaben" in body
    assert statuses(app, reuse_id) == {}
    kreis = add_kreis(client, reuse_id, "12051")
    assert kreis.status_code == 422
    assert "gehören nicht zu Bayern" in text_of(kreis)
    assert statuses(app, reuse_id) == {}


def test_adding_needs_a_choice_and_a_valid_date(app, client, login_as, reuse_id):
    login_as(EDITOR)
    nothing = add(client, reuse_id, [])
    assert nothing.status_code == 422
    assert "Bitte wählen Sie mindestens eine Behörde aus." in text_of(nothing)
    no_kreis = add_kreis(client, reuse_id, "")
    assert no_kreis.status_code == 422
    assert "Bitte wählen Sie einen Kreis aus." in text_of(no_kreis)
    early = add(client, reuse_id, [INGOLSTADT], (today() - timedelta(days=1)).isoformat())
    assert early.status_code == 422
    assert "Das Datum liegt vor dem Vertragsbeginn" in text_of(early)
    garbage = add(client, reuse_id, ["abc"], "gestern")
    assert garbage.status_code == 422
    assert statuses(app, reuse_id) == {}


# --- moving -----------------------------------------------------------------------------------


def test_bulk_move_of_three_at_once(app, client, login_as, five):
    response = move(client, five, [INGOLSTADT, MUENCHEN, "09163000"], "connecting")
    assert response.status_code == 302
    page = text_of(client.get(response.headers["Location"]))
    assert "3 Behörden auf „in Anbindung“ gesetzt." in page
    assert statuses(app, five) == {
        INGOLSTADT: "connecting",
        MUENCHEN: "connecting",
        "09163000": "connecting",
        MUENCHEN_KREIS: "planned",
        ROSENHEIM: "planned",
    }


def test_all_on_this_page_moves_the_rows_shown(app, client, login_as, five):
    page = text_of(client.get(url(five), query_string={"status": "planned", "q": "münchen"}))
    shown = re.findall(r'name="page_codes" value="(\d+)"', page)
    assert sorted(shown) == [MUENCHEN_KREIS, MUENCHEN]
    response = move(
        client,
        five,
        [],
        "connecting",
        scope="page",
        page_codes=shown,
    )
    assert response.status_code == 302
    assert statuses(app, five)[MUENCHEN] == "connecting"
    assert statuses(app, five)[MUENCHEN_KREIS] == "connecting"
    assert statuses(app, five)[INGOLSTADT] == "planned"


def test_moving_a_brandenburg_authority_is_refused(app, client, login_as, five):
    response = move(client, five, [INGOLSTADT, BRANDENBURG_HAVEL], "connecting")
    assert response.status_code == 422
    assert f"Nicht in der Einführung dieses Landes: {BRANDENBURG_HAVEL}" in text_of(response)
    assert set(statuses(app, five).values()) == {"planned"}


def test_a_date_before_the_contract_is_refused(app, client, login_as, five):
    response = move(client, five, [INGOLSTADT], "connecting", today() - timedelta(days=1))
    assert response.status_code == 422
    body = text_of(response)
    assert "Das Datum liegt vor dem Vertragsbeginn" in body
    assert 'href="#date"' in body  # the error summary leads to the field
    assert statuses(app, five)[INGOLSTADT] == "planned"
    future = move(client, five, [INGOLSTADT], "connecting", today() + timedelta(days=1))
    assert future.status_code == 422
    assert "Das Datum darf nicht in der Zukunft liegen." in text_of(future)


def test_live_only_after_the_reuse_is_live_and_never_skipping_a_step(app, client, login_as, five):
    assert move(client, five, [INGOLSTADT], "connecting").status_code == 302
    early = move(client, five, [INGOLSTADT], "live")
    assert early.status_code == 409
    assert "Behörden gehen erst live, wenn die Nachnutzung im Produktivbetrieb ist" in text_of(
        early
    )
    assert statuses(app, five)[INGOLSTADT] == "connecting"

    bring_live(app, five)
    skip = move(client, five, [MUENCHEN], "live")
    assert skip.status_code == 409
    assert "kein Schritt darf übersprungen werden" in text_of(skip)
    assert statuses(app, five)[MUENCHEN] == "planned"
    # All or nothing: one row that cannot move keeps the others where they are.
    mixed = move(client, five, [INGOLSTADT, MUENCHEN], "live")
    assert mixed.status_code == 409
    assert statuses(app, five)[INGOLSTADT] == "connecting"

    done = move(client, five, [INGOLSTADT], "live")
    assert done.status_code == 302
    assert "1 Behörde auf „live“ gesetzt." in text_of(client.get(url(five)))
    assert statuses(app, five)[INGOLSTADT] == "live"


def test_malformed_moves_get_messages_not_errors(app, client, login_as, five):
    cases = [
        ({"codes": ["x1"], "status": "connecting", "date": today().isoformat()}, 422),
        ({"codes": [INGOLSTADT], "status": "weit", "date": today().isoformat()}, 422),
        ({"codes": [INGOLSTADT], "status": "planned", "date": today().isoformat()}, 422),
        ({"codes": [INGOLSTADT], "status": "connecting", "date": "morgen"}, 422),
        ({"codes": [INGOLSTADT], "status": "connecting"}, 422),
        ({"status": "connecting", "date": today().isoformat()}, 422),
        ({"codes": ["1" * 50], "status": "connecting", "date": today().isoformat()}, 422),
    ]
    for data, expected in cases:
        response = client.post(url(five, "/status"), data=data)
        assert response.status_code == expected, data
        assert "Bitte prüfen Sie Ihre Angaben" in text_of(response)
    assert set(statuses(app, five).values()) == {"planned"}


# --- the overview: progress, map and table agree ----------------------------------------------


def _kreis_table(body: str) -> dict[str, tuple[int, int, int]]:
    table = body.split('id="kreis-table"', 1)[1].split("</table>", 1)[0]
    rows = {}
    for name, planned, connecting, live in re.findall(
        r'<th class="kern-table__header" scope="row">([^<]+)</th>'
        r' <td class="kern-table__cell">(\d+)</td>'
        r' <td class="kern-table__cell">(\d+)</td>'
        r' <td class="kern-table__cell">(\d+)</td>',
        table,
    ):
        rows[name.strip()] = (int(planned), int(connecting), int(live))
    return rows


def test_progress_text_matches_map_and_table(app, client, login_as, five):
    move(client, five, [INGOLSTADT, MUENCHEN, "09163000"], "connecting")
    bring_live(app, five)
    assert move(client, five, [INGOLSTADT, MUENCHEN], "live").status_code == 302
    response = client.get(url(five))
    body = text_of(response)
    assert "2 von 5 Behörden live" in body
    assert '<progress class="progress-bar" max="5" value="2"' in body
    table = _kreis_table(body)
    assert table == {
        "Ingolstadt": (0, 0, 1),
        "München, Landeshauptstadt": (1, 0, 1),
        "Rosenheim": (1, 1, 0),
        "Summe": (2, 1, 2),
    }
    # The map: one path per Kreis of Bavaria, coloured by the farthest status there.
    assert len(re.findall(r'<path class="rollout--', body)) == 96
    assert len(re.findall(r'<path class="rollout--live"', body)) == 2
    assert len(re.findall(r'<path class="rollout--connecting"', body)) == 1
    assert len(re.findall(r'<path class="rollout--none"', body)) == 93
    assert "<title>Rosenheim: in Anbindung (geplant 1, in Anbindung 1, live 0)</title>" in body
    assert "keine Behörde in der Einführung" in body  # legend and titles name the empty ones
    for swatch in ("live", "connecting", "planned", "none"):
        assert f'<span class="swatch rollout--{swatch}" aria-hidden="true"></span>' in body
    assert "In 93 weiteren Kreisen ist noch keine Behörde in der Einführung." in body


def test_list_filters_by_status_and_name(client, login_as, five):
    planned = text_of(client.get(url(five), query_string={"status": "planned"}))
    assert "5 Behörden gefunden" in planned
    by_name = text_of(client.get(url(five), query_string={"q": "rosenheim"}))
    assert "2 Behörden gefunden" in by_name
    assert '<label class="kern-label" for="row-' in by_name  # each checkbox names its authority
    # An unknown status filter is ignored rather than failing.
    assert client.get(url(five), query_string={"status": "kaputt"}).status_code == 200


def test_csv_export(client, login_as, five):
    response = client.get(url(five, ".csv"))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeffBehörde;AGS;Art;Ebene;Kreis;Status;Status seit;live seit\r\n")
    lines = text.strip().split("\r\n")
    assert len(lines) == 6
    assert any(
        line.startswith(f"Ingolstadt;{INGOLSTADT};") and ";geplant;" in line for line in lines
    )


# --- who sees what ------------------------------------------------------------------------------


def test_viewer_of_the_adopter_land_sees_the_page_but_no_forms(client, login_as, app, five):
    client.post("/abmelden")
    login_as(VIEWER)
    response = client.get(url(five), query_string={"suche": "Ingolstadt"})
    assert response.status_code == 200
    body = text_of(response)
    assert "0 von 5 Behörden live" in body
    assert 'method="post"' not in body.split("<main", 1)[1].split("</main>", 1)[0]
    assert 'type="checkbox"' not in body
    assert "Behörden hinzufügen" not in body
    assert move(client, five, [INGOLSTADT], "connecting").status_code == 403
    assert add(client, five, [INGOLSTADT]).status_code == 403
    assert set(statuses(app, five).values()) == {"planned"}


def test_provider_editor_sees_the_page_but_cannot_change_it(client, login_as, app, five):
    client.post("/abmelden")
    login_as(PROVIDER)
    body = text_of(client.get(url(five)))
    assert "0 von 5 Behörden live" in body
    assert "Behörden hinzufügen" not in body
    assert move(client, five, [INGOLSTADT], "connecting").status_code == 403
    assert set(statuses(app, five).values()) == {"planned"}


@pytest.mark.parametrize("email", ["viewer-he@demo.test", "editor-he@demo.test"])
def test_another_lands_users_get_404(client, login_as, app, five, email):
    client.post("/abmelden")
    login_as(email)
    assert client.get(url(five)).status_code == 404
    assert client.get(url(five, ".csv")).status_code == 404
    if email.startswith("editor"):
        assert move(client, five, [INGOLSTADT], "connecting").status_code == 404
        assert add(client, five, ["06411000"]).status_code == 404
    assert set(statuses(app, five).values()) == {"planned"}


def test_anonymous_is_sent_to_the_login(client, reuse_id):
    response = client.get(url(reuse_id))
    assert response.status_code == 302
    assert "/anmelden?next=" in response.headers["Location"]
    post = client.post(url(reuse_id, "/status"), data={"codes": INGOLSTADT})
    assert post.status_code == 302
    assert "/anmelden" in post.headers["Location"]


def test_unknown_reuse_is_404(client, login_as):
    login_as(EDITOR)
    assert client.get(url(999_999)).status_code == 404
    assert move(client, 999_999, [INGOLSTADT], "connecting").status_code == 404


def test_before_the_contract_the_page_explains_and_adding_is_refused(app, client, login_as):
    with app.app_context():
        provider = user_by_email(PROVIDER)
        listing = listings.create_listing(provider, listing_content(title="Noch ohne Vertrag"))
        listings.submit_listing(provider, listing.id)
        listings.publish_listing(user_by_email("fitko-1@demo.test"), listing.id)
        reuse_id = reuses.express_interest(user_by_email(EDITOR), listing.id, {}).id
    login_as(EDITOR)
    page = client.get(url(reuse_id))
    assert page.status_code == 200
    body = text_of(page)
    assert "beginnt mit dem Vertrag" in body
    assert "Behörden hinzufügen" not in body
    refused = add(client, reuse_id, [INGOLSTADT])
    assert refused.status_code == 409
    assert "Die Einführung bei Behörden beginnt erst mit dem Vertrag" in text_of(refused)
    assert statuses(app, reuse_id) == {}


# --- performance ------------------------------------------------------------------------------


def _queries_for_page(client, count_queries, reuse_id: int) -> int:
    client.get(url(reuse_id))  # warm-up: caches (map file, session) filled once
    with count_queries() as counter:
        response = client.get(url(reuse_id), query_string={"suche": "a"})
    assert response.status_code == 200
    return counter.count


def test_the_page_runs_a_constant_number_of_queries(app, client, login_as, count_queries):
    small = contracted_reuse(app)
    login_as(EDITOR)
    assert add(client, small, [INGOLSTADT, MUENCHEN]).status_code == 302
    with app.app_context():
        codes = list(
            db.session.scalars(
                select(Authority.ags)
                .where(Authority.land_ags == "09", Authority.level == "gemeinde")
                .order_by(Authority.ags)
                .limit(200)
            )
        )
    # A second reuse of another listing by the same Land, with 200 rows.
    big = contracted_reuse(app)
    assert add(client, big, codes).status_code == 302
    assert move(client, big, codes[:60], "connecting").status_code == 302
    with app.app_context():
        counted = db.session.scalar(
            select(func.count()).select_from(Rollout).where(Rollout.reuse_id == big)
        )
    assert counted == 200
    few = _queries_for_page(client, count_queries, small)
    many = _queries_for_page(client, count_queries, big)
    assert few == many


def test_the_forms_carry_their_csrf_token(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    reuse_id = contracted_reuse(app)
    client = app.test_client()
    page = client.get("/anmelden").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post(
        "/anmelden",
        data={"email": EDITOR, "password": "fitstore-demo", "csrf_token": token},
    )
    body = client.get(url(reuse_id), query_string={"suche": "Ingolstadt"}).get_data(as_text=True)
    forms = re.findall(r'<form method="post".*?</form>', body, flags=re.S)
    assert len(forms) == 2  # search results and whole Kreis (no rows yet: no bulk form)
    tokens = [
        re.search(r'name="([a-z-]*csrf_token)" type="hidden" value="([^"]+)"', f) for f in forms
    ]
    assert [t.group(1) for t in tokens if t] == ["add-csrf_token", "kreis-csrf_token"]
    refused = client.post(url(reuse_id, "/hinzufuegen"), data={"add-codes": INGOLSTADT})
    assert refused.status_code == 400
    assert statuses(app, reuse_id) == {}
    added = client.post(
        url(reuse_id, "/hinzufuegen"),
        data={"add-codes": INGOLSTADT, "add-csrf_token": tokens[0].group(2)},
    )
    assert added.status_code == 302
    assert statuses(app, reuse_id) == {INGOLSTADT: "planned"}
    body = client.get(url(reuse_id)).get_data(as_text=True)
    bulk = re.search(r'<form method="post" action="[^"]*/status.*?</form>', body, flags=re.S)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', bulk.group(0))
    moved = client.post(
        url(reuse_id, "/status"),
        data={
            "codes": INGOLSTADT,
            "status": "connecting",
            "date": today().isoformat(),
            "csrf_token": token.group(1),
        },
    )
    assert moved.status_code == 302
    assert statuses(app, reuse_id) == {INGOLSTADT: "connecting"}
