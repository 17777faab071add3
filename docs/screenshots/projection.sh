#!/usr/bin/env bash
# The projection screenshots at both panel sizes, from the UI test that drives the real window
# against a real hub, a small simulated plant and an agent whose temperature ramps toward HI
# (tests/ui/test_projection.py): projection-overview (the tile's "↗ HI in ~… (…–…)"),
# projection-trend (the dashed continuation, its band and label), projection-machine (the
# machine view's trend).
# Run from the repository root: bash docs/screenshots/projection.sh
set -euo pipefail
here=docs/screenshots
shots=tests/ui/screenshots
py="$PWD/.venv/bin/python"
for size in 1280x800 1920x1080; do
  rm -f "$shots"/projection-*-"$size".png
  PROJECTION_SHOT_SIZE=$size QT_QPA_PLATFORM=offscreen "$py" -m pytest -q -p no:cacheprovider \
    tests/ui/test_projection.py
  cp "$shots"/projection-*-"$size".png "$here"/
done
"$py" "$here/optimise.py" "$here"/projection-*.png
