# The two set-up commands: `make run` (the portal on the embedded default) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := run.py

.PHONY: run test chaos install translations extract-messages system-deps worker beat clean

# uv installs the pinned requirements in seconds where pip takes a minute
$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install -q --python $(BIN)/python "setuptools<81" wheel -r requirements.txt
	# face_recognition pins dlib, which compiles for minutes; dlib-bin (in requirements) provides it
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps face_recognition==1.3.0
	touch $@

# ECharts and any other browser library the portal serves itself (package.json, pinned in package-lock.json)
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "installing: nodejs npm"; SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q nodejs npm; }
	npm ci --omit=dev --no-audit --no-fund

install: $(BIN)/.installed node_modules/.package-lock.json

translations: install
	$(BIN)/pybabel -q compile -d translations

# Refresh the catalogs after changing user-facing text (then translate translations/en).
extract-messages: install
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot .
	$(BIN)/pybabel -q update -i translations/messages.pot -d translations --no-fuzzy-matching

run: translations
	$(BIN)/flask portal start $$( [ -d ../shared/testdata/faces ] && echo --faces ../shared/testdata/faces )
	$(BIN)/python run.py

# MariaDB, Redis, Chromium and systemd-analyze (package systemd: tests/test_deploy_units.py verifies deploy/) from
# Debian's packages, when missing (the tests start their own servers).
system-deps:
	@missing=""; \
	[ -x /usr/sbin/mariadbd ] || command -v mariadbd >/dev/null || missing="$$missing mariadb-server"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	fc-list 2>/dev/null | grep -qi "noto.*cjk" || missing="$$missing fonts-noto-cjk"; \
	[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$$missing fonts-wqy-microhei"; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

test: translations system-deps
	$(BIN)/pytest -q -p no:cacheprovider tests
	PORTAL_TEST_DB=sqlite $(BIN)/pytest -q -p no:cacheprovider -m smoke tests

# The chaos suite (tests/chaos/, issue 14): faults injected into the production shape, outcomes counted.
# `make test` runs its quickest case; this runs all of it.
chaos: translations system-deps
	CHAOS=1 $(BIN)/pytest -q -p no:cacheprovider -s tests/chaos

worker: install
	$(BIN)/celery -A app.celery_worker worker --loglevel=INFO

beat: install
	$(BIN)/celery -A app.celery_worker beat --loglevel=INFO

clean:
	rm -rf $(VENV) instance test-output
