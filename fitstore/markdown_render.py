"""Markdown written by providers, rendered to HTML that is safe to put into a page.

Python-Markdown passes raw HTML through, so its output is never trusted: nh3
(ammonia) then keeps only a small set of text-formatting tags, drops every
attribute except a link's ``href``/``title``, removes ``<script>``/``<style>``
together with their content and refuses URL schemes other than http(s) and mailto
(so ``javascript:`` links lose their target).
"""

from __future__ import annotations

import re

import markdown
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "strong",
    "em",
    "b",
    "i",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}
# The description sits under the page's h1 and a section h2: "# Überschrift" in the
# text becomes an h3, so the page keeps one h1 and a sensible outline.
_HEADING = re.compile(r"<(/?)h([1-6])(?=[\s>])")
HEADING_OFFSET = 2


def _shift_headings(html: str) -> str:
    return _HEADING.sub(lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + HEADING_OFFSET, 6)}", html)


def render_markdown(text: str | None) -> Markup:
    """Markdown source → sanitised HTML (a ``Markup``, so Jinja does not escape it again)."""
    if not text:
        return Markup("")
    html = markdown.markdown(text, extensions=["sane_lists"], output_format="html")
    clean = nh3.clean(
        _shift_headings(html),
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )
    return Markup(clean)  # noqa: S704  (sanitised by nh3 just above)
