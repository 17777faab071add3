#!/usr/bin/env bash
# Push-to-talk screenshots at both panel sizes, from the UI tests that drive the real window
# against a real hub and simulator (tests/ui/test_voice_flow.py):
#   voice-confirming (the read-back waiting for "confirm", with the countdown),
#   voice-sign-on-touch (a spoken signed command handed to the touch signing sheet).
# Run from the repository root: bash docs/screenshots/voice.sh
set -euo pipefail
here=docs/screenshots
shots=tests/ui/screenshots
py="$PWD/.venv/bin/python"
for size in 1280x800 1920x1080; do
  rm -f "$shots"/voice_*.png
  VOICE_SHOT_SIZE=$size QT_QPA_PLATFORM=offscreen "$py" -m pytest -q -p no:cacheprovider \
    tests/ui/test_voice_flow.py
  for f in "$shots"/voice_*.png; do
    name=$(basename "$f" .png)
    cp "$f" "$here/${name//_/-}-$size.png"
  done
done
"$py" "$here/optimise.py" "$here"/voice-*.png
