"""Benchmarks: ``python -m bench NAME [--json]``. They print figures; they are not tests.

Each figure is one JSON line: ``{"name", "value", "unit", "goal": {"op", "value"},
"baseline", "pass"}``; a benchmark exits 0 when it ran, whatever its verdicts.
"""
