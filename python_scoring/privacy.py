"""Customer data protection shared by every engine: the pseudonymisation salt (docs/privacy.md).

The salt comes from env SCOREHOUSE_PSEUDONYM_SALT and reaches each engine as a session
setting, never as text in SQL (so never in dbt's compiled SQL, logs or artifacts):
DuckDB's variable `scorehouse_pseudonym_salt` (set by the profile's plugin,
`python_scoring.warehouse.duckdb_privacy`), PostgreSQL's `scorehouse.pseudonym_salt`
(PGOPTIONS, set by `prepare_process` or by the operator) and Spark's conf
`spark.scorehouse.secret.pseudonym_salt` (the profile's server_side_parameters; Spark
redacts conf values whose key says "secret"). The dispatched macro `pseudonymize`
(macros/privacy/pseudonymize.sql) reads it there.
"""

from __future__ import annotations

import hashlib
import os
import re

from python_scoring.errors import ScorehouseError

SALT_ENV = "SCOREHOUSE_PSEUDONYM_SALT"
# letters, digits and - _ . ~ + / = only: the salt travels in PGOPTIONS (space-separated)
# and in Spark's ${...} substitution; 16+ characters so that keys cannot be brute-forced
# from the (small) space of phone numbers
_SALT_PATTERN = re.compile(r"[A-Za-z0-9_.~+/=-]{16,}")


def pseudonym_salt(required: bool = True) -> str | None:
    """The salt from the environment, checked; None when unset and not `required`."""
    salt = os.environ.get(SALT_ENV, "")
    if not salt:
        if not required:
            return None
        raise ScorehouseError(
            f"{SALT_ENV} is not set: the BI marts carry pseudonymous keys made with it "
            "(a secret of 16+ characters, kept out of the repository; docs/privacy.md)"
        )
    if not _SALT_PATTERN.fullmatch(salt):
        raise ScorehouseError(
            f"{SALT_ENV} must be 16 or more characters of A-Z a-z 0-9 - _ . ~ + / = "
            f"(it has {len(salt)} characters)"
        )
    return salt


def pseudonymize(value: str, salt: str) -> str:
    """The key the SQL macro `pseudonymize` gives `value`: hex SHA-256 of salt, '|', value."""
    return hashlib.sha256(f"{salt}|{value}".encode()).hexdigest()


def pgoptions(existing: str = "") -> str:
    """PGOPTIONS (read by libpq, hence by dbt-postgres and by python_scoring) with the salt
    as the session setting `scorehouse.pseudonym_salt` added, when the salt is set and
    PGOPTIONS does not set that already."""
    salt = pseudonym_salt(required=False)
    if salt is None or "scorehouse.pseudonym_salt=" in existing:
        return existing
    return f"{existing} -c scorehouse.pseudonym_salt={salt}".strip()
