"""The public Atom feed of new listings and go-lives."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("feed", __name__)
