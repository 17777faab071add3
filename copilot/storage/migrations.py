"""Schema versions: each database lists its migrations in order; a file records how far it got.

A database holds one row in ``schema_version`` (``name``, ``version``). Opening a file applies,
in one transaction each, every migration above its version. A file whose version is above the
newest migration the code knows was written by a newer release: it is never touched, and opening
it raises :class:`~copilot.storage.errors.StorageError` with one sentence saying what to do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from copilot.storage.errors import StorageError


@dataclass(frozen=True)
class Migration:
    """One step of a database's schema: SQL statements, or a function of the connection."""

    version: int
    apply: str | Callable[[sqlite3.Connection], None]
    name: str = ""


def schema_version(conn: sqlite3.Connection) -> tuple[str, int]:
    """The ``(name, version)`` a file records; ``("", 0)`` for a new or unversioned file."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
    ).fetchone()
    if row is None:
        return "", 0
    found = conn.execute("SELECT name, version FROM schema_version").fetchone()
    return (str(found[0]), int(found[1])) if found else ("", 0)


def _check_order(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"Migrations must be numbered 1, 2, 3… in order, not {versions}.")


def migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration]) -> int:
    """Apply the missing migrations to ``conn`` (autocommit mode); return the version reached."""
    _check_order(migrations)
    newest = len(migrations)
    conn.execute("BEGIN IMMEDIATE")  # one process migrates at a time
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version"
            " (name TEXT NOT NULL, version INTEGER NOT NULL)"
        )
        _name, version = schema_version(conn)
        if version > newest:
            raise StorageError(
                f"Database {path} was written by a newer version of Operator Co-Pilot "
                f"(schema {version}, this version knows up to {newest}): upgrade this "
                "installation, or move the file aside to start a new one."
            )
        if conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 0:
            conn.execute("INSERT INTO schema_version (name, version) VALUES (?, 0)", (path.stem,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    for step in migrations[version:]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn)[1] < step.version:  # another process may have done it
                if isinstance(step.apply, str):
                    for statement in _statements(step.apply):
                        conn.execute(statement)
                else:
                    step.apply(conn)
                conn.execute("UPDATE schema_version SET version = ?", (step.version,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return newest


def _statements(script: str) -> list[str]:
    """Split a script into statements (``executescript`` would commit our transaction)."""
    out, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return out
