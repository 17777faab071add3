#!/usr/bin/env bash
# The real station window on a real X server: `copilot demo` under Xvfb with Qt's xcb platform
# plugin (not offscreen), a screenshot taken through the X server (xwd -root), checked not blank.
#
#   bash tests/display/real_window.sh [PNG]      (make demo-check; CI runs it)
#
# Fails when the xcb plugin cannot load (Qt: "Could not load the Qt platform plugin"; copilot
# checks its libraries first: "X11 (xcb) plugin needs ..."), when the demo exits early or does
# not stop cleanly, when the station never goes live, or when the screen stays blank. Needs xvfb-run, xauth and xwd (make ci-display-packages). Uses its own data folder and a
# free port, so it runs beside a developer's own demo; stops the demo and everything it started.
# Writes the screenshot to PNG (default build/real-window-1280x800.png).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
SCREEN=${REAL_WINDOW_SCREEN:-1280x800x24}
DEADLINE_S=${REAL_WINDOW_DEADLINE_S:-45}
MIN_COLOURS=${REAL_WINDOW_MIN_COLOURS:-64}  # fewer distinct colours on the screen = blank

if [ "${1:-}" != "--inside-xvfb" ]; then
  png=${1:-$ROOT/build/real-window-${SCREEN%x*}.png}
  for tool in xvfb-run xauth xwd; do
    command -v "$tool" >/dev/null || {
      echo "real_window: $tool is missing: run 'make ci-display-packages' (as root)" >&2
      exit 1
    }
  done
  mkdir -p "$(dirname "$png")"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  started=$(date +%s.%N)
  status=0
  xvfb-run -a -s "-screen 0 $SCREEN -nolisten tcp" \
    bash "$0" --inside-xvfb "$work" "$(realpath -m "$png")" || status=$?
  elapsed=$("$PY" -c "import time,sys; print(f'{time.time()-float(sys.argv[1]):.1f}')" "$started")
  if [ "$status" = 0 ]; then
    echo "real_window: ok in ${elapsed} s: the demo's window under Xvfb ($SCREEN, xcb) -> $png"
  else
    echo "real_window: FAILED (status $status) after ${elapsed} s" >&2
  fi
  exit "$status"
fi

# -- inside xvfb-run: DISPLAY is set ------------------------------------------------------------
work=$2
png=$3
log=$work/demo.log
export COPILOT_DATA_DIR=$work/data COPILOT_CONFIG=$work/none.toml
export QT_QPA_PLATFORM=xcb PYTHONUNBUFFERED=1
unset QT_QPA_PLATFORM_PLUGIN_PATH
: >"$COPILOT_CONFIG"
port=$("$PY" -c '
import socket
for _ in range(100):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError:
        pass
    finally:
        t.close()
')
elapsed() { "$PY" -c "import time,sys; print(f'{time.time()-float(sys.argv[1]):.1f}')" "$1"; }
t0=$(date +%s.%N)

fail() {
  echo "real_window: $*" >&2
  if [ -s "$log" ]; then
    echo "--- last lines of the demo's output ---" >&2
    tail -n 25 "$log" >&2
  fi
  exit 1
}

# A bare X root must be judged blank, or the check below could never fail.
xwd -root -silent >"$work/before.xwd"
if "$PY" "$ROOT/tests/display/xwd.py" "$work/before.xwd" --min-colours "$MIN_COLOURS" >/dev/null; then
  fail "the empty X screen was not judged blank: the blank check is broken"
fi

# The demo in its own process group: one signal reaches it and the hub it spawns.
setsid "$ROOT/.venv/bin/copilot" demo --bind "tcp://127.0.0.1:$port" >"$log" 2>&1 &
demo=$!
stop_demo() {
  if kill -0 "$demo" 2>/dev/null; then
    kill -TERM -- "-$demo" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 -- "-$demo" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$demo" 2>/dev/null || true
  fi
}
trap stop_demo EXIT

# Wait until the station is live (its window has been created before), then for a drawn screen.
end=$(($(date +%s) + DEADLINE_S))
live=""
drawn=""
while [ "$(date +%s)" -lt "$end" ]; do
  if grep -q -e "Could not load the Qt platform plugin" -e "X11 (xcb) plugin needs" "$log"; then
    fail "Qt's xcb platform plugin did not load (a system library is missing? see 'make system-packages')"
  fi
  if ! kill -0 "$demo" 2>/dev/null; then
    wait "$demo" || true
    fail "the demo exited before its window was up"
  fi
  if [ -z "$live" ] && grep -q "station: link live" "$log"; then
    live=$(elapsed "$t0")
  fi
  if [ -n "$live" ]; then
    xwd -root -silent >"$work/shot.xwd"
    if verdict=$("$PY" "$ROOT/tests/display/xwd.py" "$work/shot.xwd" --png "$png" \
      --min-colours "$MIN_COLOURS"); then
      drawn=1
      break
    fi
  fi
  sleep 0.5
done
[ -n "$live" ] || fail "the station did not go live within $DEADLINE_S s"
[ -n "$drawn" ] || fail "the screen stayed blank within $DEADLINE_S s (last: ${verdict:-no screenshot})"
grep -q -e "Could not load the Qt platform plugin" -e "X11 (xcb) plugin needs" "$log" && fail "Qt's xcb platform plugin did not load"
shot_at=$(elapsed "$t0")

# A clean stop: SIGTERM closes the window and every process the demo started, with status 0.
kill -TERM "$demo"
code=0
timeout 10 tail --pid="$demo" -f /dev/null || fail "the demo did not stop within 10 s of SIGTERM"
wait "$demo" || code=$?
[ "$code" = 0 ] || fail "the demo exited with status $code on SIGTERM"
kill -0 -- "-$demo" 2>/dev/null && fail "a process the demo started outlived it"
trap - EXIT
echo "real_window: station live at ${live} s, screenshot at ${shot_at} s: $verdict"
