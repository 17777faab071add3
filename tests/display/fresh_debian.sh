#!/usr/bin/env bash
# Does `make demo` open the real window on a FRESH Debian? Builds a minimal Debian (debootstrap
# --variant=minbase) in a temporary folder, installs only what the Makefile installs there
# (`make deb-packages` with DEB_PACKAGES, then CI_DISPLAY_PACKAGES), and runs the real-window
# check (tests/display/real_window.sh) inside it with this checkout's .venv bind-mounted in.
# Nothing else of this machine's libraries is visible to it, so a library missing from the
# Makefile's list fails the check.
#
#   sudo bash tests/display/fresh_debian.sh [SUITE] [PNG]   (default bookworm, build/fresh-SUITE.png)
#
# Needs root, debootstrap (apt-get install debootstrap) and a Debian mirror; takes a few minutes
# (most of it debootstrap). Not part of CI. Everything it mounts is unmounted at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=${1:-bookworm}
PNG=${2:-$ROOT/build/fresh-$SUITE.png}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" = 0 ] || { echo "fresh_debian: run as root (chroot, mount)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "fresh_debian: apt-get install debootstrap" >&2; exit 1; }
[ -x "$ROOT/.venv/bin/python" ] || { echo "fresh_debian: run 'make install' first" >&2; exit 1; }
python_home=$("$ROOT/.venv/bin/python" -c 'import sys; print(sys.base_prefix)')

jail=$(mktemp -d /tmp/fresh-debian.XXXXXX)
mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}" || true; done
  if ! mount | grep -q " $jail"; then rm -rf --one-file-system "$jail"; fi
}
trap cleanup EXIT
bind() {  # bind SOURCE inside the jail at the same path
  mkdir -p "$jail$1"
  mount --bind "$1" "$jail$1"
  mounted+=("$jail$1")
}

echo "fresh_debian: debootstrap $SUITE (minbase) into $jail"
debootstrap --variant=minbase "$SUITE" "$jail" "$MIRROR" >"$jail.log" 2>&1 ||
  { tail -20 "$jail.log" >&2; exit 1; }
rm -f "$jail.log"
cp /etc/resolv.conf "$jail/etc/resolv.conf"
mount -t proc proc "$jail/proc" && mounted+=("$jail/proc")
bind /dev
mount -t tmpfs tmpfs "$jail/dev/shm" && mounted+=("$jail/dev/shm")
bind "$ROOT"
[ "$python_home" = /usr ] || bind "$python_home"

packages=$(make -s --no-print-directory -C "$ROOT" --eval "print-deb: ; @echo '\$(DEB_PACKAGES)'" print-deb)
display=$(make -s --no-print-directory -C "$ROOT" --eval "print-ci: ; @echo '\$(CI_DISPLAY_PACKAGES)'" print-ci)
chroot "$jail" /bin/bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends make >/dev/null 2>&1"
echo "fresh_debian: installing the Makefile's packages"
chroot "$jail" /bin/bash -c "cd '$ROOT' && make -s deb-packages PACKAGES='$packages' >/tmp/apt.log 2>&1 &&
  make -s deb-packages PACKAGES='$display' >>/tmp/apt.log 2>&1" ||
  { tail -20 "$jail/tmp/apt.log" >&2; exit 1; }
mkdir -p "$(dirname "$PNG")"
chroot "$jail" /bin/bash -c "cd '$ROOT' && bash tests/display/real_window.sh /tmp/shot.png"
cp "$jail/tmp/shot.png" "$PNG"
echo "fresh_debian: ok on a fresh Debian $SUITE -> $PNG"
