"""Playbooks: the shipped ones load and fit the simulator's machines; matching; bad files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from copilot.anomaly.feedback import FeedbackRow, count_feedback, feedback_lines
from copilot.anomaly.playbooks import (
    PlaybookError,
    Playbooks,
    Suggestion,
    default_folders,
    load_playbooks,
    suggest,
)
from copilot.anomaly.present import alert_card, detector_rows, detector_summary, learning_badge
from copilot.protocol import AnomalyAlert, MachineLearned, TagLearned, Value
from copilot.sim.faults import MACHINE_KINDS
from copilot.sim.models import MODEL_CLASSES

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000_000_000_000


def alert(machine: str, detector: str, tag: str, sigma: float = 3.0, **kw: object) -> AnomalyAlert:
    return AnomalyAlert(
        alarm=f"{machine}/{tag}/anomaly:{detector}:{tag}",
        machine=machine,
        detector=detector,
        tag=tag,
        at=NOW - 60 * 10**9,
        since=NOW - 12 * 60 * 10**9,
        message=f"{machine} {tag} moved.",
        sigma=sigma,
        confidence=0.82,
        **kw,  # type: ignore[arg-type]
    )


def values_of(model: object, seconds: float = 5.0) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for i in range(int(seconds)):
        step, _ = model.step(float(i), 1.0)  # type: ignore[attr-defined]
        values.update(step)
    return values


def test_the_shipped_playbooks_load_and_every_command_is_offered_on_its_machine_kind() -> None:
    books = load_playbooks()
    assert len(books.items) >= 12 and all(b.source.endswith(".toml") for b in books.items)
    offered = 0
    for kind in MACHINE_KINDS:
        m = MODEL_CLASSES[kind](1, seed=3, initial_state="running")
        values = values_of(m)
        for book in books.items:
            if not book.command or book.machine != kind:
                continue
            found = suggest(book, m.commands, m.tags, values.get)
            assert isinstance(found, Suggestion), f"{book.id} on {kind}: {found}"
            assert found.text.startswith("Suggested: ")
            offered += 1
    assert offered >= 12


def test_the_playbooks_ship_as_package_data() -> None:
    """A wheel installs assets/playbooks/*.toml where default_folders() looks for them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = project["tool"]["setuptools"]["data-files"]
    assert data["share/operator-copilot/playbooks"] == ["assets/playbooks/*.toml"]
    folders = default_folders()
    assert folders[0] == ROOT / "assets" / "playbooks"
    assert all(f.parts[-3:] == ("share", "operator-copilot", "playbooks") for f in folders[1:])


def test_matching_takes_the_machine_kind_detector_tag_direction_and_mode() -> None:
    books = load_playbooks()
    up = alert("cnc-01", "drift", "vibration_mm_s", 2.3, mode="running")
    book = books.match(up, "cnc")
    assert book is not None and book.id == "cnc-vibration-slow-down"
    assert books.match(alert("cnc-01", "drift", "vibration_mm_s", -2.3), "cnc") is None
    assert books.match(up, "conveyor") is None  # another kind's vibration tag is named otherwise
    hot = books.match(alert("press-02", "level", "oil_temp_c", 4.0), "press")
    assert hot is not None and hot.id == "press-hot-stop" and hot.command == "stop"
    # A multivariate alert (tag "-") is matched by its top contributor.
    mv = alert("robot-01", "multivariate", "-", 3.0, signals=["torque_pct", "j2_temp_c"])
    found = books.match(mv, "robot")
    assert found is not None and found.id == "robot-torque-slow-down"
    # Sensor faults on any machine get the explanation-only playbooks.
    stuck = books.match(alert("oven-01", "stuck", "zone2_temp_c", 0.0), "oven")
    assert stuck is not None and stuck.id == "sensor-stuck" and not stuck.command


def test_mode_and_first_match(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(
        '[[playbook]]\nid = "setup-only"\nmode = ["setup"]\nexplanation = "In setup."\n'
        '[[playbook]]\nid = "any"\nexplanation = "Anything."\n'
    )
    books = load_playbooks([tmp_path])
    assert books.match(alert("x-1", "level", "t", mode="setup"), "x").id == "setup-only"  # type: ignore[union-attr]
    assert books.match(alert("x-1", "level", "t", mode="running"), "x").id == "any"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            '[[playbook]]\nid = "x"\nexplanation = "e"\ntag = 3\n',
            "playbook 1: `tag` expected `str`",
        ),
        (
            '[[playbook]]\nid = "x"\nexplanation = "e"\ncolour = "red"\n',
            "`colour` is not a playbook field",
        ),
        ('[[playbook]]\nexplanation = "e"\n', "playbook 1: `id` is missing"),
        (
            '[[playbook]]\nid = "x"\nexplanation = "at {foo}"\n',
            "playbook 'x': `explanation` says {foo}",
        ),
        (
            '[[playbook]]\nid = "x"\nexplanation = "e"\ndetector = ["levels"]\n',
            "`detector` 'levels' is not one of",
        ),
        (
            '[[playbook]]\nid = "x"\nexplanation = "e"\ndirection = "sideways"\n',
            "`direction` must be up, down or any",
        ),
        (
            '[[playbook]]\nid = "x"\nexplanation = "e"\nargs = { a = 1 }\n',
            "`args` are given without a `command`",
        ),
        (
            '[[playbook]]\nid = "x"\nexplanation = "e"\ncommand = "stop"\nargs = { a = "20 %" }\n',
            "`args.a` '20 %' is not a relative change",
        ),
        ("[[playbook]\n", "is not valid TOML"),
        ("playbooks = 1\n", "`playbooks` is not known here"),
    ],
)
def test_a_bad_file_is_one_sentence_naming_the_file_and_the_field(
    tmp_path: Path, text: str, words: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PlaybookError) as err:
        load_playbooks([path])
    message = str(err.value)
    assert message.startswith(f"{path}: ") and words in message, message
    assert message.endswith(".") and "\n" not in message and "Traceback" not in message


def test_two_playbooks_with_one_id_are_refused(tmp_path: Path) -> None:
    for name in ("a.toml", "b.toml"):
        (tmp_path / name).write_text('[[playbook]]\nid = "same"\nexplanation = "e"\n')
    with pytest.raises(
        PlaybookError, match=r"b\.toml: playbook 'same': the id is already used in a\.toml"
    ):
        load_playbooks([tmp_path])


def test_a_suggestion_is_offered_only_when_the_command_and_its_arguments_fit(
    tmp_path: Path,
) -> None:
    (tmp_path / "p.toml").write_text(
        '[[playbook]]\nid = "slow"\nexplanation = "e"\ncommand = "set_speed"\n'
        'args = { speed_rpm = "-20%" }\n'
        '[[playbook]]\nid = "crawl"\nexplanation = "e"\ncommand = "set_speed"\n'
        'args = { speed_rpm = "-95%" }\n'
        '[[playbook]]\nid = "fly"\nexplanation = "e"\ncommand = "fly"\n'
        '[[playbook]]\nid = "bad-arg"\nexplanation = "e"\ncommand = "set_speed"\n'
        "args = { rpm = 10 }\n"
        '[[playbook]]\nid = "idle"\nexplanation = "e"\ncommand = "set_mode"\n'
        'args = { mode = "idle" }\n'
        '[[playbook]]\nid = "bogus-mode"\nexplanation = "e"\ncommand = "set_mode"\n'
        'args = { mode = "turbo" }\n'
    )
    books = {b.id: b for b in load_playbooks([tmp_path]).items}
    cnc = MODEL_CLASSES["cnc"](1, seed=1, initial_state="running")
    now = {"speed_setpoint_rpm": 8000.0}
    slow = suggest(books["slow"], cnc.commands, cnc.tags, now.get)
    assert isinstance(slow, Suggestion)
    assert slow.args == {"speed_rpm": 6400.0}
    assert slow.text == "Suggested: Set spindle speed 6400 rpm"
    assert suggest(books["crawl"], cnc.commands, cnc.tags, now.get) == (
        "speed_rpm 400 rpm is outside 1000–10000 rpm."
    )
    assert suggest(books["slow"], cnc.commands, cnc.tags, {}.get) == (
        "The current spindle speed setpoint is not known."
    )
    assert (
        suggest(books["fly"], cnc.commands, cnc.tags, now.get) == "This machine has no fly command."
    )
    assert (
        suggest(books["bad-arg"], cnc.commands, cnc.tags, now.get)
        == "Set spindle speed takes no rpm."
    )
    idle = suggest(books["idle"], cnc.commands, cnc.tags, now.get)
    assert isinstance(idle, Suggestion) and idle.text == "Suggested: Set mode idle"
    bogus = suggest(books["bogus-mode"], cnc.commands, cnc.tags, now.get)
    assert isinstance(bogus, str) and "must be one of idle, setup, maintenance" in bogus


def test_the_card_says_what_how_far_since_when_how_sure_and_what_to_do() -> None:
    cnc = MODEL_CLASSES["cnc"](1, seed=1, initial_state="running")
    a = alert(
        "cnc-01",
        "drift",
        "vibration_mm_s",
        2.3,
        mode="running",
        signals=["vibration_mm_s", "spindle_temp_c"],
    )
    card = alert_card(
        a,
        machine_name="CNC 1",
        kind="cnc",
        tags=cnc.tags,
        commands=cnc.commands,
        current={"speed_setpoint_rpm": 8000.0}.get,
        playbooks=load_playbooks(),
        now_ns=NOW,
    )
    assert card.heading == "Drift · spindle vibration velocity (RMS) · 2.3σ above normal"
    assert (
        card.facts.startswith("since ")
        and "(12 min) · confidence 82 % · mode running" in card.facts
    )
    assert card.contributors == "Top contributors: spindle bearing temperature."
    assert card.explanation.startswith("Rising spindle vibration while running")
    assert (
        card.suggestion is not None
        and card.suggestion.text == "Suggested: Set spindle speed 6400 rpm"
    )
    # No playbook: the facts alone, no suggestion and no excuse.
    plain = alert_card(
        alert("cnc-01", "level", "cycle_time_s", 3.0),
        machine_name="CNC 1",
        kind="cnc",
        tags=cnc.tags,
        commands=cnc.commands,
        current={}.get,
        playbooks=Playbooks(()),
        now_ns=NOW,
    )
    assert plain.explanation == "" and plain.suggestion is None and plain.no_suggestion == ""
    # A playbook whose command does not fit says so instead of offering it.
    unknown = alert_card(
        a,
        machine_name="CNC 1",
        kind="cnc",
        tags=cnc.tags,
        commands=cnc.commands,
        current={}.get,
        playbooks=load_playbooks(),
        now_ns=NOW,
    )
    assert unknown.suggestion is None
    assert (
        unknown.no_suggestion == "No suggestion: The current spindle speed setpoint is not known."
    )


def test_learning_badge_and_detector_panel_texts() -> None:
    learning = MachineLearned(
        machine="cnc-01",
        mode="running",
        learning=True,
        learning_left_s=840.0,
        text="learning normal: 14 min left",
    )
    assert learning_badge(learning) == "◔ Learning normal: 14 min left"
    learned = MachineLearned(
        machine="cnc-01",
        mode="running",
        learning=False,
        learning_left_s=0.0,
        text="watching (running learned)",
        learned_modes=["idle", "running"],
        tags=[
            TagLearned("vibration_mm_s", "idle", 0.4, 0.05, 0.3, 0.5, {"level": 6.0}),
            TagLearned(
                "vibration_mm_s", "running", 2.1, 0.12, 1.8, 2.4, {"drift": 9.5, "level": 6.2}
            ),
        ],
        alerts_raised={"drift": 2},
    )
    assert learning_badge(learned) == "" and learning_badge(None) == ""
    assert detector_summary(learned) == [
        "Mode running · watching (running learned)",
        "Learned modes: idle, running",
        "Alerts raised: drift 2",
    ]
    cnc = MODEL_CLASSES["cnc"](1, seed=1)
    rows = detector_rows(learned, cnc.tags)
    assert [r.mode for r in rows] == ["running", "idle"]  # the current mode first
    assert rows[0].tag == "Spindle vibration velocity (RMS)"
    assert rows[0].normal == "2.1 ± 0.12 mm/s" and rows[0].thresholds == "drift 9.5 · level 6.2"


def test_feedback_is_counted_per_tag_and_detector() -> None:
    def row(tag: str, detector: str, verdict: str) -> FeedbackRow:
        return FeedbackRow(
            NOW,
            "cnc-01",
            tag,
            detector,
            f"cnc-01/{tag}/anomaly:{detector}:{tag}",
            verdict,
            "Ann",
            "",
        )

    counts = count_feedback(
        [
            row("vibration_mm_s", "drift", "useful"),
            row("spindle_temp_c", "drift", "false_alarm"),
            row("vibration_mm_s", "drift", "useful"),
            row("vibration_mm_s", "drift", "not_useful"),
            row("spindle_temp_c", "drift", "something else"),
        ]
    )
    assert [c.to_dict() for c in counts] == [
        {
            "machine": "cnc-01",
            "tag": "spindle_temp_c",
            "detector": "drift",
            "useful": 0,
            "not_useful": 0,
            "false_alarm": 1,
        },
        {
            "machine": "cnc-01",
            "tag": "vibration_mm_s",
            "detector": "drift",
            "useful": 2,
            "not_useful": 1,
            "false_alarm": 0,
        },
    ]
    lines = feedback_lines(counts)
    assert lines[0].startswith("ANOMALY FEEDBACK") and "cnc-01/spindle_temp_c" in lines[2]
    assert feedback_lines([])[-1] == "  none: no verdicts in this period"
