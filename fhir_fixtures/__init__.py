"""Synthetic FHIR R4 patients for the foot soft-tissue calcification pathway, with date tokens.

- `catalog`: the patients and their files (`bundle`, `drafts`, `resources`)
- `materialize`: render `{{today-30d}}` tokens for a given day
- `hook_requests`: ready CDS Hooks requests (`build_request`)
- `load`: POST the bundles to a FHIR server
- `table`: the README table, from the real evaluator
- `author`: the stories the JSON files are written from
- `sandbox`: the patients as the sandbox page offers them (`CDS_SANDBOX_PATIENTS=fhir_fixtures.sandbox:PATIENTS`)
"""

from __future__ import annotations

from typing import Any

from fhir_fixtures.catalog import HOOKS, PATIENTS, bundle, drafts, resources

# `materialize` is not re-exported: the name is also its module's. Use
# `from fhir_fixtures.materialize import materialize`.
__all__ = ["HOOKS", "PATIENTS", "build_request", "bundle", "drafts", "resources"]


def __getattr__(name: str) -> Any:
    # Imported lazily so `python -m fhir_fixtures.<module>` does not import that module twice.
    if name == "build_request":
        from fhir_fixtures.hook_requests import build_request

        return build_request
    raise AttributeError(f"module 'fhir_fixtures' has no attribute {name!r}")
