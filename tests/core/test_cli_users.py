"""``copilot users`` and ``copilot audit``: changes audited, no secret shown, errors one line."""

from __future__ import annotations

import csv
import io
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from copilot.cli import main
from copilot.gate import people
from copilot.gate.audit import audit_path, query
from copilot.gate.people import KdfParams, PeopleStore, Person, people_path

FAST = KdfParams(n=2**10, r=8, p=1)


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(people, "DEFAULT_KDF", FAST)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal: nothing is asked


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_sentence(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("copilot: "), err
    assert "Traceback" not in err
    return lines[0][len("copilot: ") :]


def store(data_dir: Path) -> PeopleStore:
    return PeopleStore(people_path(data_dir), kdf=FAST)


def test_add_list_and_every_change_is_audited_without_the_secret(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "users", "add", "ana", "--name", "Ana Lima", "--role", "Operator", "--pin", "4711"
    )
    assert code == 0 and out.strip() == "Added ana (Ana Lima): Operator."
    code, out, _ = run(
        capsys, "users", "add", "sam", "--name", "Sam Admin", "--role", "SecurityAdmin",
        "--password", "s3cret-words", "--by", "ana",
    )  # fmt: skip
    assert code == 0
    assert run(capsys, "users", "roles", "ana", "--role", "operator", "--role", "engineer")[0] == 0
    assert run(capsys, "users", "set-pin", "ana", "--pin", "80808", "--by", "sam")[0] == 0
    assert run(capsys, "users", "disable", "ana")[0] == 0
    code, out, _ = run(capsys, "users", "list")
    lines = out.splitlines()
    assert lines[0].split() == ["USER", "NAME", "ROLES", "STATE", "FAILURES"]
    assert lines[1].split() == ["ana", "Ana", "Lima", "Operator,", "Engineer", "disabled", "0"]
    assert lines[2].split() == ["sam", "Sam", "Admin", "SecurityAdmin", "active", "0"]
    assert run(capsys, "users", "enable", "ana")[0] == 0

    rows = list(reversed(query(audit_path(data_dir))))
    assert [r.kind for r in rows] == ["user_admin"] * 6
    assert [(r.details()["action"], r.details()["target"]) for r in rows] == [
        ("add", "ana"),
        ("add", "sam"),
        ("roles", "ana"),
        ("set-pin", "ana"),
        ("disable", "ana"),
        ("enable", "ana"),
    ]
    assert rows[2].details()["roles"] == ["Operator", "Engineer"]
    assert (rows[1].user, rows[1].name) == ("ana", "Ana Lima")  # --by a known person
    assert (rows[3].user, rows[3].name) == ("sam", "Sam Admin")
    assert all(r.station == "cli" and r.meaning == "" and r.outcome == "ok" for r in rows)
    with store(data_dir) as s:
        assert isinstance(s.verify("ana", "80808"), Person)
        assert not isinstance(s.verify("ana", "4711"), Person)
    # No secret anywhere: not in output, not in the audit file, not in the people file.
    code, out, _ = run(capsys, "audit", "export", "--out", "-")
    everything = out + "".join(
        f.read_bytes().decode("latin-1") for f in data_dir.iterdir() if f.is_file()
    )
    for secret in ("4711", "80808", "s3cret-words"):
        assert secret not in everything


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (["--pin", "12"], "A PIN is 4 to 12 digits; a password 8 to 128 characters."),
        (["--pin", "12ab"], "--pin takes 4 to 12 digits; use --password for a password."),
        (["--password", "short"], "A PIN is 4 to 12 digits; a password 8 to 128 characters."),
        (["--pin", "1234", "--password", "long enough"], "Give --pin or --password, not both."),
        ([], "Give the new secret with --pin or --password (or run this in a terminal"),
    ],
)
def test_bad_secrets_are_one_sentence_and_change_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], sentence: str
) -> None:
    code, out, err = run(
        capsys, "users", "add", "ana", "--name", "Ana", "--role", "Operator", *argv
    )
    assert code == 2 and out == ""
    assert one_sentence(err).startswith(sentence)
    with store(data_dir) as s:
        assert s.list() == []
    assert not audit_path(data_dir).exists()


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (["users", "add", "ana", "--name", "Ana", "--role", "Boss", "--pin", "1234"],
         "'Boss' is not a role: use Observer, Operator, Engineer, Supervisor or SecurityAdmin."),
        (["users", "add", "ana", "--role", "Operator", "--pin", "1234"],
         "Give the person's printed name with --name."),
        (["users", "add", "Ana Lima", "--name", "Ana", "--role", "Operator", "--pin", "1234"],
         "'Ana Lima' is not a user id"),
        (["users", "add", "ann", "--name", "Ann", "--role", "Operator", "--pin", "1234"],
         "There is already a person 'ann'."),
        (["users", "disable", "bob"], "There is no person 'bob'."),
        (["users", "set-pin", "bob", "--pin", "1234"], "There is no person 'bob'."),
        (["users", "roles", "ann"], "Give the person's roles with --role"),
        (["users", "enable"], "Name the person to enable: copilot users enable USER."),
        (["users", "list", "ann"], "copilot users list takes no user id."),
        (["users", "list", "--data", "/no/such/folder"], "--data /no/such/folder: there is no"),
        (["audit", "verify", "--data", "/no/such/folder"], "--data /no/such/folder: there is no"),
        (["audit", "list", "--since", "yesterday"], "--since 'yesterday' is not a time"),
        (["audit", "list", "--since", "-1h", "--until", "-2h"], "--since must be before --until."),
    ],
)  # fmt: skip
def test_refusals_are_one_sentence_with_exit_2(
    data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], sentence: str
) -> None:
    with store(data_dir) as s:
        s.add("ann", "Ann", ["Observer"], "9999")
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert one_sentence(err).startswith(sentence)
    with store(data_dir) as s:
        assert [p.user for p in s.list()] == ["ann"]
        assert s.get("ann") == Person("ann", "Ann", ("Observer",), False, 0, 0)


def test_a_terminal_is_asked_twice(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter(["2468", "2469", "2468", "2468"])
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr("getpass.getpass", ask)
    argv = ("users", "add", "ana", "--name", "Ana Lima", "--role", "Operator")
    code, _, err = run(capsys, *argv)
    assert code == 2 and one_sentence(err) == "The two entries differ; nothing was changed."
    code, out, _ = run(capsys, *argv)
    assert code == 0 and "2468" not in out
    assert prompts == ["New PIN or password for ana: ", "Again: "] * 2
    with store(data_dir) as s:
        assert isinstance(s.verify("ana", "2468"), Person)


def test_list_shows_a_lockout_with_its_time(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with store(data_dir) as s:
        s.add("ana", "Ana Lima", ["Operator"], "4711")
        for _ in range(5):
            refusal = s.verify("ana", "0000")
    assert not isinstance(refusal, Person)
    hhmmss = refusal.sentence.split("until ")[1].split(";")[0]
    code, out, _ = run(capsys, "users", "list")
    assert code == 0
    assert f"locked until {hhmmss}" in out and out.splitlines()[1].split()[-1] == "5"
    run(capsys, "users", "enable", "ana")
    assert "active" in run(capsys, "users", "list")[1]


def test_audit_list_and_export_filter_by_kind_and_period(
    data_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run(capsys, "users", "add", "ana", "--name", "Ana Lima", "--role", "Operator", "--pin", "4711")
    run(capsys, "users", "disable", "ana", "--by", "ana")
    code, out, _ = run(capsys, "audit", "list", "--user", "ana", "--limit", "5")
    assert code == 0
    assert len(out.splitlines()) == 2 and '"action":"disable"' in out
    assert run(capsys, "audit", "list", "--kind", "login")[1].strip() == "No audit rows match."
    target = tmp_path / "trail.csv"
    code, out, _ = run(
        capsys, "audit", "export", "--since", "-1h", "--until", "now", "--out", str(target)
    )
    assert code == 0 and out.strip() == f"2 audit rows written to {target}"
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [r["seq"] for r in rows] == ["1", "2"]
    assert rows[0]["detail"] == '{"action":"add","roles":["Operator"],"target":"ana"}'
    code, out, _ = run(capsys, "audit", "export", "--since", "-2h", "--until", "-1h", "--out", "-")
    assert code == 0 and out.splitlines()[0].startswith("seq,time,kind,user,name")
    assert len(out.splitlines()) == 1


def copilot(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "copilot", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_audit_verify_exit_codes_in_a_real_process(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = copilot("audit", "verify")
    assert missing.returncode == 2 and missing.stdout == ""
    assert one_sentence(missing.stderr).startswith("There is no audit trail at ")
    for user in ("ana", "bo", "cy"):
        run(capsys, "users", "add", user, "--name", user.title(), "--role", "Operator",
            "--pin", "4711")  # fmt: skip
    intact = copilot("audit", "verify", "--data", str(data_dir))
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.startswith("audit trail intact: 3 rows, last #3 at ")
    conn = sqlite3.connect(audit_path(data_dir), isolation_level=None)
    try:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("""UPDATE audit SET detail = '{"action":"add"}' WHERE seq = 2""")
    finally:
        conn.close()
    broken = copilot("audit", "verify")
    assert broken.returncode == 1 and broken.stderr == ""
    assert broken.stdout.strip() == (
        "audit trail broken at row #2: row #2 was changed (its hash does not match it)"
    )
    audit_path(data_dir).write_bytes(b"this is not a database, it only has the name of one")
    for wal in data_dir.glob("audit.db-*"):
        wal.unlink()
    garbage = copilot("audit", "verify")
    assert garbage.returncode == 2 and "Traceback" not in garbage.stderr
    one_sentence(garbage.stderr)
