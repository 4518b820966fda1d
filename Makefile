# The two commands of the README. Both install what they need first, so they work on a fresh machine.
PYTHON ?= python3

.PHONY: serve test test-deps

# Runs the service with the development defaults: 127.0.0.1:8080, authentication disabled.
serve:
	$(PYTHON) -m pip install --quiet .
	CDS_AUTH_MODE=$${CDS_AUTH_MODE:-disabled} cds-service serve --host 127.0.0.1 --port 8080

# Installs the test dependencies (Python, the Node FHIR server, PostgreSQL, Chromium with playwright-core for
# the sandbox page) and runs every test.
test: test-deps
	$(PYTHON) -m pytest

test-deps:
	$(PYTHON) -m pip install --quiet -e '.[test]'
	npm ci --silent --prefix tests/fhir_server
	bash tests/postgres/ensure-postgres.sh
	npm ci --silent --prefix tests/browser
	bash tests/browser/ensure-chromium.sh
