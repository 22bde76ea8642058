"""The benchmark's baseline: the cheapest possible Flask answer, served exactly like
fitstore (same gunicorn settings, same wrk settings), so results compare across machines.

    gunicorn --pythonpath bench baseline:app
"""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "fitstore benchmark baseline\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
