"""Fill English translations for given msgids: python scripts/translate_missing.py FILE.json

The JSON maps German msgids to English text. Used while editing the catalogue;
entries it sets lose their fuzzy flag.
"""

import json
import sys

from babel.messages.pofile import read_po, write_po

PO = "fitstore/translations/en/LC_MESSAGES/messages.po"

with open(sys.argv[1], encoding="utf-8") as handle:
    wanted = json.load(handle)
with open(PO, "rb") as handle:
    catalog = read_po(handle)
for message in catalog:
    if message.id in wanted:
        message.string = wanted[message.id]
        message.flags.discard("fuzzy")
with open(PO, "wb") as handle:
    write_po(handle, catalog, width=100)
