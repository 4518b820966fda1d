# The two commands of the README, and `make lock`. Each command installs what it needs first, from the lock
# files, into a virtual environment of its own: `make test` (an editable install) never rewrites the files
# a running `make serve` (a plain install) is using.
PYTHON ?= python3
SERVE_VENV := .venv/serve
TEST_VENV := .venv/test
TOOLS_VENV := .venv/tools
# pip-compile options shared by both lock files: hashes for every file, setuptools (the build backend)
# pinned too, and no index or local paths of the machine that made the lock.
LOCK_OPTIONS := --quiet --generate-hashes --allow-unsafe --all-build-deps --strip-extras \
	--no-emit-index-url --no-emit-find-links

.PHONY: serve test test-deps lock

# Runs the service with the development defaults: 127.0.0.1:8080, authentication disabled, the fixture
# patients offered by the sandbox page (given from here: the service never imports fhir_fixtures).
serve: $(SERVE_VENV)/.locked
	$(SERVE_VENV)/bin/pip install --quiet --no-deps --no-build-isolation .
	CDS_AUTH_MODE=$${CDS_AUTH_MODE:-disabled} \
	CDS_SANDBOX_PATIENTS=$${CDS_SANDBOX_PATIENTS-fhir_fixtures.sandbox:PATIENTS} \
	$(SERVE_VENV)/bin/cds-service serve --host 127.0.0.1 --port 8080

# Installs the test dependencies (Python, the Node FHIR server, PostgreSQL, Chromium with playwright-core for
# the sandbox page) and runs every test.
test: test-deps
	$(TEST_VENV)/bin/python -m pytest

test-deps: $(TEST_VENV)/.locked
	$(TEST_VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	npm ci --silent --prefix tests/fhir_server
	bash tests/postgres/ensure-postgres.sh
	npm ci --silent --prefix tests/browser
	bash tests/browser/ensure-chromium.sh

# A virtual environment holding exactly the lock file's packages (hash-checked); redone when the lock changes.
$(SERVE_VENV)/.locked: requirements.lock
	test -x $(SERVE_VENV)/bin/python || $(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements.lock
	touch $@

$(TEST_VENV)/.locked: requirements-test.lock
	test -x $(TEST_VENV)/bin/python || $(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements-test.lock
	touch $@

# Refreshes both lock files from pyproject.toml (newest versions its ranges allow), for Python 3.11 on Linux.
lock:
	test -x $(TOOLS_VENV)/bin/pip-compile || ($(PYTHON) -m venv $(TOOLS_VENV) && $(TOOLS_VENV)/bin/pip install --quiet pip-tools)
	$(TOOLS_VENV)/bin/pip-compile $(LOCK_OPTIONS) --upgrade -o requirements.lock pyproject.toml
	$(TOOLS_VENV)/bin/pip-compile $(LOCK_OPTIONS) --upgrade --extra test -o requirements-test.lock pyproject.toml
