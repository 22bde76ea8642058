"""The ``fitstore`` command."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update

from fitstore.extensions import db
from fitstore.models import AuditEvent, Authority, CostKeyValue, Land, User


def test_load_reference_is_idempotent(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["load-reference"])
    assert result.exit_code == 0, result.output
    assert "authorities added: 0, updated: 0" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Land)) == 16
        assert db.session.scalar(select(func.count()).select_from(Authority)) == 401 + 11_299
        # Shipped: Königsteiner Schlüssel 2015 and 2017, population 2018; the demo (in
        # the template database) adds both keys for its cost years 2026 and 2027.
        shipped, demo = 3 * 16, 2 * 2 * 16
        assert db.session.scalar(select(func.count()).select_from(CostKeyValue)) == shipped + demo


def test_demo_refuses_to_run_in_production(app_factory):
    app = app_factory(ENV="production")
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code != 0
    assert "production" in result.output


def test_demo_is_idempotent(app):
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "0 organisations, 0 users and 0 listings created" in result.output


def test_user_create(app):
    result = app.test_cli_runner().invoke(
        args=[
            "user",
            "create",
            "neu@ekom21.example",
            "--org",
            "ekom21",
            "--role",
            "editor",
            "--password",
            "ein langes Passwort",
        ]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "neu@ekom21.example"))
        assert user.organisation.short_name == "ekom21" and user.land_ags == "06"
        event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        assert event.action == "user.created" and event.actor_email == "system:cli"


def test_user_create_refuses_bad_input(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "user",
            "create",
            "a@b.example",
            "--org",
            "NOPE",
            "--role",
            "viewer",
            "--password",
            "x" * 12,
        ]
    )
    assert result.exit_code != 0 and "No organisation" in result.output
    result = runner.invoke(
        args=[
            "user",
            "create",
            "a@b.example",
            "--org",
            "FITKO",
            "--role",
            "viewer",
            "--password",
            "short",
        ]
    )
    assert result.exit_code != 0 and "12 bis 128" in result.output


def test_token_create_prints_a_working_token_once(app, client):
    result = app.test_cli_runner().invoke(
        args=["token", "create", "viewer-sn@demo.test", "--name", "Import"]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert response.json["email"] == "viewer-sn@demo.test"


def test_audit_verify_reports_ok_and_the_first_broken_row(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0
    assert "chain intact" in result.output
    with app.app_context():
        target = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id).offset(5).limit(1))
        db.session.execute(
            update(AuditEvent).where(AuditEvent.id == target).values(action="user.deleted")
        )
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"BROKEN at audit event {target}" in result.output


def test_a_production_installation_can_create_its_first_admin(tmp_path):
    """db upgrade + load-reference + user create: no demo data needed (it is refused in production)."""
    from flask_migrate import upgrade

    from fitstore import create_app
    from tests.conftest import BASE_CONFIG

    # A fresh, empty database of its own (the shared test databases hold the demo).
    app = create_app(
        {
            **BASE_CONFIG,
            "ENV": "production",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.sqlite'}",
        }
    )
    with app.app_context():
        upgrade()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["demo"]).exit_code != 0
    result = runner.invoke(args=["load-reference"])
    assert result.exit_code == 0 and "organisations added: 2" in result.output
    result = runner.invoke(
        args=[
            "user",
            "create",
            "root@fitko.example",
            "--org",
            "FITKO",
            "--role",
            "admin",
            "--password",
            "ein sehr langes Passwort",
        ]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
        db.engine.dispose()


def test_audit_verify_with_an_expected_head(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["audit", "verify"])
    head = first.output.strip().splitlines()[-1].removeprefix("head: ")
    assert runner.invoke(args=["audit", "verify", "--expect-head", head]).exit_code == 0
    head_id = int(head.split(":")[0])
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == head_id))
        db.session.commit()
    result = runner.invoke(args=["audit", "verify", "--expect-head", head])
    assert result.exit_code == 1
    assert "newest rows were deleted" in result.output
    assert runner.invoke(args=["audit", "verify", "--expect-head", "nonsense"]).exit_code == 2


def test_load_reference_updates_a_changed_row(app):
    with app.app_context():
        db.session.execute(update(Authority).where(Authority.ags == "12062").values(name="Falsch"))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["load-reference"])
    assert "updated: 1" in result.output
    with app.app_context():
        assert (
            db.session.scalar(select(Authority.name).where(Authority.ags == "12062"))
            == "Elbe-Elster"
        )


def test_token_create_refuses_an_empty_name(app):
    result = app.test_cli_runner().invoke(
        args=["token", "create", "viewer-sn@demo.test", "--name", ""]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
