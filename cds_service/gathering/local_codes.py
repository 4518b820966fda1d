"""Orders under the local order catalog, made recognisable: a ServiceRequest (draft or in the record) that
carries a local code the pathway owners mapped to an orderable (`[orderables.<name>]` of the pathway
configuration) gets the orderable's standard coding added beside it, so the facts step recognises it as
that orderable (an X-ray already drafted, a PTH already ordered) exactly as if it were coded in LOINC.

Only the standard coding is added; nothing is removed. An `update` suggestion that sends a draft back
therefore carries the standard coding beside the local one. What prefetch and FHIR searches return is
unchanged: their queries are filtered by the standard codes (see README, "For pathway owners").
"""

from __future__ import annotations

from typing import Any

from cds_service.gathering.records import RawRecord
from cds_service.guideline.config import PathwayConfig
from cds_service.guideline.valuesets import load_valuesets

__all__ = ["recognise_local_codes"]

JSON = dict[str, Any]


def _local_index(config: PathwayConfig) -> dict[tuple[str, str], JSON]:
    """(local system, local code) -> the standard coding of its orderable (text-only orderables have none)."""
    orderables = load_valuesets().orderables
    index: dict[tuple[str, str], JSON] = {}
    for name, mapped in config.local.orderables.items():
        item = orderables[name]
        if item.system and item.code:
            index[(mapped.system, mapped.code)] = {"system": item.system, "code": item.code, "display": item.display}
    return index


def _with_standard(resource: JSON, index: dict[tuple[str, str], JSON]) -> JSON:
    code = resource.get("code")
    if not isinstance(code, dict) or not isinstance(code.get("coding"), list):
        return resource
    present = {(c.get("system"), c.get("code")) for c in code["coding"] if isinstance(c, dict)}
    added = [
        index[key] for key in present if key in index and (index[key]["system"], index[key]["code"]) not in present
    ]
    if not added:
        return resource
    # A copy of what changes only (the resource is the client's; nothing else of it is touched): no deep
    # copy, which would recurse through a resource of any depth (only selected resources are depth-checked).
    return {**resource, "code": {**code, "coding": [*code["coding"], *(dict(coding) for coding in added)]}}


def recognise_local_codes(raw: RawRecord, config: PathwayConfig) -> RawRecord:
    index = _local_index(config)
    if not index:
        return raw
    if "ServiceRequest" in raw.resources:
        raw.resources["ServiceRequest"] = [
            _with_standard(r, index) if isinstance(r, dict) else r for r in raw.resources["ServiceRequest"]
        ]
    raw.draft_orders = [
        _with_standard(r, index) if isinstance(r, dict) and r.get("resourceType") == "ServiceRequest" else r
        for r in raw.draft_orders
    ]
    return raw
