#!/usr/bin/env bash
# Regenerate the screenshots in this folder with `copilot demo --offscreen --screenshot …`.
# Run from the repository root: bash docs/screenshots/make.sh
set -euo pipefail
here=docs/screenshots
copilot=".venv/bin/copilot"
export COPILOT_DATA_DIR="$(mktemp -d)"
common=(--offscreen --seed 7 --faults "$here/faults.toml" --bind tcp://127.0.0.1:17750)
"$copilot" -q demo "${common[@]}" --screenshot "$here/overview-light.png" --quit-after 25
"$copilot" -q demo "${common[@]}" --theme dark --screenshot "$here/overview-dark.png" --quit-after 25
"$copilot" -q demo "${common[@]}" --view machine:press-02 --screenshot "$here/machine-view.png" --quit-after 25
"$copilot" -q demo "${common[@]}" --view trend:press-02/barrel_temp_c --screenshot "$here/trend-cursor.png" --quit-after 30
"$copilot" -q demo "${common[@]}" --scenario "$here/stale.toml" --screenshot "$here/stale-machine.png" --quit-after 16
"$copilot" -q demo "${common[@]}" --scenario "$here/lost-hub.toml" --screenshot "$here/lost-hub.png" --quit-after 16
rm -rf "$COPILOT_DATA_DIR"
