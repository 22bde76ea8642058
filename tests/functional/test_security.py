"""Security behaviour: route policies, sessions, rate limits, CSRF, headers, redirects, errors."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from fitstore.extensions import db
from fitstore.models import AccessibilityFeedback, User, UserSession
from fitstore.permissions import Permission, policy, route_policy
from tests.conftest import DEMO_PASSWORD, login

# --- every route has a policy ----------------------------------------------------


def test_every_route_has_an_explicit_policy(app):
    missing = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if route_policy(app, rule.endpoint) is None
    ]
    assert missing == []


def test_a_route_without_policy_is_refused_at_request_time(app_factory):
    app = app_factory()

    def unguarded():
        return "secret"

    app.add_url_rule("/unguarded", view_func=unguarded)
    response = app.test_client().get("/unguarded")
    assert response.status_code == 404
    assert b"secret" not in response.data


# Sample arguments for the routes with URL parameters.
SAMPLE_ARGS = {
    "code": "12",
    "user_id": 1,
    "event_id": 1,
    "organisation_id": 1,
    "token_id": 1,
    # Demo listing 1 (Aufenthaltstitel, Brandenburg, published) and its document.
    "listing_id": 1,
    "document_id": 1,
    # A demo reuse and its contract (the walker accepts 404 where the role may not see them).
    "reuse_id": 1,
    "contract_id": 1,
    "key": "transport",  # an onboarding checklist item
    # Cost sharing: a year of the demo's cost plans, a plan item, Brandenburg's statement.
    "year": 2026,
    "item_id": 1,
    "land_ags": "12",
    "follow_id": 1,
}
ROLES = {
    "anonymous": None,
    "viewer": "viewer-bb@demo.test",
    "editor": "editor-bb@demo.test",
    "fitko": "fitko-1@demo.test",
    "admin": "admin@demo.test",
}
# Which roles a route's permission admits (object-level checks come on top).
ADMITS = {
    Permission.PUBLIC: {"anonymous", "viewer", "editor", "fitko", "admin"},
    Permission.OWN_ACCOUNT: {"viewer", "editor", "fitko", "admin"},
    Permission.VIEW_USERS: {"viewer", "editor", "fitko", "admin"},
    Permission.VIEW_AUDIT: {"viewer", "editor", "fitko", "admin"},
    Permission.VIEW_ORGANISATIONS: {"fitko", "admin"},
    Permission.READ_FEEDBACK: {"fitko", "admin"},
    Permission.MANAGE_USERS: {"admin"},
    Permission.MANAGE_ORGANISATIONS: {"admin"},
    Permission.CREATE_LISTING: {"editor"},
    Permission.EDIT_LISTING: {"editor"},
    Permission.SUBMIT_LISTING: {"editor"},
    Permission.WITHDRAW_LISTING: {"editor", "fitko"},
    Permission.REVIEW_LISTINGS: {"fitko"},
    Permission.VIEW_REUSES: {"viewer", "editor", "fitko", "admin"},
    Permission.VIEW_REUSE: {"viewer", "editor", "fitko", "admin"},
    Permission.EXPRESS_INTEREST: {"editor"},
    Permission.ACT_AS_ADOPTER: {"editor"},
    Permission.ACT_AS_PROVIDER: {"editor"},
    Permission.HOLD_REUSE: {"editor", "fitko"},
    Permission.TERMINATE_REUSE: {"editor", "fitko"},
    Permission.MANAGE_ROLLOUT: {"editor"},
    Permission.VIEW_CONTRACT: {"viewer", "editor", "fitko", "admin"},
    Permission.CHECK_CONTRACT: {"fitko"},
    Permission.COUNTERSIGN_CONTRACT: {"fitko"},
    Permission.VIEW_ALLIANCE: {"anonymous", "viewer", "editor", "fitko", "admin"},
    Permission.VIEW_ALLIANCE_DETAILS: {"viewer", "editor", "fitko", "admin"},
    Permission.JOIN_ALLIANCE: {"editor"},
    Permission.LEAD_ALLIANCE: {"editor"},
    Permission.VOTE_COST_KEY: {"editor"},
    Permission.VIEW_LAND_DASHBOARD: {"viewer", "editor"},
    Permission.VIEW_FITKO_DASHBOARD: {"fitko", "admin"},
    Permission.MANAGE_KEY_DATA: {"admin"},
    Permission.VIEW_USAGE: {"viewer", "editor", "fitko", "admin"},
    Permission.RECORD_USAGE: {"editor"},
    Permission.IMPORT_USAGE: {"fitko"},
    Permission.MANAGE_COST_PLAN: {"editor"},
    Permission.VIEW_COST_SPLIT: {"viewer", "editor", "fitko", "admin"},
    Permission.VIEW_COST_STATEMENT: {"viewer", "editor", "fitko", "admin"},
    Permission.VIEW_LEAD_TIMES: {"viewer", "editor", "fitko", "admin"},
}
# Permissions that depend on which side of an object the caller's Land is on: an
# editor of the sample Land may be refused (403) though the role is admitted.
OBJECT_LEVEL = {
    Permission.ACT_AS_ADOPTER,
    Permission.ACT_AS_PROVIDER,
    Permission.MANAGE_ROLLOUT,
    Permission.LEAD_ALLIANCE,
    Permission.VOTE_COST_KEY,
    Permission.JOIN_ALLIANCE,
    Permission.EXPRESS_INTEREST,
    Permission.HOLD_REUSE,
    Permission.TERMINATE_REUSE,
    Permission.MANAGE_COST_PLAN,
}


def _route_urls(app, method: str, samples: dict, skip=()) -> list[tuple[str, str]]:
    """(endpoint, URL) of every route for ``method``, built before any request runs: no
    request context may stay pushed while the client works (streamed exports keep theirs)."""
    from flask import url_for

    with app.test_request_context():
        return [
            (rule.endpoint, url_for(rule.endpoint, **{n: samples[n] for n in rule.arguments}))
            for rule in app.url_map.iter_rules()
            if method in rule.methods and rule.endpoint not in skip
        ]


@pytest.mark.parametrize("role", list(ROLES))
def test_every_get_route_answers_each_role_by_its_policy(app, role):
    client = app.test_client()
    if ROLES[role]:
        assert login(client, ROLES[role]).status_code == 302
    urls = _route_urls(app, "GET", SAMPLE_ARGS, skip=("static",))
    assert len(urls) >= 15
    for endpoint, url in urls:
        response = client.get(url)
        response.close()
        permission = route_policy(app, endpoint)
        assert response.status_code < 500, url
        # The API never accepts the session cookie: there every caller here is anonymous.
        effective = "anonymous" if url.startswith("/api/") else role
        if effective in ADMITS[permission]:
            # 404: an object of another Land; 302: the login page sends a logged-in user
            # home, and a listing's cost overview opens its newest year.
            redirects = ("auth.login", "costs.overview")
            allowed = (200, 404, 302) if endpoint in redirects else (200, 404)
            if permission in OBJECT_LEVEL:
                allowed = (200, 403, 404)
            assert response.status_code in allowed, (url, response.status_code)
        elif effective == "anonymous":
            expected = 401 if url.startswith("/api/") else 302
            assert response.status_code == expected, url
            if expected == 302:
                assert "/anmelden?next=" in response.headers["Location"]
        else:
            assert response.status_code == 403, (url, response.status_code)


# --- sessions ---------------------------------------------------------------------


def _session_cookie(client) -> str:
    cookie = client.get_cookie("fitstore_session")
    assert cookie is not None
    return cookie.value


def test_logout_revokes_a_captured_session_cookie(app):
    client = app.test_client()
    login(client, "editor-bb@demo.test")
    captured = _session_cookie(client)
    assert client.get("/konto").status_code == 200
    client.post("/abmelden")
    attacker = app.test_client()
    attacker.set_cookie("fitstore_session", captured)
    response = attacker.get("/konto")
    assert response.status_code == 302
    assert "/anmelden" in response.headers["Location"]


def test_login_issues_a_new_session_id(app):
    client = app.test_client()
    client.get("/anmelden")
    before = client.get_cookie("fitstore_session")
    login(client, "editor-bb@demo.test")
    after = _session_cookie(client)
    assert before is None or before.value != after
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "editor-bb@demo.test"))
        live = db.session.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        )
    assert live == 1


def test_password_change_revokes_other_sessions_but_keeps_this_one(app):
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, "editor-bb@demo.test")
    login(phone, "editor-bb@demo.test")
    response = laptop.post(
        "/konto/passwort",
        data={"pw-current_password": DEMO_PASSWORD, "pw-new_password": "ein langes neues Passwort"},
    )
    assert response.status_code == 302
    assert laptop.get("/konto").status_code == 200
    assert phone.get("/konto").status_code == 302
    assert login(app.test_client(), "editor-bb@demo.test").status_code == 401
    assert (
        login(app.test_client(), "editor-bb@demo.test", "ein langes neues Passwort").status_code
        == 302
    )


def test_password_change_with_wrong_current_password_changes_nothing(client, login_as):
    login_as("editor-bb@demo.test")
    response = client.post(
        "/konto/passwort",
        data={
            "pw-current_password": "falsch-falsch-falsch",
            "pw-new_password": "ein langes neues Passwort",
        },
    )
    assert response.status_code == 422
    assert "Das aktuelle Passwort ist falsch." in response.get_data(as_text=True)
    assert client.get("/konto").status_code == 200  # still logged in


@pytest.mark.parametrize(
    ("password", "accepted"),
    [("a" * 11, False), ("a" * 12, True), ("ä" * 128, True), ("a" * 129, False)],
)
def test_password_length_rules(client, login_as, password, accepted):
    login_as("editor-bb@demo.test")
    response = client.post(
        "/konto/passwort", data={"pw-current_password": DEMO_PASSWORD, "pw-new_password": password}
    )
    assert (response.status_code == 302) is accepted
    if not accepted:
        assert "12 bis 128 Zeichen" in response.get_data(as_text=True)


def test_deactivating_a_user_ends_their_session_at_once(app):
    victim = app.test_client()
    login(victim, "editor-he@demo.test")
    assert victim.get("/konto").status_code == 200
    admin = app.test_client()
    login(admin, "admin@demo.test")
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == "editor-he@demo.test"))
    assert admin.post(f"/verwaltung/benutzer/{user_id}/deaktivieren").status_code == 302
    assert victim.get("/konto").status_code == 302
    assert login(app.test_client(), "editor-he@demo.test").status_code == 401


def test_idle_session_expires_server_side(app):
    from datetime import timedelta

    client = app.test_client()
    login(client, "editor-bb@demo.test")
    with app.app_context():
        for record in db.session.scalars(select(UserSession)):
            record.last_seen_at -= timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
        db.session.commit()
    assert client.get("/konto").status_code == 302


# --- login ------------------------------------------------------------------------


def _visible_text(response) -> str:
    text = response.get_data(as_text=True)
    return re.sub(r'value="[^"]*"|Vorgangsnummer \w+', "", text)


def test_unknown_user_and_wrong_password_get_the_same_answer(client):
    unknown = client.post(
        "/anmelden", data={"email": "nobody@demo.test", "password": "irgendwas-langes"}
    )
    wrong = client.post(
        "/anmelden", data={"email": "editor-bb@demo.test", "password": "irgendwas-langes"}
    )
    assert unknown.status_code == wrong.status_code == 401
    assert "E-Mail-Adresse oder Passwort ist falsch." in wrong.get_data(as_text=True)
    assert _visible_text(unknown) == _visible_text(wrong)


def test_sixth_wrong_login_within_the_window_is_refused_with_429(client):
    for _ in range(5):
        response = client.post(
            "/anmelden", data={"email": "editor-bb@demo.test", "password": "falsch"}
        )
        assert response.status_code == 401
    response = client.post(
        "/anmelden", data={"email": "editor-bb@demo.test", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 429
    assert "Zu viele" in response.get_data(as_text=True)
    assert "Content-Security-Policy" in response.headers


def test_lockout_is_per_account_and_successful_logins_do_not_count(app):
    client = app.test_client()
    for _ in range(5):
        client.post("/anmelden", data={"email": "editor-bb@demo.test", "password": "falsch"})
    # Another account from the same address still gets in.
    assert login(client, "editor-he@demo.test").status_code == 302
    other = app.test_client()
    for _ in range(8):
        assert login(other, "viewer-he@demo.test").status_code == 302
        other.post("/abmelden")


def test_login_is_limited_per_client_address_across_accounts(app_factory):
    app = app_factory(LOGIN_LIMIT_PER_ADDRESS="3 per 15 minutes")
    client = app.test_client()
    for index in range(3):
        response = client.post(
            "/anmelden", data={"email": f"x{index}@demo.test", "password": "falsch"}
        )
        assert response.status_code == 401
    response = client.post("/anmelden", data={"email": "x9@demo.test", "password": "falsch"})
    assert response.status_code == 429


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/konto", "/konto"),
        ("/laender/12?q=potsdam", "/laender/12?q=potsdam"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_login_redirects_only_to_local_paths(client, next_url, expected):
    response = client.post(
        "/anmelden",
        data={"email": "editor-bb@demo.test", "password": DEMO_PASSWORD, "next": next_url},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_login_form_errors_are_tied_to_the_fields(client):
    response = client.post("/anmelden", data={"email": "", "password": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'aria-describedby="email-error"' in page
    assert 'aria-invalid="true"' in page
    assert "Bitte geben Sie Ihre E-Mail-Adresse an." in page


# --- CSRF ---------------------------------------------------------------------------


def test_posts_without_csrf_token_are_refused(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post(
        "/anmelden", data={"email": "editor-bb@demo.test", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 400
    assert client.get("/konto").status_code == 302  # not logged in
    response = client.post("/barrierefreiheit", data={"message": "Der Kontrast ist zu schwach."})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AccessibilityFeedback)) == 0


def test_posts_with_csrf_token_work(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get("/anmelden").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/anmelden",
        data={"email": "editor-bb@demo.test", "password": DEMO_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302


def test_logout_is_not_possible_by_get(client, login_as):
    login_as("editor-bb@demo.test")
    assert client.get("/abmelden").status_code == 405
    assert client.get("/konto").status_code == 200


# --- headers, cookies, errors ----------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/", "/does-not-exist", "/api/v1/laender", "/api/v1/nope", "/healthz"]
)
def test_security_headers_on_every_response(client, url):
    headers = client.get(url).headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Request-ID"]


def test_unexpected_errors_show_a_generic_page_without_traceback(app_factory):
    app = app_factory(PROPAGATE_EXCEPTIONS=False)

    @policy(Permission.PUBLIC)
    def explode():
        raise RuntimeError("database password is hunter2")

    app.add_url_rule("/explode", view_func=explode)
    app.add_url_rule("/api/v1/explode", endpoint="api_explode", view_func=explode)
    response = app.test_client().get("/explode")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "hunter2" not in page and "Traceback" not in page
    assert response.headers["X-Request-ID"] in page
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    problem = app.test_client().get("/api/v1/explode")
    assert problem.status_code == 500
    assert problem.mimetype == "application/problem+json"
    assert "hunter2" not in problem.get_data(as_text=True)
    assert problem.json["request_id"] == problem.headers["X-Request-ID"]


def test_debug_is_off_unless_asked_for(app):
    assert app.debug is False


def test_session_cookie_flags(app_factory):
    app = app_factory(ENV="production", SESSION_COOKIE_SECURE=None)
    client = app.test_client()
    response = login(client, "editor-bb@demo.test")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie


def test_production_refuses_to_start_without_a_secret_key(database_template, tmp_path):
    from tests.conftest import make_app

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        make_app(database_template, tmp_path, ENV="production", SECRET_KEY=None)


def test_logged_in_pages_are_not_cached(client, login_as):
    login_as("editor-bb@demo.test")
    assert client.get("/konto").headers["Cache-Control"] == "no-store"


def test_user_text_is_escaped(client):
    response = client.get("/laender/12?q=<script>alert(1)</script>")
    page = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_login_limits_are_shared_through_redis_between_processes(app_factory):
    """With FITSTORE_RATELIMIT_STORAGE_URI set, every app process counts in the same place."""
    import os
    import uuid

    import redis

    url = os.environ.get("FITSTORE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    prefix = f"fitstore-test-{uuid.uuid4().hex}"
    config = {"RATELIMIT_STORAGE_URI": url, "RATELIMIT_KEY_PREFIX": prefix}
    first_worker = app_factory(**config).test_client()
    for _ in range(5):
        response = first_worker.post(
            "/anmelden", data={"email": "editor-bb@demo.test", "password": "falsch"}
        )
        assert response.status_code == 401
    # A second app process (another gunicorn worker) sees the same counter.
    second_worker = app_factory(**config).test_client()
    response = second_worker.post(
        "/anmelden", data={"email": "editor-bb@demo.test", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 429
    connection = redis.Redis.from_url(url)
    keys = connection.keys(f"*{prefix}*")
    assert keys
    connection.delete(*keys)


def test_refusals_from_early_hooks_carry_a_request_id(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    response = app.test_client().post("/anmelden", data={"email": "a@b.example", "password": "x"})
    assert response.status_code == 400
    assert len(response.headers["X-Request-ID"]) == 32
    assert response.headers["X-Request-ID"] in response.get_data(as_text=True)


def test_a_sane_client_request_id_is_kept_and_a_hostile_one_replaced(client):
    assert (
        client.get("/healthz", headers={"X-Request-ID": "proxy-1234abcd"}).headers["X-Request-ID"]
        == "proxy-1234abcd"
    )
    replaced = client.get("/healthz", headers={"X-Request-ID": "<script>evil</script>"}).headers[
        "X-Request-ID"
    ]
    assert "evil" not in replaced and len(replaced) == 32


@pytest.mark.threaded
def test_a_parallel_burst_of_wrong_passwords_gets_no_more_than_the_limit(app):
    """Attempts are counted before the password check, so a burst cannot overtake the counter."""
    import threading
    from collections import Counter

    statuses: list[int] = []
    barrier = threading.Barrier(12)

    def attempt():
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/anmelden", data={"email": "editor-bb@demo.test", "password": "falsch-geraten"}
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    counts = Counter(statuses)
    assert counts[401] == 5
    assert counts[429] == 7


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("get", "/laender/%00", None),
        ("get", "/laender/B%00", None),
        ("get", "/laender/12?q=%00", None),
        ("get", "/api/v1/authorities?q=a%00", None),
        ("post", "/anmelden", {"email": "editor-bb@demo.test\x00", "password": "x"}),
        ("post", "/barrierefreiheit", {"message": "Eine Barriere\x00 auf der Seite"}),
    ],
)
def test_control_characters_are_refused_not_crashing(client, method, url, data):
    response = getattr(client, method)(url, data=data)
    assert response.status_code in (404, 422)


@pytest.mark.parametrize(
    "url",
    [
        "/verwaltung/benutzer/99999999999999999999",
        "/protokoll/99999999999999999999",
        "/protokoll/2147483648",
    ],
)
def test_absurd_ids_are_not_found(client, login_as, url):
    login_as("admin@demo.test")
    assert client.get(url).status_code == 404


def test_absurd_ids_in_forms_are_refused(client, login_as):
    login_as("admin@demo.test")
    assert client.post("/konto/tokens/99999999999999999999/widerrufen").status_code == 404
    response = client.post(
        "/verwaltung/benutzer/neu",
        data={
            "email": "x@demo.test",
            "name": "Xaver",
            "organisation_id": "99999999999999999999",
            "role": "viewer",
            "password": "ein langes Passwort",
        },
    )
    assert response.status_code == 422


def test_password_change_and_deactivation_end_api_tokens_for_good(app, api_token):
    headers = api_token("editor-bb@demo.test")
    client = app.test_client()
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    login(client, "editor-bb@demo.test")
    client.post(
        "/konto/passwort",
        data={"pw-current_password": DEMO_PASSWORD, "pw-new_password": "ein langes neues Passwort"},
    )
    assert client.get("/api/v1/me", headers=headers).status_code == 401

    headers = api_token("editor-he@demo.test")
    admin = app.test_client()
    login(admin, "admin@demo.test")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "editor-he@demo.test"))
        org_id = user.organisation_id
    admin.post(f"/verwaltung/organisationen/{org_id}/deaktivieren")
    admin.post(f"/verwaltung/organisationen/{org_id}/aktivieren")
    # Reactivation does not bring old credentials back.
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 401


def test_a_dead_database_still_gets_a_safe_error_page_for_a_logged_in_user(
    database_template, tmp_path
):
    from tests.conftest import BASE_CONFIG, PG_URL, build_template, make_app

    if PG_URL:
        # The rolled-back PostgreSQL harness cannot lose its database: kill an SQLite file instead.
        from fitstore import create_app

        path = tmp_path / "dying.sqlite"
        build_template(f"sqlite:///{path}")
        app = create_app(
            {
                **BASE_CONFIG,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                "PROPAGATE_EXCEPTIONS": False,
            }
        )
    else:
        app = make_app(database_template, tmp_path, PROPAGATE_EXCEPTIONS=False)
        path = tmp_path / "fitstore.sqlite"
    client = app.test_client()
    login(client, "editor-bb@demo.test")
    with app.app_context():
        db.engine.dispose()
    path.unlink()
    path.write_bytes(b"not a database")
    response = client.get("/konto")
    assert response.status_code == 500
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Request-ID"] in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize("env", ["Production", "prod", "staging", ""])
def test_an_unknown_environment_name_is_refused(database_template, tmp_path, env):
    from tests.conftest import make_app

    with pytest.raises(RuntimeError, match="FITSTORE_ENV"):
        make_app(database_template, tmp_path, ENV=env)


def test_session_ends_after_its_absolute_lifetime_even_when_active(app):
    from datetime import timedelta

    client = app.test_client()
    login(client, "editor-bb@demo.test")
    with app.app_context():
        for record in db.session.scalars(select(UserSession)):
            record.created_at -= app.config["PERMANENT_SESSION_LIFETIME"] + timedelta(minutes=1)
        db.session.commit()
    assert client.get("/konto").status_code == 302


def test_responses_vary_by_language(client):
    assert "Accept-Language" in client.get("/").headers["Vary"]


def test_proxy_fix_sees_the_real_client_and_scheme(app_factory):
    app = app_factory(PROXY_COUNT=1, LOGIN_LIMIT_PER_ADDRESS="2 per 15 minutes")
    client = app.test_client()
    for index in range(2):
        response = client.post(
            "/anmelden",
            data={"email": f"a{index}@demo.test", "password": "x"},
            headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
        )
        assert response.status_code == 401
        assert "Strict-Transport-Security" in response.headers
    blocked = client.post(
        "/anmelden",
        data={"email": "a9@demo.test", "password": "x"},
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    other = client.post(
        "/anmelden",
        data={"email": "a9@demo.test", "password": "x"},
        headers={"X-Forwarded-For": "198.51.100.1"},
    )
    assert blocked.status_code == 429
    assert other.status_code == 401


# Sample form data for POST routes; the walker checks who may reach each one.
POST_SAMPLES = {
    "user_id": 1,
    "organisation_id": 1,
    "token_id": 1,
    "action": "deaktivieren",
    "listing_id": 1,
    "notification_id": 1,
    "reuse_id": 1,
    "contract_id": 1,
    "key": "transport",  # an onboarding checklist item
    # Alliance routes: a join request of Bayern, the cost key of a year.
    "land_code": "BY",
    "year": 2027,
    "item_id": 1,
    "land_ags": "12",
    "follow_id": 1,
}


@pytest.mark.parametrize("role", list(ROLES))
def test_every_post_route_answers_each_role_by_its_policy(app, role):
    client = app.test_client()
    if ROLES[role]:
        assert login(client, ROLES[role]).status_code == 302
    urls = _route_urls(
        app, "POST", POST_SAMPLES, skip=("auth.login", "auth.logout", "main.set_language")
    )
    assert len(urls) >= 8
    for endpoint, url in urls:
        response = client.post(url, data={})
        permission = route_policy(app, endpoint)
        assert response.status_code < 500, url
        if role not in ADMITS[permission]:
            expected = (
                (401,) if url.startswith("/api/") else (302, 403) if role == "anonymous" else (403,)
            )
            assert response.status_code in expected, (url, response.status_code)
            if role == "anonymous" and not url.startswith("/api/"):
                assert "/anmelden" in response.headers["Location"]


def test_user_search_treats_wildcards_literally(client, login_as):
    login_as("admin@demo.test")
    page = client.get("/verwaltung/benutzer?q=%25").get_data(as_text=True)
    assert "Keine Konten gefunden." in page


def test_admin_role_is_reserved_for_fitko_and_inactive_organisations_get_nobody(app):
    from fitstore.errors import Invalid
    from fitstore.models import Organisation
    from fitstore.services.admin import create_user, set_organisation_active
    from fitstore.services.system import SystemActor

    with app.app_context():
        ekom = db.session.scalar(select(Organisation).where(Organisation.short_name == "ekom21"))
        with pytest.raises(Invalid) as refused:
            create_user(
                SystemActor(),
                email="boss@ekom21.example",
                name="Boss",
                role="admin",
                organisation_id=ekom.id,
                password="ein langes Passwort",
            )
        assert "role" in refused.value.errors
        set_organisation_active(SystemActor(), ekom.id, False)
        with pytest.raises(Invalid) as refused:
            create_user(
                SystemActor(),
                email="neu@ekom21.example",
                name="Neu",
                role="viewer",
                organisation_id=ekom.id,
                password="ein langes Passwort",
            )
        assert "organisation_id" in refused.value.errors


@pytest.mark.parametrize(
    ("url", "email"),
    [
        ("/verwaltung/organisationen", "admin@demo.test"),
        ("/verwaltung/benutzer", "admin@demo.test"),
        ("/verwaltung/benutzer", "editor-bb@demo.test"),
        ("/protokoll", "fitko-1@demo.test"),
        ("/protokoll", "editor-bb@demo.test"),
        ("/verwaltung/rueckmeldungen", "fitko-1@demo.test"),
        ("/konto", "editor-bb@demo.test"),
    ],
)
def test_list_pages_run_a_constant_number_of_queries(
    app, client, login_as, count_queries, url, email
):
    login_as(email)
    client.get(url)
    with count_queries() as before:
        assert client.get(url).status_code == 200
    # Grow the data: more organisations, users, audit rows and feedback.
    from fitstore.services.admin import create_organisation, create_user
    from fitstore.services.feedback import submit_feedback
    from fitstore.services.system import SystemActor

    with app.app_context():
        for index in range(15):
            org = create_organisation(
                SystemActor(),
                kind="kommune",
                name=f"Gemeinde {index}",
                short_name=f"GEM-{index}",
                land_ags="12",
            )
            create_user(
                SystemActor(),
                email=f"u{index}@demo.test",
                name=f"Nutzer {index}",
                role="viewer",
                organisation_id=org.id,
                password="ein langes Passwort",
            )
            submit_feedback(
                None,
                message=f"Barriere Nummer {index} gefunden",
                name=None,
                email=None,
                page_url=None,
            )
    with count_queries() as after:
        assert client.get(url).status_code == 200
    assert after.count == before.count, url
