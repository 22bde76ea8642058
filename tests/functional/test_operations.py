"""Operations: one structured log line per request, and a clean 503 when the database is gone."""

import json
import sqlite3

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from fitstore import create_app
from fitstore.errors import _is_outage
from tests.conftest import BASE_CONFIG


def _request_lines(text: str) -> list[dict]:
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "fitstore.request"]


def test_every_request_is_one_json_line_with_its_request_id_and_no_secrets(
    client, login_as, capsys
):
    login_as("editor-bb@demo.test")
    capsys.readouterr()
    response = client.get(
        "/katalog?q=geheimer+suchbegriff",
        headers={"X-Request-ID": "trace-12345678", "Authorization": "Bearer not-a-token"},
    )
    assert response.status_code == 200
    (line,) = _request_lines(capsys.readouterr().err)
    assert line["request_id"] == "trace-12345678" == response.headers["X-Request-ID"]
    assert line["method"] == "GET"
    assert line["path"] == "/katalog"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert isinstance(line["user_id"], int)
    text = json.dumps(line)
    for secret in ("geheimer", "Bearer", "not-a-token", "fitstore_session"):
        assert secret not in text


def test_failed_login_is_logged_without_the_password(client, capsys):
    capsys.readouterr()
    client.post("/anmelden", data={"email": "editor-bb@demo.test", "password": "wrong-Passw0rd!"})
    err = capsys.readouterr().err
    assert _request_lines(err)[0]["path"] == "/anmelden"
    assert "wrong-Passw0rd!" not in err


@pytest.fixture
def app_without_database(tmp_path):
    # A database file in a directory that does not exist: every connection attempt fails,
    # as when PostgreSQL is restarting.
    uri = f"sqlite:///{tmp_path / 'missing' / 'fitstore.sqlite'}"
    return create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": uri})


def test_pages_answer_503_with_retry_after_when_the_database_is_unreachable(
    app_without_database,
):
    client = app_without_database.test_client()
    response = client.get("/katalog")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    page = response.get_data(as_text=True)
    assert "vorübergehend nicht erreichbar" in page
    assert "Traceback" not in page and "sqlite" not in page.lower()


def test_api_answers_a_503_problem_when_the_database_is_unreachable(app_without_database):
    client = app_without_database.test_client()
    response = client.get("/api/v1/dashboard")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 503 and body["request_id"] == response.headers["X-Request-ID"]
    assert response.headers["Retry-After"] == "5"


def test_readiness_fails_and_liveness_holds_without_the_database(app_without_database):
    client = app_without_database.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503


def test_login_fails_closed_with_503_when_redis_is_unreachable(app_factory):
    # The shared login limits live in Redis; without them a login must not go unlimited.
    app = app_factory(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    client = app.test_client()
    response = client.post(
        "/anmelden", data={"email": "editor-bb@demo.test", "password": "fitstore-demo"}
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "vorübergehend nicht erreichbar" in response.get_data(as_text=True)
    assert client.get("/katalog").status_code == 200


def test_engine_options_from_the_environment_amend_the_default(monkeypatch, tmp_path):
    monkeypatch.setenv("FITSTORE_SQLALCHEMY_ENGINE_OPTIONS", '{"pool_size": 3}')
    monkeypatch.setenv("FITSTORE_PERMANENT_SESSION_LIFETIME", "28800")
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"] == {
        "pool_pre_ping": True,
        "hide_parameters": True,
        "pool_size": 3,
    }
    assert app.permanent_session_lifetime.total_seconds() == 28800


def test_a_session_lifetime_in_seconds_keeps_signed_in_pages_working(app, client, login_as):
    app.config["PERMANENT_SESSION_LIFETIME"] = 28800  # as it arrives from the environment
    login_as("editor-bb@demo.test")
    assert client.get("/mein-land").status_code == 200


def test_a_streamed_download_is_logged_when_it_is_complete(client, capsys):
    capsys.readouterr()
    response = client.get("/opendata/nachnutzung-laender.csv")
    body = response.get_data()
    response.close()
    (line,) = _request_lines(capsys.readouterr().err)
    assert line["path"] == "/opendata/nachnutzung-laender.csv"
    assert line["bytes"] == len(body) > 0
    assert line["complete"] is True
    assert line["request_id"] == response.headers["X-Request-ID"]


def test_text_logs_cannot_be_forged_through_the_path_and_carry_the_request_id(app_factory, capsys):
    app = app_factory(LOG_FORMAT="text")
    try:
        capsys.readouterr()
        app.test_client().get(
            "/healthz%0A2026-11-29 INFO fitstore.request: GET /admin 200",
            headers={"X-Request-ID": "trace-87654321"},
        )
        lines = [
            line for line in capsys.readouterr().err.splitlines() if "fitstore.request" in line
        ]
        assert len(lines) == 1
        assert "\\x0a" in lines[0] and "request_id=trace-87654321" in lines[0]
    finally:
        app_factory(LOG_FORMAT="json")  # the log handler is per process: put JSON back


@pytest.mark.parametrize(("setting", "value"), [("LOG_LEVEL", "loud"), ("LOG_FORMAT", "xml")])
def test_unknown_log_settings_stop_the_start(setting, value):
    with pytest.raises(RuntimeError, match=f"FITSTORE_{setting}"):
        create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://", setting: value})


@pytest.mark.parametrize(
    ("original", "outage"),
    [
        (psycopg.OperationalError("connection refused"), True),
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.TooManyConnections("too many clients"), True),
        (psycopg.errors.DeadlockDetected("deadlock detected"), False),
        (psycopg.errors.QueryCanceled("statement timeout"), False),
        (sqlite3.OperationalError("unable to open database file"), True),
        (sqlite3.OperationalError("no such table: listing"), False),
    ],
)
def test_only_connection_failures_count_as_an_outage(original, outage):
    # An outage is answered 503 "retry"; a deadlock or a missing table is a fault: 500.
    error = OperationalError("SELECT 1", {}, original)
    assert _is_outage(error) is outage


def test_query_values_never_reach_error_messages(app):
    from fitstore.extensions import db

    with app.app_context():
        with pytest.raises((OperationalError, ProgrammingError)) as caught:
            db.session.execute(
                text("SELECT * FROM no_such_table WHERE name = :name"), {"name": "secret-x9q"}
            )
        db.session.rollback()
    assert "secret-x9q" not in str(caught.value)
