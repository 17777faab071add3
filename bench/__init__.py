"""Benchmarks: ``python -m bench NAME [--json] [--quick] [--busy-core]``, figures, not tests.

Each figure is one JSON line: ``{"name", "value", "unit", "goal": {"op", "value"},
"baseline", "pass"}`` plus fields of its own. A figure that could not be measured has
``"value": null, "pass": null`` and a ``reason``; a figure without a goal (the machine's raw
pyzmq rate, a cost to track) has ``"goal": null``. ``--busy-core`` keeps one core busy with a
spinning process for the whole run. A benchmark exits 0 when it ran, whatever its verdicts.
"""
