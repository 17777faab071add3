"""The people who may act: ids, printed names, roles, hashed PINs or passwords, lock-out.

One SQLite file, ``<data>/people.db`` (table ``person``), shared by the hub and ``copilot
users``: each :class:`PeopleStore` writes through its own connection in short ``BEGIN
IMMEDIATE`` transactions (WAL, ``synchronous=FULL``), never through a writer thread, so both
processes may have the file open at once. :meth:`PeopleStore.changed` tells a cache cheaply
whether another process wrote since it last looked.

Secrets are hashed with scrypt (``hashlib.scrypt``, memory-hard), a 16-byte random salt per
row and the parameters stored in the row, so rows hashed with other parameters keep working;
they are compared in constant time, never stored, logged or returned. A PIN is 4 to 12 digits,
a password 8 to 128 characters.

:meth:`PeopleStore.verify` answers with the :class:`Person` or a :class:`Refusal`. An unknown
id and a wrong secret get the same sentence (and cost the same scrypt run), so a refusal does
not tell which ids exist. ``attempts`` consecutive failures (default 5) lock the person out
for ``lockout_s`` (default 300 s): while locked every attempt is refused at once, without
running the KDF and without extending the lock; a success resets the count; :meth:`enable`
(a SecurityAdmin's act) lifts a lock-out. A lock-out does show that its id exists — ids are
not secrets (they are printed in the audit trail). A disabled person is told so only after
giving the right secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from copilot.gate.roles import ROLES, Role, parse_roles
from copilot.storage import Connection, Migration, open_database

MIGRATIONS = (
    Migration(
        1,
        """
        CREATE TABLE IF NOT EXISTS person (
            user           TEXT PRIMARY KEY,
            name           TEXT NOT NULL,
            roles          TEXT NOT NULL,
            kdf            TEXT NOT NULL,
            salt           BLOB NOT NULL,
            hash           BLOB NOT NULL,
            n              INTEGER NOT NULL,
            r              INTEGER NOT NULL,
            p              INTEGER NOT NULL,
            disabled       INTEGER NOT NULL DEFAULT 0,
            failures       INTEGER NOT NULL DEFAULT 0,
            locked_until   INTEGER NOT NULL DEFAULT 0,
            created        INTEGER NOT NULL,
            secret_changed INTEGER NOT NULL
        );
        """,
        "people",
    ),
)

USER_ID = re.compile(r"[a-z0-9._-]{1,32}")
NAME_MAX = 64
SECRET_RULE = "A PIN is 4 to 12 digits; a password 8 to 128 characters."
DKLEN = 32
SALT_BYTES = 16

RefusalCode = Literal["bad_credentials", "locked_out", "disabled"]
BAD_CREDENTIALS = "Unknown user or wrong PIN or password."


def people_path(data_path: Path) -> Path:
    """The people file of a hub whose data folder is ``data_path``."""
    return data_path / "people.db"


class PeopleError(Exception):
    """A change to the people file refused; the message is one sentence saying why."""


@dataclass(frozen=True, slots=True)
class KdfParams:
    """scrypt's cost parameters: ``n`` (a power of two), ``r`` and ``p``."""

    n: int = 2**14
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        # The upper bounds keep a row edited to absurd costs from exhausting memory on a log-in.
        if not (2 <= self.n <= 2**20 and 1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise ValueError(f"scrypt parameters out of range (n ≤ 2²⁰, r ≤ 32, p ≤ 16): {self}.")
        if self.n & (self.n - 1):
            raise ValueError(f"scrypt's n must be a power of two, not {self.n}.")


DEFAULT_KDF = KdfParams()


@dataclass(frozen=True, slots=True)
class Person:
    """One person as the store knows them (no secret, no hash)."""

    user: str
    name: str
    roles: tuple[Role, ...]
    disabled: bool
    locked_until: int  # ns UTC; 0: not locked out
    failures: int

    def locked(self, now: int | None = None) -> bool:
        """Whether the person is locked out at ``now`` (ns UTC)."""
        return self.locked_until > (time.time_ns() if now is None else now)

    def has_role(self, role: Role) -> bool:
        """Whether ``role`` is one of the person's roles."""
        return role in self.roles


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a log-in was refused: a stable ``code`` and a sentence for the person.

    ``until`` is the end of a lock-out (ns UTC); ``just_locked`` is true on the failure that
    started it (audit it as a lock-out once).
    """

    code: RefusalCode
    sentence: str
    until: int = 0
    just_locked: bool = False


def check_secret(secret: str) -> None:
    """Raise :class:`PeopleError` unless ``secret`` is a valid PIN or password."""
    if secret.isascii() and secret.isdigit() and len(secret) <= 12:
        if len(secret) < 4:
            raise PeopleError(SECRET_RULE)
    elif not 8 <= len(secret) <= 128:
        raise PeopleError(SECRET_RULE)


def _user_id(user: str) -> str:
    """``user`` lowercased, or :class:`PeopleError` if it is not a valid id."""
    uid = user.strip().lower()
    if not USER_ID.fullmatch(uid):
        raise PeopleError(
            f"{user!r} is not a user id: use 1 to 32 lowercase letters, digits, '.', '_' or '-'."
        )
    return uid


def _printed_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean or len(clean) > NAME_MAX or not clean.isprintable():
        raise PeopleError(f"Give the person's printed name, 1 to {NAME_MAX} characters.")
    return clean


def _roles(roles: Sequence[str]) -> tuple[Role, ...]:
    try:
        return parse_roles(roles)
    except ValueError as exc:
        raise PeopleError(str(exc)) from None


def _hash(secret: str, salt: bytes, kdf: KdfParams) -> bytes:
    # OpenSSL needs 128·r·(n + p + 2) bytes; the margin keeps odd parameter sets working.
    maxmem = 128 * kdf.r * (kdf.n + kdf.p + 2) + (1 << 20)
    data = unicodedata.normalize("NFC", secret).encode("utf-8")
    return hashlib.scrypt(data, salt=salt, n=kdf.n, r=kdf.r, p=kdf.p, maxmem=maxmem, dklen=DKLEN)


def _clock(now: int | None) -> int:
    return time.time_ns() if now is None else now


def lockout_sentence(user: str, until: int) -> str:
    """The sentence of a lock-out: until when (local time) and who can lift it."""
    local = datetime.fromtimestamp(until / 1e9).strftime("%H:%M:%S")
    return (
        f"{user} is locked out after too many wrong attempts until {local}; "
        "ask a SecurityAdmin to unlock."
    )


_COLUMNS = "user, name, roles, disabled, locked_until, failures"


class PeopleStore:
    """The people file at ``path`` (created with its schema on first use).

    ``kdf`` hashes new and changed secrets (default :data:`DEFAULT_KDF`; tests lower it);
    ``attempts`` failures in a row lock a person out for ``lockout_s`` seconds. Safe to use
    from several threads; all times are ns UTC (``now`` defaults to the clock).
    """

    def __init__(
        self,
        path: Path,
        *,
        kdf: KdfParams | None = None,
        attempts: int = 5,
        lockout_s: float = 300.0,
    ) -> None:
        if attempts < 1 or lockout_s <= 0:
            raise ValueError("attempts must be at least 1 and lockout_s positive.")
        self.path = path
        self.kdf = DEFAULT_KDF if kdf is None else kdf
        self.attempts = attempts
        self.lockout_ns = round(lockout_s * 1e9)
        self._lock = threading.Lock()
        self._conn: Connection = open_database(path, MIGRATIONS)
        self._data_version = self._version()
        # Verifying an unknown id costs what a known one does (a refusal must not tell which).
        self._dummy_salt = secrets.token_bytes(SALT_BYTES)

    def close(self) -> None:
        """Close the file (safe to call twice)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> PeopleStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------------

    def get(self, user: str) -> Person | None:
        """The person with id ``user`` (any case), or ``None``."""
        uid = user.strip().lower()
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM person WHERE user = ?", (uid,)
            ).fetchone()
        return None if row is None else _person(row)

    def changed(self) -> bool:
        """Whether another connection wrote to the file since the last call (or the opening)."""
        with self._lock:
            version = self._version()
            changed = version != self._data_version
            self._data_version = version
        return changed

    def _version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    # -- changing --------------------------------------------------------------------------------

    def add(
        self, user: str, name: str, roles: Sequence[str], secret: str, now: int | None = None
    ) -> Person:
        """Add a person (:class:`PeopleError` if the id is taken or any input is wrong)."""
        uid = _user_id(user)
        printed = _printed_name(name)
        held = _roles(roles)
        check_secret(secret)
        salt = secrets.token_bytes(SALT_BYTES)
        digest = _hash(secret, salt, self.kdf)
        at = _clock(now)
        with self._lock, self._transaction():
            if self._conn.execute("SELECT 1 FROM person WHERE user = ?", (uid,)).fetchone():
                raise PeopleError(f"There is already a person {uid!r}.")
            self._conn.execute(
                "INSERT INTO person (user, name, roles, kdf, salt, hash, n, r, p, disabled,"
                " failures, locked_until, created, secret_changed)"
                " VALUES (?, ?, ?, 'scrypt', ?, ?, ?, ?, ?, 0, 0, 0, ?, ?)",
                (uid, printed, ",".join(held), salt, digest, *self._params(), at, at),
            )
        return Person(uid, printed, held, False, 0, 0)

    def set_secret(self, user: str, secret: str, now: int | None = None) -> Person:
        """Give ``user`` a new PIN or password (hashed with this store's parameters)."""
        uid = user.strip().lower()
        check_secret(secret)
        salt = secrets.token_bytes(SALT_BYTES)
        digest = _hash(secret, salt, self.kdf)
        return self._update(
            uid,
            "salt = ?, hash = ?, kdf = 'scrypt', n = ?, r = ?, p = ?, secret_changed = ?",
            (salt, digest, *self._params(), _clock(now)),
        )

    def set_roles(self, user: str, roles: Sequence[str]) -> Person:
        """Replace ``user``'s roles."""
        held = _roles(roles)
        return self._update(user.strip().lower(), "roles = ?", (",".join(held),))

    def disable(self, user: str) -> Person:
        """Refuse every log-in of ``user`` until :meth:`enable`."""
        return self._update(user.strip().lower(), "disabled = 1", ())

    def enable(self, user: str) -> Person:
        """Allow ``user`` to log in again; also lifts a lock-out and clears the failures."""
        return self._update(
            user.strip().lower(), "disabled = 0, failures = 0, locked_until = 0", ()
        )

    def _params(self) -> tuple[int, int, int]:
        return self.kdf.n, self.kdf.r, self.kdf.p

    def _update(self, uid: str, assignments: str, params: tuple[object, ...]) -> Person:
        with self._lock, self._transaction():
            cursor = self._conn.execute(
                f"UPDATE person SET {assignments} WHERE user = ?", (*params, uid)
            )
            if cursor.rowcount == 0:
                raise PeopleError(f"There is no person {uid!r}.")
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM person WHERE user = ?", (uid,)
            ).fetchone()
        return _person(row)

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn)

    # -- logging in ------------------------------------------------------------------------------

    def verify(self, user: str, secret: str, now: int | None = None) -> Person | Refusal:
        """Check ``user``'s PIN or password: the :class:`Person`, or a :class:`Refusal`."""
        at = _clock(now)
        uid = user.strip().lower()
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS}, salt, hash, n, r, p FROM person WHERE user = ?", (uid,)
            ).fetchone()
        if row is None:
            _hash(secret, self._dummy_salt, self.kdf)
            return Refusal("bad_credentials", BAD_CREDENTIALS)
        person = _person(row)
        if person.locked(at):
            return Refusal(
                "locked_out", lockout_sentence(uid, person.locked_until), person.locked_until
            )
        salt, stored = bytes(row[6]), bytes(row[7])
        try:
            digest = _hash(secret, salt, KdfParams(int(row[8]), int(row[9]), int(row[10])))
        except ValueError:  # parameters no scrypt accepts: the row cannot match
            digest = b""
        good = hmac.compare_digest(digest, stored)
        with self._lock, self._transaction():
            # Read again inside the transaction: another process may have locked or reset it.
            now_row = self._conn.execute(
                "SELECT failures, locked_until FROM person WHERE user = ?", (uid,)
            ).fetchone()
            if now_row is None:
                return Refusal("bad_credentials", BAD_CREDENTIALS)
            failures, locked_until = int(now_row[0]), int(now_row[1])
            if locked_until > at:
                return Refusal("locked_out", lockout_sentence(uid, locked_until), locked_until)
            if good:
                self._conn.execute(
                    "UPDATE person SET failures = 0, locked_until = 0 WHERE user = ?", (uid,)
                )
            else:
                if locked_until:  # an old lock-out that has run out: count afresh
                    failures = 0
                failures += 1
                locked_until = at + self.lockout_ns if failures >= self.attempts else 0
                self._conn.execute(
                    "UPDATE person SET failures = ?, locked_until = ? WHERE user = ?",
                    (failures, locked_until, uid),
                )
        if not good:
            if locked_until:
                return Refusal(
                    "locked_out", lockout_sentence(uid, locked_until), locked_until, True
                )
            return Refusal("bad_credentials", BAD_CREDENTIALS)
        if person.disabled:
            return Refusal(
                "disabled", f"{uid} is disabled; ask a SecurityAdmin to enable this user."
            )
        return Person(person.user, person.name, person.roles, False, 0, 0)

    # Last: inside the class body, ``list`` names this method from here on.
    def list(self) -> list[Person]:
        """Everyone, by id."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM person ORDER BY user").fetchall()
        return [_person(row) for row in rows]


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on any exception) on an autocommit file."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_rest: object) -> None:
        if kind is not None:
            self._conn.execute("ROLLBACK")
            return
        try:
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise


def _person(row: tuple[Any, ...]) -> Person:
    held = str(row[2]).split(",")
    return Person(
        user=str(row[0]),
        name=str(row[1]),
        roles=tuple(role for role in ROLES if role in held),
        disabled=bool(row[3]),
        locked_until=int(row[4]),
        failures=int(row[5]),
    )


DEMO_PEOPLE = (
    ("demo-operator", "Demo Operator", "Operator", "1111"),
    ("demo-supervisor", "Demo Supervisor", "Supervisor", "2222"),
    ("demo-engineer", "Demo Engineer", "Engineer", "3333"),
)


def ensure_demo(store: PeopleStore) -> list[Person]:
    """Add the demo's three people where missing (existing rows stay as they are)."""
    added = []
    for user, name, role, pin in DEMO_PEOPLE:
        if store.get(user) is None:
            try:
                added.append(store.add(user, name, [role], pin))
            except PeopleError:  # another process added it meanwhile: it is there, as wanted
                continue
    return added
