#!/usr/bin/env bash
# The anomaly screenshots at both panel sizes, from the UI tests that drive the real window
# against a real hub and simulated plant (tests/ui/test_anomaly_suggest.py,
# tests/ui/test_anomaly_views.py):
#   anomaly-learning         the machine view's header while the mode is learned (default warm-up)
#   anomaly-alert            an explained alert with the playbook's suggestion and the verdicts
#   anomaly-suggestion-sheet one tap on a suggestion: the command's sheet, pre-filled
#   anomaly-detectors        the detector panel (what `copilot anomaly status` says)
# Run from the repository root: bash docs/screenshots/anomaly.sh
set -euo pipefail
here=docs/screenshots
shots=tests/ui/screenshots
py="$PWD/.venv/bin/python"
for size in 1280x800 1920x1080; do
  rm -f "$shots"/anomaly-*-"$size".png
  ANOMALY_SHOT_SIZE=$size QT_QPA_PLATFORM=offscreen "$py" -m pytest -q -p no:cacheprovider \
    tests/ui/test_anomaly_suggest.py tests/ui/test_anomaly_views.py
  cp "$shots"/anomaly-*-"$size".png "$here"/
done
"$py" "$here/optimise.py" "$here"/anomaly-*.png
