"""The people store: scrypt secrets with their parameters, PIN rules, roles, lock-out."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from copilot.gate import people
from copilot.gate.people import (
    BAD_CREDENTIALS,
    SECRET_RULE,
    KdfParams,
    PeopleError,
    PeopleStore,
    Person,
    Refusal,
    ensure_demo,
    people_path,
)

FAST = KdfParams(n=2**10, r=8, p=1)
T0 = 1_800_000_000 * 10**9
S = 10**9


@pytest.fixture
def store(data_dir: Path) -> Iterator[PeopleStore]:
    with PeopleStore(people_path(data_dir), kdf=FAST) as s:
        yield s


@pytest.fixture
def kdf_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts scrypt runs (one entry per run)."""
    runs: list[int] = []
    real = people._hash

    def counting(secret: str, salt: bytes, kdf: KdfParams) -> bytes:
        runs.append(kdf.n)
        return real(secret, salt, kdf)

    monkeypatch.setattr(people, "_hash", counting)
    return runs


def refused(result: Person | Refusal, code: str) -> Refusal:
    assert isinstance(result, Refusal), result
    assert result.code == code, result
    return result


def test_lockout_after_five_failures_says_until_when(store: PeopleStore) -> None:
    store.add("ana", "Ana Lima", ["Operator"], "4711")
    for i in range(4):
        refused(store.verify("ana", "0000", now=T0 + i * S), "bad_credentials")
    assert store.get("ana") == Person("ana", "Ana Lima", ("Operator",), False, 0, 4)
    locked = refused(store.verify("ana", "0000", now=T0 + 4 * S), "locked_out")
    until = T0 + 4 * S + 300 * S
    assert locked.until == until and locked.just_locked
    hhmmss = datetime.fromtimestamp(until / 1e9).strftime("%H:%M:%S")
    assert f"until {hhmmss}" in locked.sentence
    assert "ask a SecurityAdmin to unlock" in locked.sentence
    # The right PIN does not get in while locked; once the time has passed, it does.
    again = refused(store.verify("ana", "4711", now=until - 1), "locked_out")
    assert not again.just_locked and again.sentence == locked.sentence
    person = store.verify("ana", "4711", now=until)
    assert isinstance(person, Person) and person.failures == 0
    assert store.get("ana") == Person("ana", "Ana Lima", ("Operator",), False, 0, 0)


def test_attempts_while_locked_neither_extend_it_nor_run_the_kdf(
    store: PeopleStore, kdf_runs: list[int]
) -> None:
    store.add("ana", "Ana Lima", ["Operator"], "4711")
    for i in range(5):
        store.verify("ana", "0000", now=T0 + i)
    before = len(kdf_runs)
    for i in range(20):
        result = refused(store.verify("ana", "0000", now=T0 + 10 * S + i * S), "locked_out")
        assert result.until == T0 + 4 + 300 * S
    assert len(kdf_runs) == before
    assert store.get("ana") == Person("ana", "Ana Lima", ("Operator",), False, T0 + 4 + 300 * S, 5)


def test_after_a_lockout_runs_out_the_count_starts_again(store: PeopleStore) -> None:
    store.add("ana", "Ana Lima", ["Operator"], "4711")
    for i in range(5):
        store.verify("ana", "0000", now=T0 + i)
    later = T0 + 301 * S
    refused(store.verify("ana", "0000", now=later), "bad_credentials")
    person = store.get("ana")
    assert person is not None and person.failures == 1 and person.locked_until == 0


def test_a_success_resets_the_failures(store: PeopleStore) -> None:
    store.add("ana", "Ana Lima", ["Operator"], "4711")
    for i in range(4):
        store.verify("ana", "0000", now=T0 + i)
    assert isinstance(store.verify("ana", "4711", now=T0 + 5), Person)
    for i in range(4):
        refused(store.verify("ana", "0000", now=T0 + 10 + i), "bad_credentials")
    person = store.get("ana")
    assert person is not None and person.failures == 4 and not person.locked(T0 + 20)


def test_enable_lifts_a_lockout(store: PeopleStore) -> None:
    store.add("ana", "Ana Lima", ["Operator"], "4711")
    for i in range(5):
        store.verify("ana", "0000", now=T0 + i)
    refused(store.verify("ana", "4711", now=T0 + 10), "locked_out")
    enabled = store.enable("ana")
    assert enabled.locked_until == 0 and enabled.failures == 0
    assert isinstance(store.verify("ana", "4711", now=T0 + 11), Person)


def test_a_disabled_person_is_refused_and_told_only_with_the_right_secret(
    store: PeopleStore,
) -> None:
    store.add("ana", "Ana Lima", ["Operator"], "4711")
    assert store.disable("ana").disabled
    result = refused(store.verify("ana", "4711"), "disabled")
    assert "disabled" in result.sentence and "SecurityAdmin" in result.sentence
    refused(store.verify("ana", "0000"), "bad_credentials")
    store.enable("ana")
    assert isinstance(store.verify("ana", "4711"), Person)


def test_unknown_user_and_wrong_pin_get_the_same_answer_at_the_same_cost(
    store: PeopleStore, kdf_runs: list[int]
) -> None:
    store.add("ana", "Ana Lima", ["Operator"], "4711")
    kdf_runs.clear()
    wrong = store.verify("ana", "1234")
    unknown = store.verify("nobody", "1234")
    assert wrong == unknown == Refusal("bad_credentials", BAD_CREDENTIALS)
    assert kdf_runs == [FAST.n, FAST.n]
    assert "ana" not in BAD_CREDENTIALS and "nobody" not in BAD_CREDENTIALS


@pytest.mark.parametrize("secret", ["1234", "123456789012", "1234567", "abcdefgh", "x" * 128])
def test_valid_pins_and_passwords(store: PeopleStore, secret: str) -> None:
    store.add("ana", "Ana Lima", ["Operator"], secret)
    assert isinstance(store.verify("ana", secret), Person)
    refused(store.verify("ana", secret + "0"), "bad_credentials")


@pytest.mark.parametrize("secret", ["", "123", "abc", "abcdefg", "1a3", "x" * 129, "١٢٣٤"])
def test_pin_rules(store: PeopleStore, secret: str) -> None:
    with pytest.raises(PeopleError) as caught:
        store.add("ana", "Ana Lima", ["Operator"], secret)
    assert str(caught.value) == SECRET_RULE
    assert store.get("ana") is None
    store.add("ana", "Ana Lima", ["Operator"], "4711")
    with pytest.raises(PeopleError, match="A PIN is 4 to 12 digits"):
        store.set_secret("ana", secret)
    assert isinstance(store.verify("ana", "4711"), Person)


def test_set_secret_replaces_the_old_one(store: PeopleStore) -> None:
    store.add("ana", "Ana Lima", ["Operator"], "4711")
    store.set_secret("ana", "long enough password")
    refused(store.verify("ana", "4711"), "bad_credentials")
    assert isinstance(store.verify("ana", "long enough password"), Person)
    with pytest.raises(PeopleError, match="no person 'bob'"):
        store.set_secret("bob", "4711")


def test_roles_are_validated_and_spelled_one_way(store: PeopleStore) -> None:
    with pytest.raises(PeopleError, match="'Admin' is not a role: use Observer, Operator"):
        store.add("ana", "Ana Lima", ["Operator", "Admin"], "4711")
    with pytest.raises(PeopleError, match="at least one role"):
        store.add("ana", "Ana Lima", [], "4711")
    person = store.add("ana", "Ana Lima", ["supervisor", "OPERATOR", "Operator"], "4711")
    assert person.roles == ("Operator", "Supervisor")
    assert store.set_roles("ana", ["securityadmin,engineer"]).roles == (
        "Engineer",
        "SecurityAdmin",
    )
    with pytest.raises(PeopleError, match="'Boss' is not a role"):
        store.set_roles("ana", ["Boss"])
    got = store.get("ana")
    assert got is not None and got.roles == ("Engineer", "SecurityAdmin")
    assert got.has_role("Engineer") and not got.has_role("Operator")


def test_ids_and_printed_names(store: PeopleStore) -> None:
    person = store.add("  Ana.Lima ", "  Ana   Lima ", ["Operator"], "4711")
    assert (person.user, person.name) == ("ana.lima", "Ana Lima")
    assert store.get("ANA.LIMA") == person
    assert isinstance(store.verify("Ana.Lima", "4711"), Person)
    for bad in ("", "ana lima", "ana/x", "a" * 33, "josé"):
        with pytest.raises(PeopleError, match="is not a user id"):
            store.add(bad, "Someone", ["Operator"], "4711")
    for name in ("", "   ", "x" * 65, "tab\x00name"):
        with pytest.raises(PeopleError, match="printed name"):
            store.add("bob", name, ["Operator"], "4711")
    with pytest.raises(PeopleError, match=r"already a person 'ana\.lima'"):
        store.add("ana.lima", "Another Ana", ["Observer"], "1234")
    assert [p.user for p in store.list()] == ["ana.lima"]


def test_default_scrypt_parameters_are_stored_with_each_row(data_dir: Path) -> None:
    path = people_path(data_dir)
    with PeopleStore(path) as strong:
        strong.add("ana", "Ana Lima", ["Operator"], "correct horse battery")
    with PeopleStore(path, kdf=FAST) as fast:
        fast.add("bob", "Bob Stone", ["Operator"], "97531")
        # A store hashing new secrets differently still checks rows by their own parameters.
        assert isinstance(fast.verify("ana", "correct horse battery"), Person)
    conn = sqlite3.connect(path)
    try:
        rows = {
            r[0]: r[1:] for r in conn.execute("SELECT user, kdf, salt, hash, n, r, p FROM person")
        }
    finally:
        conn.close()
    kdf, salt, digest, n, r, p = rows["ana"]
    assert (kdf, n, r, p) == ("scrypt", 2**14, 8, 1)
    assert len(salt) == 16 and len(digest) == 32
    assert digest == hashlib.scrypt(b"correct horse battery", salt=salt, n=n, r=r, p=p, dklen=32)
    assert rows["bob"][3:] == (2**10, 8, 1)
    assert rows["ana"][1] != rows["bob"][1]  # a salt per row
    raw = b"".join(f.read_bytes() for f in data_dir.iterdir() if f.name.startswith("people"))
    assert b"correct horse" not in raw and b"97531" not in raw


def test_changed_sees_another_connections_writes_only(data_dir: Path) -> None:
    path = people_path(data_dir)
    with PeopleStore(path, kdf=FAST) as hub, PeopleStore(path, kdf=FAST) as cli:
        assert not hub.changed()
        hub.add("ana", "Ana Lima", ["Operator"], "4711")
        assert not hub.changed()
        cli.disable("ana")
        assert hub.changed()
        assert not hub.changed()
        got = hub.get("ana")
        assert got is not None and got.disabled


def test_ensure_demo_adds_the_three_and_leaves_existing_rows(data_dir: Path) -> None:
    with PeopleStore(people_path(data_dir), kdf=FAST) as store:
        store.add("demo-supervisor", "Site Supervisor", ["Supervisor", "SecurityAdmin"], "9999")
        added = ensure_demo(store)
        assert [p.user for p in added] == ["demo-operator", "demo-engineer"]
        assert ensure_demo(store) == []
        assert [p.user for p in store.list()] == [
            "demo-engineer",
            "demo-operator",
            "demo-supervisor",
        ]
        for user, pin, role in (
            ("demo-operator", "1111", "Operator"),
            ("demo-engineer", "3333", "Engineer"),
        ):
            person = store.verify(user, pin)
            assert isinstance(person, Person) and person.roles == (role,)
        kept = store.verify("demo-supervisor", "9999")
        assert isinstance(kept, Person) and kept.name == "Site Supervisor"
        refused(store.verify("demo-supervisor", "2222"), "bad_credentials")
    with PeopleStore(data_dir / "other.db", kdf=FAST) as fresh:
        ensure_demo(fresh)
        person = fresh.verify("demo-supervisor", "2222")
        assert isinstance(person, Person)
        assert (person.name, person.roles) == ("Demo Supervisor", ("Supervisor",))


def test_a_row_edited_to_absurd_scrypt_costs_is_refused_not_run(
    store: PeopleStore, kdf_runs: list[int]
) -> None:
    store.add("ana", "Ana Lima", ["Operator"], "4711")
    conn = sqlite3.connect(store.path, isolation_level=None)
    try:
        conn.execute("UPDATE person SET n = ? WHERE user = 'ana'", (2**40,))
    finally:
        conn.close()
    kdf_runs.clear()
    refused(store.verify("ana", "4711"), "bad_credentials")
    assert kdf_runs == []
    with pytest.raises(ValueError, match="power of two"):
        KdfParams(n=1000)
