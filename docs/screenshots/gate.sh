#!/usr/bin/env bash
# The command gate's screenshots at both panel sizes, from the UI tests that drive the real
# window against a real hub and simulator (tests/ui/test_gate_flow.py, test_gate_widgets.py):
#   gate-login, gate-login-refused, gate-command-panel, gate-confirm, gate-sign,
#   gate-two-person, gate-approval-queue (the second station), gate-audit.
# Run from the repository root: bash docs/screenshots/gate.sh
set -euo pipefail
here=docs/screenshots
shots=tests/ui/screenshots
py="$PWD/.venv/bin/python"
for size in 1280x800 1920x1080; do
  rm -f "$shots"/gate_*.png
  GATE_SHOT_SIZE=$size QT_QPA_PLATFORM=offscreen "$py" -m pytest -q -p no:cacheprovider \
    tests/ui/test_gate_flow.py tests/ui/test_gate_widgets.py
  for f in "$shots"/gate_*.png; do
    name=$(basename "$f" .png)
    cp "$f" "$here/${name//_/-}-$size.png"
  done
done
"$py" "$here/optimise.py" "$here"/gate-*.png
