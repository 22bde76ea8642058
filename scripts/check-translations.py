#!/usr/bin/env python3
"""Check that the English catalogue covers every UI string in the current sources.

Meant for CI; run it from anywhere with the project's Python:

    .venv/bin/python scripts/check-translations.py [--locale en]

It fails (exit code 1) and lists the problems when

* a msgid extracted from the sources (same rules as the documented
  ``pybabel extract`` command: babel.cfg, keywords ``_l`` and ``lazy_gettext``,
  ``--ignore-dirs='.*'`` so that templates/_macros/ is scanned too)
  has no entry in ``fitstore/translations/<locale>/LC_MESSAGES/messages.po``,
  or its entry is fuzzy or empty (for plural entries: any form is empty);
* a translation does not keep the msgid's placeholders (``%(name)s`` ...);
* the compiled ``messages.mo`` is missing or does not hold exactly the
  translations of the ``.po`` (i.e. ``pybabel compile`` was not re-run).

To fix a failure:

    .venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs='.*' \
        -o fitstore/translations/messages.pot .
    .venv/bin/pybabel update -i fitstore/translations/messages.pot -d fitstore/translations
    # translate the new/fuzzy entries in the .po, then:
    .venv/bin/pybabel compile -d fitstore/translations
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "fitstore" / "translations"
KEYWORDS = ("_l", "lazy_gettext")


def extract(target: Path) -> Catalog:
    """Extract the current sources into ``target`` (a .pot) and return it as a catalogue."""
    # pybabel skips "_*" directories by default, which would miss templates/_macros/.
    argv = ["pybabel", "--quiet", "extract", "-F", str(ROOT / "babel.cfg"), "--ignore-dirs=.*"]
    for keyword in KEYWORDS:
        argv += ["-k", keyword]
    argv += ["-o", str(target), "."]
    # babel.cfg patterns are relative to the project root.
    previous = Path.cwd()
    os.chdir(ROOT)
    try:
        CommandLineInterface().run(argv)
    finally:
        os.chdir(previous)
    with target.open("rb") as handle:
        return read_po(handle)


def is_translated(string: str | tuple[str, ...] | None) -> bool:
    if isinstance(string, tuple | list):
        return bool(string) and all(string)
    return bool(string)


def label(message_id: str | tuple[str, ...], context: str | None = None) -> str:
    text = message_id[0] if isinstance(message_id, tuple | list) else message_id
    return f"[{context}] {text!r}" if context else repr(text)


def check_coverage(template: Catalog, catalog: Catalog) -> list[str]:
    problems = []
    for message in template:
        if not message.id:
            continue  # the header
        entry = catalog.get(message.id, context=message.context)
        name = label(message.id, message.context)
        locations = ", ".join(f"{path}:{line}" for path, line in message.locations[:3])
        where = f"  ({locations})" if locations else ""
        if entry is None:
            problems.append(f"missing:      {name}{where}")
        elif entry.fuzzy:
            problems.append(f"fuzzy:        {name}{where}")
        elif message.pluralizable and not entry.pluralizable:
            problems.append(f"not plural:   {name}{where}")
        elif not is_translated(entry.string):
            problems.append(f"empty:        {name}{where}")
    return problems


def check_placeholders(catalog: Catalog) -> list[str]:
    problems = []
    for message, errors in catalog.check():
        for error in errors:
            problems.append(f"placeholder:  {label(message.id, message.context)}: {error}")
    return problems


def translations_of(catalog: Catalog) -> dict:
    """``{(context, msgid): msgstr}`` of the entries a compiled .mo would contain."""
    table = {}
    for message in catalog:
        if not message.id or message.fuzzy or not is_translated(message.string):
            continue
        # read_mo gives lists for plural ids and strings, read_po gives tuples.
        message_id = tuple(message.id) if isinstance(message.id, list) else message.id
        string = tuple(message.string) if isinstance(message.string, list) else message.string
        table[(message.context, message_id)] = string
    return table


def check_compiled(catalog: Catalog, mo_path: Path) -> list[str]:
    relative = mo_path.relative_to(ROOT)
    if not mo_path.exists():
        return [f"compiled:     {relative} does not exist (run pybabel compile)"]
    with mo_path.open("rb") as handle:
        compiled = read_mo(handle)
    expected = translations_of(catalog)
    actual = translations_of(compiled)
    problems = []
    for key, string in expected.items():
        if key not in actual:
            problems.append(f"compiled:     {label(key[1], key[0])} is not in {relative}")
        elif actual[key] != string:
            problems.append(f"compiled:     {label(key[1], key[0])} differs in {relative}")
    for key in actual.keys() - expected.keys():
        problems.append(
            f"compiled:     {label(key[1], key[0])} is in {relative} but untranslated in the .po"
        )
    if compiled.plural_forms != catalog.plural_forms:
        problems.append(f"compiled:     Plural-Forms header of {relative} differs from the .po")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-l", "--locale", default="en", help="catalogue to check (default: en)")
    args = parser.parse_args(argv)

    directory = TRANSLATIONS / args.locale / "LC_MESSAGES"
    po_path = directory / "messages.po"
    if not po_path.exists():
        print(f"FAIL: {po_path.relative_to(ROOT)} does not exist", file=sys.stderr)
        return 1
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=args.locale)

    with tempfile.TemporaryDirectory() as tmp:
        template = extract(Path(tmp) / "messages.pot")

    problems = check_coverage(template, catalog)
    problems += check_placeholders(catalog)
    problems += check_compiled(catalog, directory / "messages.mo")

    source_ids = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in template if m.id}
    stale = [
        m
        for m in catalog
        if m.id and (m.context, m.id if isinstance(m.id, str) else m.id[0]) not in source_ids
    ]

    if problems:
        print(
            f"FAIL: {len(problems)} translation problem(s) in {po_path.relative_to(ROOT)}:",
            file=sys.stderr,
        )
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print(
            "Fix: pybabel extract + update, translate, then pybabel compile "
            "(see the docstring of scripts/check-translations.py).",
            file=sys.stderr,
        )
        return 1
    count = sum(1 for m in template if m.id)
    note = (
        f"; {len(stale)} entries no longer in the sources (pybabel update drops them)"
        if stale
        else ""
    )
    print(
        f"OK: all {count} messages have an '{args.locale}' translation and the .mo is current{note}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
