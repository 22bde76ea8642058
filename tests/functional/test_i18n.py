"""German first, English second: locale selection, the language switch and the catalogue."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def page(response) -> str:
    return response.get_data(as_text=True)


def test_home_is_german_by_default(client):
    response = client.get("/")
    assert response.status_code == 200
    text = page(response)
    assert '<html lang="de">' in text
    assert "Die Länder" in text
    assert "The Länder" not in text


def test_accept_language_en_gives_english(client):
    text = page(client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}))
    assert '<html lang="en">' in text
    assert "The Länder" in text
    assert "Skip to content" in text
    assert "Die Länder" not in text


def test_accept_language_prefers_german_when_asked(client):
    text = page(client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}))
    assert '<html lang="de">' in text
    assert "Die Länder" in text


def test_lang_query_parameter_gives_english(client):
    text = page(client.get("/?lang=en"))
    assert '<html lang="en">' in text
    assert "The Länder" in text


def test_lang_query_parameter_overrides_accept_language(client):
    text = page(client.get("/?lang=de", headers={"Accept-Language": "en"}))
    assert '<html lang="de">' in text
    assert "Die Länder" in text


def test_unknown_language_falls_back_to_german(client):
    text = page(client.get("/?lang=fr", headers={"Accept-Language": "fr"}))
    assert '<html lang="de">' in text


def test_header_offers_the_other_language(client):
    german = page(client.get("/"))
    assert 'action="/sprache"' in german
    assert 'name="lang" value="en"' in german
    english = page(client.get("/?lang=en"))
    assert 'name="lang" value="de"' in english


def test_language_switch_stores_choice_and_returns_to_page(client):
    response = client.post("/sprache", data={"lang": "en", "next": "/impressum"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/impressum"

    imprint = page(client.get("/impressum"))
    assert '<html lang="en">' in imprint
    assert "Legal notice" in imprint

    home = page(client.get("/"))
    assert '<html lang="en">' in home
    assert "The Länder" in home

    client.post("/sprache", data={"lang": "de", "next": "/"})
    assert '<html lang="de">' in page(client.get("/"))


def test_stored_choice_beats_accept_language(client):
    client.post("/sprache", data={"lang": "en", "next": "/"})
    text = page(client.get("/", headers={"Accept-Language": "de"}))
    assert '<html lang="en">' in text


def test_language_switch_ignores_unknown_language(client):
    response = client.post("/sprache", data={"lang": "xx", "next": "/"})
    assert response.status_code == 302
    assert '<html lang="de">' in page(client.get("/"))


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example", "/\\evil.example", "http:/evil.example", ""],
)
def test_language_switch_has_no_open_redirect(client, target):
    response = client.post("/sprache", data={"lang": "en", "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_language_choice_survives_login(client, login_as):
    client.post("/sprache", data={"lang": "en", "next": "/"})
    login_as("editor-bb@demo.test")
    text = page(client.get("/"))
    assert '<html lang="en">' in text
    assert "My account" in text
    assert "Log out" in text


def test_form_errors_are_english_on_the_english_login_page(client):
    response = client.post("/anmelden?lang=en", data={"email": "", "password": ""})
    assert response.status_code == 422
    text = page(response)
    assert '<html lang="en">' in text
    assert "Please enter your email address." in text
    assert "Please enter your password." in text
    assert "Please check your entries" in text  # error summary from templates/_macros/
    assert "Bitte geben Sie" not in text
    assert "Bitte prüfen Sie" not in text


def test_form_errors_are_german_by_default(client):
    text = page(client.post("/anmelden", data={"email": "", "password": ""}))
    assert "Bitte geben Sie Ihre E-Mail-Adresse an." in text


def test_api_problem_title_is_localised(client):
    english = client.get("/api/v1/authorities?ars=1", headers={"Accept-Language": "en"})
    assert english.status_code == 422
    assert english.mimetype == "application/problem+json"
    body = english.get_json()
    assert body["title"] == "Invalid input"
    assert body["errors"]["ars"] == ["An ARS has exactly 12 digits."]

    german = client.get("/api/v1/authorities?ars=1").get_json()
    assert german["title"] == "Eingaben ungültig"


def test_translation_catalogue_is_complete():
    result = subprocess.run(  # noqa: S603  (our own script, fixed arguments)
        [sys.executable, str(ROOT / "scripts" / "check-translations.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
