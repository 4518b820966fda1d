"""schemathesis reads /openapi.json and sends generated requests (valid and not) to every operation: the
service never answers 5xx, and every answer's status, content type and body are the documented ones.

Authentication is disabled here so the generated bodies reach the parsers (with it, every call would stop at
the 401). Examples are few and derandomized, so the test is repeatable and bounded in time.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cds_service.app import create_app
from cds_service.settings import Settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


# The app is built at import, on a SQLite file in its own temporary directory: schemathesis makes one test per
# operation at collection time from the document this app serves.
_DIRECTORY = tempfile.mkdtemp(prefix="cds-fuzz-")
atexit.register(shutil.rmtree, _DIRECTORY, True)
_APP = create_app(
    Settings(
        auth_mode="disabled",
        database_url=f"sqlite:///{_DIRECTORY}/fuzz.db",
        public_base_url="http://testserver",
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@schema.parametrize()
@settings(max_examples=10, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)
