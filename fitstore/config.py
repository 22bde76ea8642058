"""Configuration: safe defaults, overridden by ``FITSTORE_*`` environment variables.

``FITSTORE_DATABASE_URL`` selects the database (default: an SQLite file in the
instance folder); every other ``FITSTORE_X`` sets the Flask config key ``X``
(values are parsed as JSON where possible, so ``FITSTORE_DEBUG=true`` works).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

ENV_PREFIX = "FITSTORE"


class DefaultConfig:
    # "development", "testing" or "production"; production refuses demo data
    # and insists on an explicit secret key.
    ENV = "development"
    DEBUG = False
    TESTING = False

    # pool_pre_ping: a connection that died (database restart, failover) is replaced on
    # checkout instead of failing the request.
    # hide_parameters: errors (and so logged tracebacks) never show the values of a query,
    # which may be e-mail addresses, search text or hashes.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
    SQLALCHEMY_RECORD_QUERIES = False

    SESSION_COOKIE_NAME = "fitstore_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # None: Secure everywhere except ENV=development (local http://127.0.0.1).
    SESSION_COOKIE_SECURE = None
    PERMANENT_SESSION_LIFETIME = timedelta(hours=8)
    # Idle sessions expire server-side after this many minutes.
    SESSION_IDLE_MINUTES = 60

    WTF_CSRF_TIME_LIMIT = None  # bound to the session, which expires itself
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024

    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105  (an algorithm name, not a secret)
    PASSWORD_MIN_LENGTH = 12
    PASSWORD_MAX_LENGTH = 128

    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    # A moving window: no 5 + 5 attempts across a fixed window's boundary.
    RATELIMIT_STRATEGY = "moving-window"
    # Login attempts per account (a success forgets the failures) and per client
    # address (every attempt counts; behind a proxy set PROXY_COUNT so the real
    # client address is seen, and raise this for large shared ministry networks).
    LOGIN_LIMIT_PER_ACCOUNT = "5 per 15 minutes"
    LOGIN_LIMIT_PER_ADDRESS = "60 per 15 minutes"
    # Number of trusted reverse proxies in front of the app (X-Forwarded-For/-Proto/-Host).
    PROXY_COUNT = 0
    FEEDBACK_LIMIT = "10 per hour"

    # Public dashboard figures and content (the same for every visitor) are kept this many
    # seconds; 0 = off. Open data and everything
    # behind a login are always read fresh.
    PUBLIC_CACHE_SECONDS = 60
    # Where they are kept (Flask-Caching): "SimpleCache" = a copy per worker process;
    # "RedisCache" with CACHE_REDIS_URL = one copy shared by all workers and nodes.
    CACHE_TYPE = "SimpleCache"
    CACHE_REDIS_URL = None
    CACHE_KEY_PREFIX = "fitstore:"

    # Logs go to stderr: "json" (one object per line, for log shippers) or "text".
    LOG_FORMAT = "json"
    LOG_LEVEL = "INFO"
    # One line per request (method, path, status, duration, request id, user id).
    LOG_REQUESTS = True

    BABEL_DEFAULT_LOCALE = "de"
    BABEL_DEFAULT_TIMEZONE = "Europe/Berlin"
    LANGUAGES = ("de", "en")

    API_TITLE = "fitstore API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"

    # Operator details for the Impressum (shown as configured).
    OPERATOR_NAME = "FITKO (Föderale IT-Kooperation)"
    OPERATOR_ADDRESS = "Zum Gottschalkhof 3, 60594 Frankfurt am Main"
    OPERATOR_EMAIL = "fit-store@fitko.example"

    # Absolute base of links in e-mails (mail is sent outside a request).
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"
    # Outgoing mail (``fitstore mail send``). SMTP_SECURITY: "none", "starttls" or "ssl".
    SMTP_HOST = "127.0.0.1"
    SMTP_PORT = 25
    SMTP_SECURITY = "none"
    SMTP_USERNAME = None
    SMTP_PASSWORD = None
    SMTP_TIMEOUT = 30
    MAIL_FROM = "FIT-Store <no-reply@fitko.example>"
    # A mail that fails this often is marked failed and no longer retried.
    MAIL_MAX_ATTEMPTS = 5

    # Transparency: a reuse waiting this many days for the same party is listed as a long
    # wait and reminded by ``fitstore remind`` (once per wait).
    WAIT_THRESHOLD_DAYS = 30
    # Open data: the DCAT-AP.de contributor id (dcatde:contributorID) that GovData assigns
    # to a publisher on registration; empty means fitstore's default for FITKO.
    OPENDATA_CONTRIBUTOR_ID = ""


def load_environment(config: dict) -> None:
    """Apply ``FITSTORE_*`` variables (after defaults, before explicit test config)."""
    from flask import Config

    env_config = Config(root_path=".")
    env_config.from_prefixed_env(prefix=ENV_PREFIX)
    if "DATABASE_URL" in env_config:
        env_config["SQLALCHEMY_DATABASE_URI"] = env_config.pop("DATABASE_URL")
    for key, value in env_config.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            # A dict setting amends the default (FITSTORE_SQLALCHEMY_ENGINE_OPTIONS='{"pool_size": 5}'
            # keeps pool_pre_ping) instead of silently dropping what it does not name.
            env_config[key] = {**config[key], **value}
    config.update(env_config)


ENVIRONMENTS = ("development", "testing", "production")


def finalise(app) -> None:
    """Fill the settings that depend on the instance folder or the environment."""
    config = app.config
    if config["ENV"] not in ENVIRONMENTS:
        # Fail closed: "Production" or "prod" must not silently mean "not production".
        raise RuntimeError(
            f"FITSTORE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {config['ENV']!r}."
        )
    instance = Path(app.instance_path)
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        instance.mkdir(parents=True, exist_ok=True)
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'fitstore.sqlite'}"
    if config.get("SESSION_COOKIE_SECURE") is None:
        config["SESSION_COOKIE_SECURE"] = config["ENV"] != "development"
    if not config.get("SECRET_KEY"):
        if config["ENV"] == "production":
            raise RuntimeError("FITSTORE_SECRET_KEY must be set in production.")
        instance.mkdir(parents=True, exist_ok=True)
        key_file = instance / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
            os.chmod(key_file, 0o600)
        config["SECRET_KEY"] = key_file.read_text().strip()
