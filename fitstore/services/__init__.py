"""Use cases. Each checks permission, validates, writes the audit event and commits once."""
