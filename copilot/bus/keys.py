"""CurveZMQ key pairs and the hub's allow-list, kept under ``<data folder>/keys``.

Layout: ``<name>.key`` (public) and ``<name>.key_secret`` (mode 0600) for this host's
identities (``hub``, ``station``, ``agent``, ``cli``), and ``allowed.json`` — the keys the hub
admits, each with a name, a role and (agents) the machine ids it may speak for, plus the names
revoked. A revoked name can only come back by being allowed again explicitly. Every error is a
:class:`KeyFileError` with one sentence; an allow-list that cannot be read or parsed is such an
error too (never an empty list: that would refuse everyone as "unknown key").

Machine bindings: ``machines`` holds machine ids or :mod:`fnmatch` patterns (``press-*``).
:meth:`AllowList.may_speak_for` is what the hub asks before it believes a message about a
machine: ``True`` (bound to this key), ``False`` (not admitted, or the id is bound to another
key), ``None`` (this key has no binding and no other key's binding covers the id — the hub's
first-claim rule decides).
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

import msgspec
import zmq
import zmq.auth

Role = Literal["agent", "station", "hub"]
LOCAL_IDENTITIES: dict[str, Role] = {
    "hub": "hub",
    "station": "station",
    "agent": "agent",
    "cli": "station",
}


class KeyFileError(Exception):
    """A key file is missing, unreadable or malformed; the message says which and how to fix."""


@dataclass(frozen=True)
class KeyPair:
    """A Z85 public/secret key pair (40 characters each, as bytes)."""

    public: bytes
    secret: bytes


MACHINE_PATTERN = re.compile(r"^[a-z0-9_\-*?\[\]!]{1,64}$")


class AllowedKey(msgspec.Struct):
    """One key the hub admits; ``machines`` (agents only) binds it to ids or patterns."""

    name: str
    public: str
    role: Role
    added_at: int
    machines: list[str] = msgspec.field(default_factory=list)

    @property
    def user(self) -> str:
        """The ZAP User-Id of this key's connections: ``role:name``."""
        return f"{self.role}:{self.name}"

    def binds(self, machine_id: str) -> bool:
        """Whether one of this key's patterns covers ``machine_id``."""
        return any(fnmatchcase(machine_id, pattern) for pattern in self.machines)


class AllowList(msgspec.Struct):
    """The contents of ``allowed.json``."""

    keys: list[AllowedKey] = msgspec.field(default_factory=list)
    revoked: list[AllowedKey] = msgspec.field(default_factory=list)

    def role_of(self, public: bytes) -> tuple[str, Role] | None:
        """Name and role of an admitted key, or ``None``."""
        text = public.decode("ascii", "replace")
        for key in self.keys:
            if key.public == text:
                return key.name, key.role
        return None

    def key_of(self, user: str) -> AllowedKey | None:
        """The admitted key whose connections carry User-Id ``user`` (``role:name``)."""
        for key in self.keys:
            if key.user == user:
                return key
        return None

    def may_speak_for(self, user: str, machine_id: str) -> bool | None:
        """Whether the key ``user`` (``role:name``) may speak for ``machine_id``.

        ``True``: the id is bound to this key. ``False``: the key is not an admitted agent key,
        or the id is outside its binding, or (key without binding) another key's binding covers
        the id. ``None``: the key has no binding and nobody else's covers the id — the hub's
        first-claim rule applies.
        """
        key = self.key_of(user)
        if key is None or key.role != "agent":
            return False
        if key.machines:
            return key.binds(machine_id)
        if any(k.binds(machine_id) for k in self.keys if k is not key and k.role == "agent"):
            return False
        return None


def parse_machines(text: str | Iterable[str]) -> list[str]:
    """``ID[,ID…|PATTERN]`` as a list of patterns; a malformed one is a :class:`KeyFileError`."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if not MACHINE_PATTERN.match(part):
            raise KeyFileError(
                f"{part!r} is not a machine id or pattern: use lower-case letters, digits, "
                "'-', '_' and the wildcards '*', '?', '[…]' (at most 64 characters)."
            )
        out.append(part)
    return out


def _valid_z85_key(key: bytes) -> bool:
    if len(key) != 40:
        return False
    try:
        return len(zmq.utils.z85.decode(key)) == 32
    except (ValueError, KeyError):
        return False


class KeyStore:
    """The identities of this host and the hub's allow-list."""

    def __init__(self, data_path: Path) -> None:
        self.dir = data_path / "keys"
        self.allowed_path = self.dir / "allowed.json"

    # -- identities ---------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether ``init`` has run here (any local key pair exists, even if others are missing)."""
        return any((self.dir / f"{name}.key_secret").exists() for name in LOCAL_IDENTITIES)

    def init(self) -> list[str]:
        """Create missing local key pairs and admit the local ones; return what was created."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        created = []
        for name, role in LOCAL_IDENTITIES.items():
            if not (self.dir / f"{name}.key_secret").exists():
                public_file, secret_file = zmq.auth.create_certificates(str(self.dir), name)
                os.chmod(secret_file, stat.S_IRUSR | stat.S_IWUSR)
                os.chmod(public_file, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
                created.append(name)
            if role != "hub":
                allow = self.load_allowlist()
                pair = self.identity(name)
                if allow.role_of(pair.public) is None and not any(
                    k.name == name for k in allow.revoked
                ):
                    self._add(allow, name, pair.public.decode(), role)
        return created

    def identity(self, name: str) -> KeyPair:
        """Load ``<name>.key_secret``; a missing or unreadable file is a clear error."""
        path = self.dir / f"{name}.key_secret"
        if not path.exists():
            raise KeyFileError(
                f"Key file {path} is missing: run `copilot keys init` "
                "(or point COPILOT_DATA_DIR at the folder that holds the keys)."
            )
        try:
            public, secret = zmq.auth.load_certificate(str(path))
        except OSError as exc:
            raise KeyFileError(f"Key file {path} cannot be read: {exc.strerror}.") from None
        except ValueError:
            raise KeyFileError(
                f"Key file {path} does not hold a valid CurveZMQ key pair."
            ) from None
        if secret is None or not _valid_z85_key(public) or not _valid_z85_key(secret):
            raise KeyFileError(f"Key file {path} does not hold a valid CurveZMQ key pair.")
        return KeyPair(public=public, secret=secret)

    def hub_public(self) -> bytes:
        """The hub's public key (what agents and stations pin)."""
        return self.public_of(self.dir / "hub.key")

    @staticmethod
    def public_of(path: Path) -> bytes:
        """Read a public key from a ZeroMQ certificate file or a file holding a bare Z85 key."""
        try:
            text = path.read_bytes().strip()
        except OSError as exc:
            raise KeyFileError(f"Key file {path} cannot be read: {exc.strerror}.") from None
        if _valid_z85_key(text):
            return text
        try:
            public, _ = zmq.auth.load_certificate(str(path))
        except (OSError, ValueError) as exc:
            raise KeyFileError(f"{path} is not a CurveZMQ key or certificate: {exc}.") from None
        if not _valid_z85_key(public):
            raise KeyFileError(f"{path} does not hold a valid CurveZMQ public key.")
        return public

    def export_hub(self) -> str:
        """The hub's public certificate, as text to copy to other hosts."""
        self.identity("hub")
        return (self.dir / "hub.key").read_text(encoding="ascii")

    # -- allow-list ---------------------------------------------------------------------------

    def load_allowlist(self) -> AllowList:
        """Read ``allowed.json`` (empty if absent); unusable → :class:`KeyFileError`."""
        path = self.allowed_path
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return AllowList()
        except OSError as exc:
            raise KeyFileError(
                f"Allow-list {path} cannot be read ({exc.strerror}); fix its permissions "
                "or remove it and admit the keys again with `copilot keys allow`."
            ) from None
        try:
            return msgspec.json.decode(raw, type=AllowList)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            reason = str(exc).replace(" - ", ", ").rstrip(".")
            raise KeyFileError(
                f"Allow-list {path} is corrupt ({reason}); restore it from a backup or remove "
                "it and admit the keys again with `copilot keys allow`."
            ) from None

    def allowlist_mtime(self) -> float:
        """Modification time of the allow-list (0 if absent), to notice changes cheaply."""
        try:
            return self.allowed_path.stat().st_mtime_ns / 1e9
        except OSError:
            return 0.0

    def _save(self, allow: AllowList) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.allowed_path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.format(msgspec.json.encode(allow)))
        os.chmod(tmp, stat.S_IRUSR | stat.S_IWUSR)
        os.replace(tmp, self.allowed_path)

    def _add(
        self, allow: AllowList, name: str, public: str, role: Role, machines: Sequence[str] = ()
    ) -> None:
        allow.keys = [k for k in allow.keys if k.name != name and k.public != public]
        allow.revoked = [k for k in allow.revoked if k.name != name and k.public != public]
        allow.keys.append(
            AllowedKey(
                name=name,
                public=public,
                role=role,
                added_at=time.time_ns(),
                machines=list(machines),
            )
        )
        self._save(allow)

    def allow(
        self, path: Path, name: str, role: Role, machines: str | Sequence[str] = ()
    ) -> AllowedKey:
        """Admit the public key in ``path`` under ``name`` with ``role``.

        ``machines`` (agents only: ``ID[,ID…|PATTERN]`` or a list) binds the key to those ids.
        """
        patterns = parse_machines(machines)
        if patterns and role != "agent":
            raise KeyFileError(
                f"Only agent keys speak for machines; {name!r} is a {role} key, so leave out "
                "--machines."
            )
        public = self.public_of(path).decode()
        allow = self.load_allowlist()
        self._add(allow, name, public, role, patterns)
        return next(k for k in self.load_allowlist().keys if k.name == name)

    def revoke(self, name: str) -> AllowedKey:
        """Move ``name`` from the admitted keys to the revoked ones."""
        allow = self.load_allowlist()
        found = [k for k in allow.keys if k.name == name]
        if not found:
            known = ", ".join(sorted(k.name for k in allow.keys)) or "none"
            raise KeyFileError(f"No admitted key is named {name!r} (admitted: {known}).")
        allow.keys = [k for k in allow.keys if k.name != name]
        allow.revoked.extend(found)
        self._save(allow)
        return found[0]
