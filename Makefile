# Operator Co-Pilot — every target sets itself up on first use and is safe to run again.
#   make demo    simulated plant + hub + station (creates .venv on first use)
#   make test    the whole test suite (core tests also run with Qt made unimportable)
#   make demo-check  the real window under Xvfb, screenshot checked (CI runs it)
#   make check   ruff, mypy (strict on copilot/), import-linter
#   make bench   every benchmark in bench/, JSON lines

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The Debian packages are checked again whenever this Makefile changes (a new package reaches
# machines that were set up before it was added), the Python packages when pyproject.toml does.
SYSTEM_STAMP := $(VENV)/.system-packages
READY  := $(SYSTEM_STAMP) $(STAMP)
# Debian packages. "a|b" means the first of a, b that the archive has (Debian 13 renamed
# libglib2.0-0 to libglib2.0-0t64). QT_PACKAGES: every library that Qt's xcb platform plugin
# (PySide6/Qt/plugins/platforms/libqxcb.so), libQt6XcbQpa, QtGui, QtCore, QtDBus and the xcb GL
# integrations link, found with `ldd`/`readelf -d` on the installed wheel (libc, libstdc++, zlib
# and zstd are always there). Without any one of them `make demo` cannot open its window.
QT_PACKAGES := libegl1 libgl1 libfontconfig1 libfreetype6 libglib2.0-0t64|libglib2.0-0 \
               libdbus-1-3 libx11-6 libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-glx0 \
               libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render0 \
               libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1 \
               libxcb-xfixes0 libxcb-xkb1 libxkbcommon0 libxkbcommon-x11-0
# ...plus a font, venv support, speech and audio tools, and PortAudio (the microphone, for
# push-to-talk through sounddevice).
DEB_PACKAGES := $(QT_PACKAGES) fonts-dejavu-core python3-venv espeak-ng sox libportaudio2
# CI only (`make demo-check`): a virtual X server and xwd, to screenshot the real window.
CI_DISPLAY_PACKAGES := xvfb xauth x11-apps
PYTEST_FLAGS ?= -q

.PHONY: install system-packages ci-display-packages deb-packages demo demo-check test test-ui test-core-no-qt check bench clean

install: $(READY)

system-packages:
	@$(MAKE) --no-print-directory deb-packages PACKAGES='$(DEB_PACKAGES)'

ci-display-packages:
	@$(MAKE) --no-print-directory deb-packages PACKAGES='$(CI_DISPLAY_PACKAGES)'

# Installs what is missing of $(PACKAGES) when run as root; otherwise prints the apt-get line.
deb-packages:
	@pkgs='$(PACKAGES)'; missing=""; \
	for p in $$pkgs; do \
	  found=""; \
	  for alt in $$(echo "$$p" | tr '|' ' '); do \
	    dpkg-query -W -f='$${Status}' $$alt 2>/dev/null | grep -q "ok installed" && found=1; \
	  done; \
	  [ -n "$$found" ] || missing="$$missing $$p"; \
	done; \
	[ -n "$$missing" ] || exit 0; \
	if [ "$$(id -u)" = "0" ]; then apt-get update -qq; fi; \
	names=""; \
	for p in $$missing; do \
	  pick=""; \
	  for alt in $$(echo "$$p" | tr '|' ' '); do \
	    [ -z "$$pick" ] && apt-cache show --no-all-versions $$alt >/dev/null 2>&1 && pick=$$alt; \
	  done; \
	  names="$$names $${pick:-$${p##*|}}"; \
	done; \
	if [ "$$(id -u)" = "0" ]; then \
	  echo "Installing system packages:$$names"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$names; \
	else \
	  echo "Missing system packages:$$names"; \
	  echo "Install them first:  sudo apt-get install -y$$names"; \
	  exit 1; \
	fi

$(SYSTEM_STAMP): Makefile
	@$(MAKE) --no-print-directory system-packages
	@mkdir -p $(VENV) && touch $@

$(STAMP): pyproject.toml | $(SYSTEM_STAMP)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[ui,test,dev]'
	@touch $(STAMP)

demo: $(READY)
	$(BIN)/copilot demo $(DEMO_FLAGS)

# The real window: `copilot demo` under Xvfb with Qt's xcb plugin, a screenshot through the X
# server checked not blank (tests/display/real_window.sh; CI runs it). PNG= names the picture.
demo-check: $(READY)
	@$(MAKE) --no-print-directory ci-display-packages
	bash tests/display/real_window.sh $(PNG)

test: $(READY)
	@if ls tests/ui/test_*.py >/dev/null 2>&1; then \
	  echo "UI tests (Qt offscreen)"; \
	  QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_FLAGS) tests/ui; \
	fi
	$(MAKE) --no-print-directory test-core-no-qt

# The core must run with PySide6 and pyqtgraph absent: tests/noqt/sitecustomize.py makes them
# unimportable in this process and in every process the tests start.
test-core-no-qt: $(READY)
	PYTHONPATH=tests/noqt $(BIN)/python -m pytest -c tests/noqt/pytest.ini -p no:pytest-qt \
	  --rootdir . --confcutdir . $(PYTEST_FLAGS) tests/core

check: $(READY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(READY)
	$(BIN)/python -m bench all --json

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
