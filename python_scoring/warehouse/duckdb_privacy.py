"""dbt-duckdb plugin (the profile's `plugins:`), for customer data protection on the embedded
warehouse (docs/privacy.md):

- every connection and cursor dbt opens gets the pseudonymisation salt as the session
  variable `scorehouse_pseudonym_salt`, bound as a parameter, so the salt never appears in
  SQL text (python_scoring.privacy);
- with SCOREHOUSE_DUCKDB_KEY set, the warehouse file is encrypted at rest: dbt connects to
  an in-memory DuckDB, and the plugin attaches the file with the key (a bound parameter,
  never in dbt's logs) under the catalog name dbt's relations use."""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin

from python_scoring.privacy import pseudonym_salt, warehouse_key
from python_scoring.warehouse._duckdb import attach_encrypted


def set_salt(connection) -> None:
    """Set the variable when the salt is set; unset, `pseudonymize` fails with its name."""
    salt = pseudonym_salt(required=False)
    if salt is not None:
        connection.execute("set variable scorehouse_pseudonym_salt = $1", [salt])


class Plugin(BasePlugin):
    _encrypted_path: str | None = None
    _catalog: str | None = None

    def update_connection_config(self, creds, config) -> None:
        # called before dbt-duckdb opens `creds.path`: an encrypted file is attached in
        # configure_connection instead (DuckDB opens encrypted files by ATTACH only)
        if creds.path != ":memory:" and warehouse_key() is not None:
            self._encrypted_path = creds.path
            creds.path = ":memory:"

    def configure_connection(self, conn) -> None:
        if self._encrypted_path is not None:
            self._catalog = attach_encrypted(conn, self._encrypted_path, warehouse_key())
        set_salt(conn)

    def configure_cursor(self, cursor) -> None:
        # a cursor is a new DuckDB connection: session variables and the default catalog
        # do not carry over
        if self._catalog is not None:
            cursor.execute(f'use "{self._catalog}"')
        set_salt(cursor)
