"""``copilot voice check`` without a microphone, and a smoke run of ``copilot voice eval``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from copilot.voice.audio import MicrophoneUnavailableError, SounddeviceSource
from copilot.voice.synth import espeak_available


def _has_microphone() -> bool:
    try:
        SounddeviceSource()
    except MicrophoneUnavailableError:
        return False
    return True


def run(*args: str, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "copilot", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.skipif(_has_microphone(), reason="this machine has a microphone")
def test_check_without_a_microphone_says_so_in_one_sentence() -> None:
    proc = run("voice", "check")
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("copilot: ")]
    assert len(lines) == 1, proc.stderr
    assert "microphone" in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")
def test_eval_json_has_the_figures_the_issue_names() -> None:
    pytest.importorskip("pocketsphinx")
    proc = run("voice", "eval", "--limit", "1", "--json")  # one worker: the default
    assert proc.returncode == 0, proc.stderr
    assert "phone-loop helper" not in proc.stderr  # it started (under python -m copilot)
    report = json.loads(proc.stdout)
    for key in ("accuracy_mean", "accuracy_by_snr", "false_accept_rate", "readback_latency_p90_ms"):
        assert key in report
    assert set(report["accuracy_by_snr"]) <= {"24", "21", "18", "15", "12", "9", "6"}
    assert 0.0 <= report["false_accept_rate"] <= 1.0
    # held-out part: one out-of-grammar sentence and one noise clip; the tuning part the same
    assert (report["negatives"], report["tuning"]["negatives"]) == (2, 2)
    assert "gap_accuracy_mean" in report


def test_eval_gives_pocketsphinx_one_worker_and_vosk_two() -> None:
    from copilot.cli_voice import _default_workers

    assert _default_workers("auto", "en") == 1  # its phone loop takes the other core
    assert _default_workers("pocketsphinx", "en") == 1
    assert _default_workers("auto", "ko") == 2
    assert _default_workers("vosk", "en") == 2
