# Operator Co-Pilot — every target sets itself up on first use and is safe to run again.
#   make demo    simulated plant + hub + station (creates .venv on first use)
#   make test    the whole test suite (core tests also run with Qt made unimportable)
#   make check   ruff, mypy (strict on copilot/), import-linter
#   make bench   every benchmark in bench/, JSON lines

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Qt's runtime libraries, a font, venv support, speech and audio tools.
DEB_PACKAGES := libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
                libxcb-cursor0 fonts-dejavu-core python3-venv espeak-ng sox
PYTEST_FLAGS ?= -q

.PHONY: install system-packages demo test test-ui test-core-no-qt check bench clean

install: $(STAMP)

system-packages:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "Missing system packages:$$missing"; \
	    echo "Install them first:  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system-packages
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[ui,test,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/copilot demo $(DEMO_FLAGS)

test: $(STAMP)
	@if ls tests/ui/test_*.py >/dev/null 2>&1; then \
	  echo "UI tests (Qt offscreen)"; \
	  QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_FLAGS) tests/ui; \
	fi
	$(MAKE) --no-print-directory test-core-no-qt

# The core must run with PySide6 and pyqtgraph absent: tests/noqt/sitecustomize.py makes them
# unimportable in this process and in every process the tests start.
test-core-no-qt: $(STAMP)
	PYTHONPATH=tests/noqt $(BIN)/python -m pytest -c tests/noqt/pytest.ini -p no:pytest-qt \
	  --rootdir . --confcutdir . $(PYTEST_FLAGS) tests/core

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench all --json

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
