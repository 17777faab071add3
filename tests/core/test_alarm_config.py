"""The site alarm file: one-sentence errors, the merge over a BIRTH, the mode table, the CLI."""

from __future__ import annotations

import importlib.resources
import logging
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.alarms.config import (
    DEFAULT_MODES,
    LIMIT_NAMES,
    MAX_WARNINGS,
    AlarmConfig,
    AlarmConfigError,
    AlarmRule,
    load_config,
    parse_config,
)
from copilot.protocol import Birth, MachineInfo, TagSpec
from copilot.protocol.messages import AlarmSpec, Limits
from copilot.sim.models import STATE_LABELS
from copilot.sim.plant import Plant

EXAMPLE = importlib.resources.files("copilot.alarms") / "site.example.toml"

PRESS1 = MachineInfo(id="press-01", name="Press 1", kind="press")
PRESS3 = MachineInfo(id="press-03", name="Press 3", kind="press")
CNC1 = MachineInfo(id="cnc-01", name="CNC 1", kind="cnc")


def oil(**changes: object) -> TagSpec:
    """The simulated press's oil temperature as its BIRTH declares it."""
    spec = TagSpec(
        name="oil_temp_c",
        alias=6,
        unit="°C",
        limits=Limits(hi=60.0, hihi=70.0),
        deadband=0.5,
    )
    return msgspec.structs.replace(spec, **changes)


STATE = TagSpec(name="state", alias=0, type="enum", labels=list(STATE_LABELS))
DOOR = TagSpec(name="guard_door", alias=14, type="bool")


def config(text: str) -> AlarmConfig:
    return parse_config(text, "site.toml")


# -- bad files: one sentence each ----------------------------------------------------------------

BAD_FILES: list[tuple[str, str, list[str]]] = [
    # (what, file text, fragments the one sentence must hold)
    ("not TOML", "[[rule]\n", ["is not valid TOML", "line 1"]),
    ("unknown top key", '[[rules]]\ntag = "x"\n', ["unknown top-level key 'rules'", "'rule'?"]),
    ("version", "version = 2\n", ["version 2 is not supported", "version 1"]),
    ("rule not a table list", "rule = 3\n", ["'rule' must be a list of [[rule]] tables"]),
    ("modes not a table", 'modes = "quiet"\n', ["'modes' must be a [modes] table"]),
    (
        "mode policy",
        '[modes]\nsetup = "silence"\n',
        ["[modes] setup", "'silence' is not a mode policy", "'silenced'?", "suppressed"],
    ),
    ("mode policy type", "[modes]\nsetup = 1\n", ["[modes] setup", "1 (a number)"]),
    ("mode name words", '[modes]\n"set up" = "silenced"\n', ["'set up' is not a mode name"]),
    ("mode name case", '[modes]\nSetup = "silenced"\n', ["'Setup'", "lower case (setup)"]),
    (
        "unknown rule key, close",
        '[[rule]]\ntag = "x"\npriorty = "high"\n',
        ["rule 1 (every machine / x)", "unknown key 'priorty'", "did you mean 'priority'?"],
    ),
    (
        "unknown rule key, far",
        '[[rule]]\ncolour = "red"\n',
        ["unknown key 'colour'", "a rule takes kind, machine, tag"],
    ),
    (
        "changes nothing",
        '[[rule]]\nmachine = "press-*"\n',
        ["rule 1 (press-* /", "changes nothing"],
    ),
    ("deadband type", '[[rule]]\ndeadband = "1"\n', ["deadband must be a number", "'1' (text)"]),
    ("deadband negative", "[[rule]]\ndeadband = -0.5\n", ["deadband must be 0 or more", "-0.5"]),
    ("limits type", "[[rule]]\nlimits = 80\n", ["limits must be a table such as"]),
    (
        "limits name",
        "[[rule]]\nlimits = { high = 80, hihi = 90 }\n",
        ["limits has no 'high'", "did you mean 'hi'?", "lolo, lo, hi, hihi"],
    ),
    ("limit true", "[[rule]]\nlimits = { hi = true }\n", ["limits.hi", "or false to remove it"]),
    ("limit nan", "[[rule]]\nlimits = { hi = nan }\n", ["limits.hi must be a finite number"]),
    (
        "lo above hi (second rule)",
        '[[rule]]\npriority = "low"\n[[rule]]\ntag = "t"\nlimits = { lo = 90, hi = 80 }\n',
        ["rule 2 (every machine / t)", "lo (90) is above hi (80)", "make lo at most hi"],
    ),
    ("lolo above lo", "[[rule]]\nlimits = { lolo = 50, lo = 40 }\n", ["lolo (50) is above lo"]),
    ("hi above hihi", "[[rule]]\nlimits = { hi = 100, hihi = 95 }\n", ["hi (100) is above hihi"]),
    ("lolo above hi", "[[rule]]\nlimits = { lolo = 100, hi = 80 }\n", ["lolo (100) is above hi"]),
    (
        "priority",
        '[[rule]]\npriority = "urgent"\n',
        ["priority 'urgent' is not a priority", "critical, high, medium, low, diagnostic"],
    ),
    (
        "priorities value",
        '[[rule]]\npriorities = { hihi = "hgih" }\n',
        ["priorities.hihi 'hgih' is not a priority", "'high'?"],
    ),
    (
        "priorities condition",
        '[[rule]]\npriorities = { comm = "high" }\n',
        ["priorities has no 'comm'", "hihi, hi, lo, lolo, roc, on"],
    ),
    ("negative on-delay", "[[rule]]\non_delay_s = -1\n", ["on_delay_s must be 0 or more seconds"]),
    (
        "off-delay in ms",
        "[[rule]]\noff_delay_s = 5000\n",
        ["off_delay_s must be at most 3600 seconds", "not milliseconds"],
    ),
    ("roc zero", "[[rule]]\nroc = 0\n", ["roc must be more than 0 units per second"]),
    ("roc true", "[[rule]]\nroc = true\n", ["roc must be a number", "true (true/false)"]),
    ("on scalar", '[[rule]]\non = "fault"\n', ["on must be a list such as [1]"]),
    ("on negative", "[[rule]]\non = [-1]\n", ["whole numbers 0 or more", "-1 (a number)"]),
    ("latched type", '[[rule]]\nlatched = "yes"\n', ["latched must be true or false"]),
    ("enabled type", "[[rule]]\nenabled = 0\n", ["enabled must be true or false", "0 (a number)"]),
    ("message type", "[[rule]]\nmessage = 3\n", ["message must be text"]),
    (
        "empty machine",
        '[[rule]]\nmachine = ""\nenabled = false\n',
        ["an empty machine matches nothing", "leave machine out"],
    ),
    ("empty tag list", "[[rule]]\ntag = []\nenabled = false\n", ["an empty tag matches nothing"]),
    (
        "machine no id can have",
        '[[rule]]\nmachine = "Press 01"\nenabled = false\n',
        ["machine 'Press 01' can never match a machine id", "'P '"],
    ),
    (
        "selector type",
        '[[rule]]\nkind = ["press", 1]\nenabled = false\n',
        ["kind must be a name or pattern, or a list of them"],
    ),
]


@pytest.mark.parametrize(
    ("text", "fragments"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_a_bad_file_is_one_sentence_naming_file_and_problem(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AlarmConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"Alarm config {path}"), message
    assert "\n" not in message and message.endswith("."), message
    assert "Traceback" not in message and "$." not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_unreadable_files_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(AlarmConfigError, match=r"missing\.toml cannot be read: No such file"):
        load_config(tmp_path / "missing.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[[rule]]\nmessage = "\xe9"\n')
    with pytest.raises(AlarmConfigError, match=r"is not UTF-8 text; save it as UTF-8\.$"):
        load_config(latin)


def test_machine_globs_with_sets_and_wildcards_are_accepted() -> None:
    rules = config(
        '[[rule]]\nmachine = ["press-0[1-4]", "cnc-??", "[!x]*"]\nenabled = false\n'
    ).rules
    assert rules[0].machine == ("press-0[1-4]", "cnc-??", "[!x]*")


def test_an_empty_file_is_the_default_config() -> None:
    empty = config("")
    assert empty.rules == () and dict(empty.modes) == dict(DEFAULT_MODES)


# -- merge semantics ---------------------------------------------------------------------------


def test_later_rules_win_key_by_key_and_limit_by_limit() -> None:
    cfg = config(
        """
        [[rule]]
        tag = "oil_temp_c"
        limits = { hi = 58.0, hihi = 66.0 }
        priority = "high"
        priorities = { hihi = "critical", hi = "medium" }
        on_delay_s = 2.0
        message = "Oil overheating"

        [[rule]]
        machine = "press-*"
        limits = { hi = 55.0 }
        priority = "low"
        priorities = { hi = "high", lo = false }
        off_delay_s = 1.5
        """
    )
    got = cfg.effective(PRESS1, oil())
    assert got is not None and got.alarm is not None
    assert got.limits == Limits(hi=55.0, hihi=66.0)  # hi from rule 2, hihi from rule 1
    assert got.alarm.priority == "low"  # rule 2 wins
    assert got.alarm.priorities == {"hihi": "critical", "hi": "high"}  # merged per condition
    assert got.alarm.on_delay_ms == 2000 and got.alarm.off_delay_ms == 1500  # both kept, in ms
    assert got.alarm.message == "Oil overheating"
    assert got.deadband == 0.5  # the BIRTH's, untouched
    assert (got.name, got.alias, got.unit) == ("oil_temp_c", 6, "°C")


def test_what_no_rule_touches_is_the_births_own_declaration() -> None:
    declared = AlarmSpec(priority="high", latched=True, roc=2.0, message="from the machine")
    cfg = config('[[rule]]\ntag = "oil_temp_c"\non_delay_s = 1\n')
    got = cfg.effective(PRESS1, oil(alarm=declared))
    assert got is not None and got.alarm is not None
    assert got.alarm.priority == "high" and got.alarm.latched and got.alarm.roc == 2.0
    assert got.alarm.message == "from the machine" and got.alarm.on_delay_ms == 1000
    assert got.limits == Limits(hi=60.0, hihi=70.0)


def test_wildcards_on_kind_machine_and_tag() -> None:
    cfg = config(
        """
        [[rule]]
        kind = "pr*"
        machine = ["press-0[12]", "oven-*"]
        tag = "*_temp_c"
        priority = "critical"
        """
    )
    rule = cfg.rules[0]
    assert rule.matches(PRESS1, "oil_temp_c")
    assert rule.matches(PRESS1, "barrel_temp_c")
    assert not rule.matches(PRESS1, "oil_temp")  # the tag pattern is anchored
    assert not rule.matches(PRESS3, "oil_temp_c")  # machine set excludes 3
    assert not rule.matches(MachineInfo(id="press-01", name="x", kind="cnc"), "oil_temp_c")
    assert not rule.matches(MachineInfo(id="oven-01", name="x", kind="oven"), "oil_temp_c")
    assert rule.matches(MachineInfo(id="oven-01", name="x", kind="press"), "oil_temp_c")
    assert not rule.matches(PRESS1, "OIL_TEMP_C")  # case-sensitive, on every platform
    plain_oil = oil()
    hit, miss = cfg.effective(PRESS1, oil()), cfg.effective(PRESS3, plain_oil)
    assert miss is plain_oil
    assert hit is not None and hit.alarm is not None and hit.alarm.priority == "critical"
    assert miss.alarm is None  # no rule for it: the BIRTH's own declaration, untouched


def test_a_rule_without_selectors_applies_to_every_tag() -> None:
    cfg = config('[[rule]]\npriority = "low"\n')
    for machine, tag in ((PRESS1, oil()), (CNC1, STATE), (CNC1, DOOR)):
        got = cfg.effective(machine, tag)
        assert got is not None and got.alarm is not None and got.alarm.priority == "low"


def test_limits_set_to_false_are_removed() -> None:
    cfg = config(
        "[[rule]]\nlimits = { hi = false }\n"
        '[[rule]]\nmachine = "press-03"\nlimits = { hihi = false }\n'
    )
    one, three = cfg.effective(PRESS1, oil()), cfg.effective(PRESS3, oil())
    assert one is not None and one.limits == Limits(hihi=70.0)
    assert three is not None and three.limits is None  # nothing left: no limits at all


def test_roc_false_removes_the_machines_rate_of_change_alarm() -> None:
    cfg = config("[[rule]]\nroc = false\n")
    got = cfg.effective(PRESS1, oil(alarm=AlarmSpec(roc=3.0)))
    assert got is not None and got.alarm is not None and got.alarm.roc is None


def test_enabled_false_turns_a_tag_off_and_a_later_rule_back_on() -> None:
    cfg = config(
        '[[rule]]\ntag = "oil_temp_c"\nenabled = false\n'
        '[[rule]]\nmachine = "press-03"\nenabled = true\n'
    )
    assert cfg.effective(PRESS1, oil()) is None
    back = cfg.effective(PRESS3, oil())
    assert back is not None and back.limits == Limits(hi=60.0, hihi=70.0)
    assert cfg.effective(PRESS1, STATE) is not None  # other tags untouched


def test_on_takes_enum_labels_numbers_and_booleans() -> None:
    cfg = config(
        '[[rule]]\ntag = "state"\non = ["fault", "Maintenance", 2]\n'
        '[[rule]]\ntag = "guard_door"\non = [true]\n'
    )
    state = cfg.effective(CNC1, STATE)
    door = cfg.effective(CNC1, DOOR)
    assert state is not None and state.alarm is not None and state.alarm.on == [3, 4, 2]
    assert door is not None and door.alarm is not None and door.alarm.on == [1]
    assert cfg.warnings == []


def test_an_enum_label_the_tag_lacks_is_ignored_with_one_warning() -> None:
    cfg = config('[[rule]]\ntag = "state"\non = ["tripped"]\n')
    declared = msgspec.structs.replace(STATE, alarm=AlarmSpec(on=[3]))
    got = cfg.effective(CNC1, declared)
    assert got is not None and got.alarm is not None and got.alarm.on == [3]  # the machine's
    assert cfg.warnings == [
        "Alarm config site.toml, rule 1 (every machine / state): state of cnc-01 has no label "
        "'tripped' (its labels are running, idle, setup, fault, maintenance), so the rule's on "
        "is ignored for that tag."
    ]
    no_labels = TagSpec(name="state", alias=0, type="enum")
    got = cfg.effective(PRESS1, no_labels)
    assert got is not None and "it has no labels" in cfg.warnings[-1]


def test_a_value_a_bool_never_takes_is_ignored_with_a_warning() -> None:
    cfg = config('[[rule]]\ntag = "guard_door"\non = [2]\n')
    got = cfg.effective(CNC1, DOOR)
    assert got is not None and got.alarm is not None and got.alarm.on == []
    assert "never takes the value 2 (0 to 1)" in cfg.warnings[0]


def test_limits_out_of_order_with_the_birth_are_ignored_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = config(
        '[[rule]]\ntag = "oil_temp_c"\nlimits = { hi = 80.0 }\npriority = "high"\n'
        '[[rule]]\ntag = "oil_temp_c"\nlimits = { lo = 20.0 }\n'
    )
    with caplog.at_level(logging.WARNING, logger="copilot.alarms"):
        got = cfg.effective(PRESS1, oil())
        cfg.effective(PRESS1, oil())  # the same again (cached)
        cfg.effective(PRESS1, oil(alias=7))  # an equal-but-new BIRTH spec: merged again
    assert got is not None and got.alarm is not None
    assert got.limits == Limits(lo=20.0, hi=60.0, hihi=70.0)  # rule 1's hi ignored, rule 2 kept
    assert got.alarm.priority == "high"  # the rest of rule 1 still applies
    expected = (
        "Alarm config site.toml, rule 1 (every machine / oil_temp_c): on oil_temp_c of press-01 "
        "it would put HI 80 above HIHI 70, so the rule's limits are ignored for that tag."
    )
    assert cfg.warnings == [expected]  # deduplicated
    assert [r.getMessage() for r in caplog.records] == [expected]  # and logged once
    cfg.effective(PRESS3, oil())
    assert len(cfg.warnings) == 2 and "press-03" in cfg.warnings[1]


def test_a_birth_already_out_of_order_does_not_blame_the_rule() -> None:
    cfg = config("[[rule]]\nlimits = { lolo = 5.0 }\n")
    got = cfg.effective(PRESS1, oil(limits=Limits(hi=80.0, hihi=70.0)))
    assert got is not None and got.limits == Limits(lolo=5.0, hi=80.0, hihi=70.0)
    assert cfg.warnings == []


def test_keys_for_another_tag_type_are_skipped_and_said_only_for_a_named_tag() -> None:
    wide = config("[[rule]]\nlimits = { hi = 1.0 }\ndeadband = 1.0\non = [1]\n")
    door = wide.effective(CNC1, DOOR)
    temp = wide.effective(PRESS1, oil())
    assert door is not None and door.limits is None and door.deadband == 0.0
    assert door.alarm is not None and door.alarm.on == [1]
    assert temp is not None and temp.limits == Limits(hi=1.0, hihi=70.0)
    assert temp.alarm is not None and temp.alarm.on == []
    assert wide.warnings == []  # a wildcard rule is not expected to fit every tag
    named = config('[[rule]]\ntag = "guard_door"\nlimits = { hi = 1.0 }\n')
    named.effective(CNC1, DOOR)
    assert named.warnings == [
        "Alarm config site.toml, rule 1 (every machine / guard_door): guard_door of cnc-01 is a "
        "bool tag, so the rule's limits key is ignored for it."
    ]


def test_effective_leaves_untouched_tags_alone_and_caches_merges() -> None:
    plain = AlarmConfig()
    spec = oil()
    assert plain.effective(PRESS1, spec) is spec  # no rule: no copy (tens of thousands of tags)
    declared = oil(alarm=AlarmSpec(priority="low"))
    assert plain.effective(PRESS1, declared) is declared  # nothing to change
    cfg = config('[[rule]]\ntag = "oil_temp_c"\npriority = "high"\n')
    first = cfg.effective(PRESS1, spec)
    assert cfg.effective(PRESS1, spec) is first
    assert cfg.effective(PRESS1, oil()) is first  # equal spec from a rebirth
    moved = cfg.effective(PRESS1, oil(alias=9))
    assert moved is not first and moved is not None and moved.alias == 9
    assert cfg.effective(PRESS3, spec) is not first  # per machine


def test_warnings_are_bounded() -> None:
    cfg = config('[[rule]]\ntag = "state"\non = ["nope"]\n')
    for i in range(MAX_WARNINGS + 5):
        cfg.effective(MachineInfo(id=f"m-{i}", name="m", kind="k"), STATE)
    assert len(cfg.warnings) == MAX_WARNINGS and cfg.warnings_dropped == 5


limit_values = st.none() | st.floats(-1000, 1000, allow_nan=False)
rule_limits = st.dictionaries(
    st.sampled_from(LIMIT_NAMES), st.just(False) | st.floats(-1000, 1000, allow_nan=False)
)


@settings(max_examples=150, deadline=None)
@given(birth=st.tuples(*[limit_values] * 4), rules=st.lists(rule_limits, max_size=4))
def test_merged_limits_stay_in_order_whatever_the_rules(
    birth: tuple[float | None, ...], rules: list[dict[str, float | bool]]
) -> None:
    present = [v for v in birth if v is not None]
    ordered = present == sorted(present)
    cfg = AlarmConfig(
        rules=tuple(
            AlarmRule(number=i + 1, limits=limits)  # type: ignore[arg-type]
            for i, limits in enumerate(rules)
        )
    )
    tag = TagSpec(name="x", alias=0, limits=Limits(*birth))
    got = cfg.effective(PRESS1, tag)  # never raises
    assert got is not None
    if ordered and got.limits is not None:
        values = [getattr(got.limits, n) for n in LIMIT_NAMES]
        kept = [v for v in values if v is not None]
        assert kept == sorted(kept)


# -- mode table --------------------------------------------------------------------------------


def test_default_mode_policies() -> None:
    cfg = AlarmConfig()
    assert cfg.policy("running") == "enabled"
    assert cfg.policy("fault") == "running_only_suppressed"  # the trip alarm stands alone
    assert cfg.policy("setup") == cfg.policy("startup") == "silenced"
    for mode in ("idle", "stopped", "maintenance"):
        assert cfg.policy(mode) == "running_only_suppressed"
    assert cfg.policy("Setup") == "silenced"  # labels compared in lower case
    assert cfg.policy("calibrating") == "enabled"
    assert cfg.policy(None) == cfg.policy("") == "enabled"


def test_a_modes_table_overrides_the_defaults_one_mode_at_a_time() -> None:
    cfg = config('[modes]\nmaintenance = "suppressed"\ntesting = "silenced"\nidle = "enabled"\n')
    assert cfg.policy("maintenance") == "suppressed"
    assert cfg.policy("Testing") == "silenced"
    assert cfg.policy("idle") == "enabled"
    assert cfg.policy("setup") == "silenced"  # a default the file left alone
    assert cfg.policy("stopped") == "running_only_suppressed"


# -- the shipped example against the simulated plant -------------------------------------------


def test_the_example_fits_the_simulated_plant() -> None:
    cfg = load_config(str(EXAMPLE))
    plant = Plant(machines=12, tags_per_machine=30, seed=3)
    used: set[int] = set()
    results: dict[tuple[str, str], TagSpec | None] = {}
    for machine in plant.machines:
        # As the hub sees it: the BIRTH after a trip over the wire.
        wire = msgspec.msgpack.encode(Birth(machine=machine.info, tags=machine.tags))
        birth = msgspec.msgpack.decode(wire, type=Birth)
        for tag in birth.tags:
            used.update(r.number for r in cfg.rules_for(birth.machine, tag.name))
            got = results[birth.machine.id, tag.name] = cfg.effective(birth.machine, tag)
            if got is None:
                continue
            assert got.alarm is not None
            if got.limits is not None:
                values = [getattr(got.limits, n) for n in LIMIT_NAMES]
                kept = [v for v in values if v is not None]
                assert kept == sorted(kept), (birth.machine.id, tag.name)
    assert cfg.warnings == []
    assert used == {r.number for r in cfg.rules}, "every rule of the example matches real tags"

    oil_spec = results["press-01", "oil_temp_c"]
    assert oil_spec is not None and oil_spec.alarm is not None
    assert oil_spec.limits == Limits(hi=58.0, hihi=66.0)
    assert oil_spec.alarm.priorities["hihi"] == "critical" and oil_spec.alarm.roc == 0.2
    state = results["cnc-01", "state"]
    assert state is not None and state.alarm is not None
    assert state.alarm.on == [STATE_LABELS.index("fault")] and state.alarm.priority == "high"
    jam = results["conveyor-01", "jam_detected"]
    assert jam is not None and jam.alarm is not None and jam.alarm.latched and jam.alarm.on == [1]
    door = results["oven-01", "door_open"]
    assert door is not None and door.alarm is not None and door.alarm.running_only
    air = results["compressor-02", "discharge_pressure_bar"]
    assert air is not None and air.limits is not None and air.limits.lolo is None
    assert air.limits.lo == 6.0
    assert results["press-01", "cycle_time_s"] is not None
    assert results["press-02", "cycle_time_s"] is None and results["cnc-01", "cycle_time_s"] is None
    power = results["cnc-02", "power_kw"]
    assert power is not None and power.alarm is not None and power.alarm.priority == "low"
    assert cfg.policy("maintenance") == "suppressed"


def test_the_docs_show_the_example_as_shipped() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "alarm-config.md").read_text(encoding="utf-8")
    shown = docs.split("```toml\n")[-1].split("```")[0]
    shipped = EXAMPLE.read_text(encoding="utf-8")
    assert shown == shipped[shipped.index("version = 1") :]


# -- the CLI -----------------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "copilot", "alarms", "config", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_checks_a_good_file_and_says_what_it_does(data_dir: Path) -> None:
    done = run("check", str(EXAMPLE))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    rule_lines = [line for line in lines if line.startswith("rule ")]
    assert len(rule_lines) == len(load_config(str(EXAMPLE)).rules)
    assert (
        "rule 8: press-* / oil_temp_c: HI 58, HIHI 66 (critical), rate of change 0.2/s (medium), "
        "on-delay 2 s, message 'Hydraulic oil overheating'"
    ) in lines
    assert "rule 12: every machine / cycle_time_s: alarms off" in lines
    assert any(
        line.split() == ["maintenance", "suppressed", "(set", "by", "this", "file)"]
        for line in lines
    )
    assert any(line.split() == ["setup", "silenced"] for line in lines)
    assert done.stderr == ""


def test_cli_refuses_a_bad_file_in_one_sentence(tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "site.toml"
    bad.write_text('[[rule]]\nmachine = "press-*"\nlimits = { lo = 90, hi = 80 }\n')
    done = run("check", str(bad))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"copilot: Alarm config {bad}, rule 1 (press-* / every tag): limits lo (90) is above "
        "hi (80); make lo at most hi.\n"
    )


@pytest.mark.parametrize("args", [["frob"], ["check"], ["check", "a.toml", "b.toml"], []])
def test_cli_anything_but_check_file_is_one_sentence_and_exit_2(
    data_dir: Path, args: list[str]
) -> None:
    done = run(*args)
    assert done.returncode == 2, done
    assert done.stderr.count("\n") == 1 and "check FILE" in done.stderr
    assert "Traceback" not in done.stderr
