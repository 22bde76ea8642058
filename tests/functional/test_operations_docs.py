"""The operations handbook and the README stay in step with the code: every setting with
its default, every command, the gunicorn defaults and the documented proxy hop count."""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import runpy
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest
from gunicorn.config import KNOWN_SETTINGS, Config

from fitstore import create_app
from fitstore.cli import main as fitstore_command
from fitstore.config import DefaultConfig

pytestmark = pytest.mark.database_free

ROOT = Path(__file__).resolve().parents[2]
HANDBOOK = ROOT / "docs" / "operations.md"
README = ROOT / "README.md"
GUNICORN_CONF = ROOT / "gunicorn.conf.py"

# Read by create_app but not defaults of DefaultConfig: the database URL and the key.
SETTINGS_WITHOUT_DEFAULT = ("DATABASE_URL", "SECRET_KEY")
# What a production installation cannot do without, whatever else is marked required.
ALWAYS_REQUIRED = {"ENV", "SECRET_KEY", "DATABASE_URL", "RATELIMIT_STORAGE_URI", "PROXY_COUNT"}
# gunicorn's own, and the ones gunicorn.conf.py reads: they are not app settings.
GUNICORN_VARIABLES = ("WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS", "GUNICORN_")


def _settings() -> list[str]:
    return [key for key in vars(DefaultConfig) if key.isupper()]


def _section(text: str, heading: str, ends_at: str) -> str:
    """The text under ``heading`` up to the next line matching ``ends_at``."""
    start = text.index(heading + "\n") + len(heading) + 1
    end = re.search(ends_at, text[start:], re.MULTILINE)
    return text[start : start + end.start()] if end else text[start:]


def _setting_rows(text: str) -> dict[str, list[str]]:
    """Table rows whose first cell is a `FITSTORE_*` variable: {KEY: [cells after it]}."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\| `FITSTORE_([A-Z0-9_]+)` \|(.*)\|\s*$", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def _documented_default(value) -> str | None:
    """How a default must appear in the default column; None where words describe it."""
    if value is None:
        return "unset"
    if isinstance(value, str):
        return f"`{value}`" if value else "empty"
    if isinstance(value, timedelta):
        return None
    return f"`{json.dumps(value)}`"  # bools, numbers, lists and dicts in their JSON form


def _handbook_rows() -> dict[str, list[str]]:
    return _setting_rows(
        _section(HANDBOOK.read_text(encoding="utf-8"), "## 2. Configuration", r"^## ")
    )


def _readme_rows() -> dict[str, list[str]]:
    return _setting_rows(
        _section(README.read_text(encoding="utf-8"), "## Configuration", r"^#{1,6} ")
    )


@pytest.mark.parametrize("rows", [_handbook_rows, _readme_rows], ids=["handbook", "README"])
def test_every_setting_is_documented_with_its_default(rows):
    documented = rows()
    missing = [key for key in (*_settings(), *SETTINGS_WITHOUT_DEFAULT) if key not in documented]
    assert not missing, f"undocumented settings: {', '.join('FITSTORE_' + k for k in missing)}"
    wrong = {}
    for key in _settings():
        expected = _documented_default(getattr(DefaultConfig, key))
        if expected is not None and expected not in documented[key][0]:
            wrong[f"FITSTORE_{key}"] = (documented[key][0], expected)
    assert not wrong, f"documented default differs from config.py (documented, actual): {wrong}"


@pytest.mark.parametrize("rows", [_handbook_rows, _readme_rows], ids=["handbook", "README"])
def test_no_documented_setting_is_stale(rows):
    known = {*_settings(), *SETTINGS_WITHOUT_DEFAULT}
    stale = sorted(set(rows()) - known)
    assert not stale, f"documented but not a setting any more: {stale}"


def test_readme_and_handbook_agree_on_what_production_requires():
    def required(rows):
        return {key for key, cells in rows.items() if "**required**" in cells[1]}

    in_handbook, in_readme = required(_handbook_rows()), required(_readme_rows())
    assert in_handbook == in_readme
    assert in_handbook >= ALWAYS_REQUIRED


def _fitstore_commands(app) -> set[str]:
    """Every command line an operator can type: `fitstore NAME`, and `fitstore GROUP SUB`
    for the project's own groups (third-party groups such as `db` by their name)."""
    commands = {f"fitstore {name}" for name in fitstore_command.commands}  # run, shell, routes
    for name, command in app.cli.commands.items():
        subcommands = getattr(command, "commands", None)
        module = getattr(command.callback, "__module__", "") or ""
        if subcommands and module.startswith("fitstore"):
            commands.update(f"fitstore {name} {sub}" for sub in subcommands)
        else:
            commands.add(f"fitstore {name}")
    return commands


def test_every_cli_command_is_documented(tmp_path):
    app = create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": "docs-test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.sqlite'}",
        }
    )
    commands = _fitstore_commands(app)
    assert {"fitstore audit verify", "fitstore mail send", "fitstore db"} <= commands
    documentation = HANDBOOK.read_text(encoding="utf-8") + README.read_text(encoding="utf-8")
    missing = sorted(c for c in commands if not re.search(re.escape(c) + r"\b", documentation))
    assert not missing, f"commands missing from docs/operations.md and README.md: {missing}"


def _load_gunicorn_conf(monkeypatch, **environment) -> dict:
    """The settings gunicorn would take from gunicorn.conf.py under this environment."""
    for name in [n for n in os.environ if n.startswith(GUNICORN_VARIABLES)]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("FITSTORE_LOG_FORMAT", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    namespace = runpy.run_path(str(GUNICORN_CONF))
    return {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_") and not callable(value) and not isinstance(value, ModuleType)
    }


def test_gunicorn_conf_defaults_are_safe_for_production(monkeypatch):
    settings = _load_gunicorn_conf(monkeypatch)
    assert settings["worker_class"] == "sync"
    assert settings["workers"] >= 2
    assert settings["accesslog"] is None
    assert settings["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert settings["bind"].startswith("127.0.0.1:")
    assert settings["timeout"] > 0 and settings["graceful_timeout"] > 0
    assert settings["preload_app"] is False


def test_gunicorn_conf_takes_workers_and_trusted_proxies_from_the_environment(monkeypatch):
    settings = _load_gunicorn_conf(
        monkeypatch,
        WEB_CONCURRENCY="3",
        FORWARDED_ALLOW_IPS="10.0.0.5",
        GUNICORN_BIND="0.0.0.0:8000",
        GUNICORN_TIMEOUT="45",
    )
    assert settings["workers"] == 3
    assert settings["forwarded_allow_ips"] == "10.0.0.5"
    assert settings["bind"] == "0.0.0.0:8000"
    assert settings["timeout"] == 45


def test_gunicorn_accepts_every_value_of_the_conf_file(monkeypatch):
    # gunicorn silently ignores unknown names in a config file: a typo would go unnoticed.
    settings = _load_gunicorn_conf(monkeypatch)
    known = {setting.name for setting in KNOWN_SETTINGS}
    assert not set(settings) - known, f"not gunicorn settings: {set(settings) - known}"
    config = Config()
    for name, value in settings.items():
        config.set(name, value)  # runs gunicorn's validator for each setting
    assert config.workers == settings["workers"]
    assert config.accesslog is None


def test_gunicorn_logs_json_like_the_app_unless_the_app_logs_text(monkeypatch):
    logging_config = _load_gunicorn_conf(monkeypatch)["logconfig_dict"]
    module_name, _, class_name = logging_config["formatters"]["json"]["()"].rpartition(".")
    formatter = getattr(importlib.import_module(module_name), class_name)()
    record = logging.LogRecord("gunicorn.error", logging.INFO, "", 0, "Booting worker", (), None)
    assert json.loads(formatter.format(record))["message"] == "Booting worker"
    assert "logconfig_dict" not in _load_gunicorn_conf(monkeypatch, FITSTORE_LOG_FORMAT="text")


@pytest.mark.parametrize(
    ("proxy_count", "client_address"),
    [(0, "127.0.0.1"), (1, "198.51.100.7"), (2, "203.0.113.99")],
    ids=["too-low-everyone-is-the-proxy", "right", "too-high-forged-address-wins"],
)
def test_proxy_count_decides_which_address_the_app_believes(
    tmp_path, capsys, proxy_count, client_address
):
    """The handbook's example: the client forged 203.0.113.99, nginx (127.0.0.1) appended
    the real address 198.51.100.7."""
    app = create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": "docs-test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'unused.sqlite'}",
            "PROXY_COUNT": proxy_count,
        }
    )
    capsys.readouterr()
    app.test_client().get(
        "/healthz",
        headers={"X-Forwarded-For": "203.0.113.99, 198.51.100.7"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    (request_line,) = [line for line in lines if line["logger"] == "fitstore.request"]
    assert request_line["remote_addr"] == client_address
    handbook = HANDBOOK.read_text(encoding="utf-8")
    assert f"{proxy_count} → `{client_address}`" in handbook
