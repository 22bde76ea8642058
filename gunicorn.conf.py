"""Production defaults for ``gunicorn wsgi:app`` (read from the working directory).

Every value can be overridden on the command line (``gunicorn -w 3 wsgi:app``) or, for
the ones below that read the environment, by that variable. docs/operations.md explains
each choice.
"""

import multiprocessing
import os


def _int_from_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# Behind a reverse proxy on the same host by default; set GUNICORN_BIND=0.0.0.0:8000 (or a
# unix socket, "unix:/run/fitstore/gunicorn.sock") when the proxy runs elsewhere.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Sync workers: one request per process at a time, so one database connection per worker
# is enough. They must sit behind a buffering proxy (nginx buffers by default), or slow
# clients would hold a worker each. WEB_CONCURRENCY is gunicorn's own variable.
worker_class = "sync"
workers = _int_from_env("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1)

# A request running longer than this is killed (the worker is replaced; the proxy answers
# 502 or cuts the download). A sync worker reports to the master only between requests,
# so the longest legitimate request sets the bound: the streamed open-data files, which
# would take about a minute with national data (extrapolated from the small data set).
timeout = _int_from_env("GUNICORN_TIMEOUT", 120)
# SIGTERM/SIGHUP: running requests get this long to finish before the worker is killed.
graceful_timeout = _int_from_env("GUNICORN_GRACEFUL_TIMEOUT", 30)

# Replace each worker after this many requests (with jitter, so they do not all restart
# at once): bounds slow memory growth. 0 switches it off.
max_requests = _int_from_env("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10

# Every worker imports the app itself: SIGHUP then loads new code after an upgrade, and
# no database connection is ever shared across a fork.
preload_app = False

# Only these addresses may set X-Forwarded-Proto for gunicorn (the scheme seen by the
# app). The client address is taken by the app's ProxyFix (FITSTORE_PROXY_COUNT) instead.
# FORWARDED_ALLOW_IPS is gunicorn's own variable; never "*" when the port is reachable
# from anywhere but the proxy.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# The app writes one log line per request (request id, user id, duration); gunicorn's
# access log would only repeat it with less.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "fitstore"

# Signals (HUP, TERM, TTIN/TTOU) are the control interface; gunicorn's control socket in the
# user's home (gunicorn 25.1 and later) would be shared by every instance on the host.
control_socket_disable = True

# gunicorn's own messages (worker start, timeout, shutdown) as JSON lines like the app's,
# unless the app logs text (FITSTORE_LOG_FORMAT=text).
if os.environ.get("FITSTORE_LOG_FORMAT", "json").strip().strip('"') == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "fitstore.request_log.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": "WARNING", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {
                "level": loglevel.upper(),
                "handlers": ["stderr"],
                "propagate": False,
            },
            # A log configuration makes gunicorn call its access logger; it stays silent.
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }
