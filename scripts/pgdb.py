"""Create or drop a throw-away PostgreSQL database for the test run.

    python scripts/pgdb.py create NAME
    python scripts/pgdb.py drop NAME

The server is taken from FITSTORE_PG_ADMIN_URL
(default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import os
import re
import sys

import psycopg
from psycopg import sql

ADMIN_URL = os.environ.get("FITSTORE_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def main(action: str, name: str) -> int:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        print(f"refusing odd database name {name!r}", file=sys.stderr)
        return 2
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        if action == "create":
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        elif action == "drop":
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        else:
            print(__doc__, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
