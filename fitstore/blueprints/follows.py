"""Following listings and Länder (Mein Konto)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("follows", __name__)
