#!/usr/bin/env bash
# Regenerate every screenshot in this folder: six screens at both panel sizes (1280×800 and
# 1920×1080), each rendered twice —
#   NAME-WxH.png       by `copilot demo --offscreen --size WxH --screenshot …` (Qt's offscreen
#                      platform with a screen of the panel's size)
#   x11/NAME-WxH.png   by the real window: Qt's xcb platform under Xvfb at that screen size,
#                      taken through the X server (xwd -root, as tests/display/real_window.sh)
# then shrunk to 8-bit palette PNGs (optimise.py). Screens: overview (light and dark), machine
# view, trend (offscreen: with the cursor's read-out), the alarm table (at 40 s the dense fault
# programme is in an alarm flood: the flood banner shows), the alarm KPIs, stale machine, lost
# hub, never-reached hub. The alarm banner and load meter are on every screen.
#
# Run from the repository root: bash docs/screenshots/make.sh [offscreen|x11|all] [NAME]
# (default: all, every screen; NAME: only that one, e.g. machine)
# The x11 half needs xvfb-run, xauth and xwd (make ci-display-packages). ~8 minutes in all.
set -euo pipefail
here=docs/screenshots
copilot="$PWD/.venv/bin/copilot"
py="$PWD/.venv/bin/python"
what=${1:-all}
only=${2:-}
sizes=(1280x800 1920x1080)
port=17750
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
export COPILOT_DATA_DIR="$data/data" COPILOT_CONFIG="$data/none.toml"
: >"$COPILOT_CONFIG"
unset QT_QPA_PLATFORM_PLUGIN_PATH

# name | seconds | copilot arguments (the demo's plant with a dense fault programme)
shots=(
  "overview|25|demo --faults $here/faults.toml"
  "overview-dark|25|demo --faults $here/faults.toml --theme dark"
  "machine|25|demo --faults $here/faults.toml --view machine:press-02"
  "trend|30|demo --faults $here/faults.toml --view trend:press-02/barrel_temp_c"
  "alarms|40|demo --faults $here/faults.toml --view alarms"
  "alarm-kpis|70|demo --faults $here/faults.toml --view kpis"
  "stale|16|demo --faults $here/faults.toml --scenario $here/stale.toml"
  "lost-hub|16|demo --faults $here/faults.toml --scenario $here/lost-hub.toml"
  "never-reached|7|station --hub tcp://127.0.0.1:PORT"
)

args_for() { # shot-arguments port → the copilot command line
  local args=${1//PORT/$2}
  case $args in
    demo*) echo "$args --seed 7 --bind tcp://127.0.0.1:$2" ;;
    *) echo "$args" ;;
  esac
}

offscreen() { # name seconds args size
  local name=$1 seconds=$2 size=$4 args
  args=$(args_for "$3" "$port")
  # shellcheck disable=SC2086  # the arguments are words
  "$copilot" -q $args --offscreen --size "$size" --screenshot "$here/$name-$size.png" \
    --quit-after "$seconds"
  echo "offscreen: $here/$name-$size.png"
}

x11() { # name seconds args size
  local name=$1 seconds=$2 size=$4 args
  args=$(args_for "$3" "$port")
  mkdir -p "$here/x11"
  # shellcheck disable=SC2016  # expanded by the inner shell
  xvfb-run -a -s "-screen 0 ${size}x24 -nolisten tcp" bash -c '
    set -euo pipefail
    export QT_QPA_PLATFORM=xcb
    # shellcheck disable=SC2086
    "$1" -q $2 --size "$3" --quit-after "$(($4 + 5))" &
    app=$!
    sleep "$4"   # the same moment the offscreen picture is taken
    xwd -root -silent >"$5.xwd"
    wait "$app"
    "$6" tests/display/xwd.py "$5.xwd" --png "$5"
    rm -f "$5.xwd"
  ' x11 "$copilot" "$args" "$size" "$seconds" "$here/x11/$name-$size.png" "$py"
  echo "x11: $here/x11/$name-$size.png"
}

for size in "${sizes[@]}"; do
  for shot in "${shots[@]}"; do
    IFS='|' read -r name seconds args <<<"$shot"
    [ "$name" = overview-dark ] && [ "$size" != 1280x800 ] && continue  # dark: one size is enough
    [ -n "$only" ] && [ "$name" != "$only" ] && continue
    [ "$what" = x11 ] || offscreen "$name" "$seconds" "$args" "$size"
    [ "$what" = offscreen ] || x11 "$name" "$seconds" "$args" "$size"
    port=$((port + 10))
  done
done
shopt -s nullglob
pngs=("$here"/*.png "$here"/x11/*.png)
"$py" "$here/optimise.py" "${pngs[@]}"
