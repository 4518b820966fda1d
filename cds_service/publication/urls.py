"""Where this service serves the artifact (`<public base>/fhir/...`): for node pages and card sources.

Canonical URLs (`PlanDefinition.url`) name the artifact wherever it is published (publication.toml); these
are the addresses of this deployment's copy, which a browser or a FHIR client can read.
"""

from __future__ import annotations

__all__ = ["FHIR_PREFIX", "activity_definition_url", "bundle_url", "library_url", "plan_definition_url"]

FHIR_PREFIX = "/fhir"


def _fhir(base: str) -> str:
    return f"{base.rstrip('/')}{FHIR_PREFIX}"


def plan_definition_url(base: str, node_id: str) -> str:
    """The node's recommendation PlanDefinition (its id is the node id), e.g. for the card's `source`."""
    return f"{_fhir(base)}/PlanDefinition/{node_id}"


def activity_definition_url(base: str, orderable: str) -> str:
    return f"{_fhir(base)}/ActivityDefinition/{orderable}"


def library_url(base: str, library_id: str) -> str:
    return f"{_fhir(base)}/Library/{library_id}"


def bundle_url(base: str) -> str:
    from cds_service.publication.artifact import BUNDLE_ID

    return f"{_fhir(base)}/Bundle/{BUNDLE_ID}"
