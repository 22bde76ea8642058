from datetime import UTC, datetime


def utcnow() -> datetime:
    """Naive UTC with microseconds: compares and hashes the same on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


MAX_ID = 2**31 - 1


def is_id(value) -> bool:
    """A value that can be a primary key here (a database would fail on anything larger)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID
