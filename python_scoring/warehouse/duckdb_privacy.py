"""dbt-duckdb plugin (the profile's `plugins:`): every connection and cursor dbt opens gets
the pseudonymisation salt as the session variable `scorehouse_pseudonym_salt`, bound as a
parameter, so the salt never appears in SQL text (python_scoring.privacy)."""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin

from python_scoring.privacy import pseudonym_salt


def set_salt(connection) -> None:
    """Set the variable when the salt is set; unset, `pseudonymize` fails with its name."""
    salt = pseudonym_salt(required=False)
    if salt is not None:
        connection.execute("set variable scorehouse_pseudonym_salt = $1", [salt])


class Plugin(BasePlugin):
    def configure_connection(self, conn) -> None:
        set_salt(conn)

    def configure_cursor(self, cursor) -> None:
        # a cursor is a new DuckDB connection: session variables do not carry over
        set_salt(cursor)
