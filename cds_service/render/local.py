"""The pathway owners' local order catalog and override reasons, applied to the rendered cards: a separate
step after `render_cards`, so card wording and the standard codes stay as reviewed.

- An orderable mapped to a local code (`[orderables.<name>]`): every ServiceRequest a card suggests to
  create with that orderable's standard coding gets the local coding beside it (`mode = "add"`) or instead
  of it (`mode = "replace"`). Text-only orderables (no standard code) get the local coding added. The
  resource is validated again with the R4B model. Updates of the clinician's own drafts are left alone.
- Local override reasons (`[override_reasons.<code>]`) are appended to the cards of the nodes they name,
  in this service's override-reason CodeSystem (`<base>/override-reason`, which lists them too).
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.guideline.config import PathwayConfig
from cds_service.guideline.local_config import LocalOrderCode
from cds_service.guideline.valuesets import load_valuesets
from cds_service.render.cards import override_reason_system

__all__ = ["localize_cards", "localize_service_request"]

JSON = dict[str, Any]


def _standard_index(local: dict[str, LocalOrderCode]) -> tuple[dict[tuple[str, str], LocalOrderCode], dict[str, LocalOrderCode]]:
    """(system, code) of each mapped orderable -> its local code; and text -> local code for text-only ones."""
    by_coding: dict[tuple[str, str], LocalOrderCode] = {}
    by_text: dict[str, LocalOrderCode] = {}
    orderables = load_valuesets().orderables
    for name, mapped in local.items():
        item = orderables[name]
        if item.system and item.code:
            by_coding[(item.system, item.code)] = mapped
        else:
            by_text[item.text] = mapped
    return by_coding, by_text


def localize_service_request(resource: JSON, config: PathwayConfig) -> JSON:
    """`resource` (a suggested ServiceRequest, JSON) with the local order codes applied; validated."""
    by_coding, by_text = _standard_index(config.local.orderables)
    code = resource.get("code") or {}
    codings: list[JSON] = list(code.get("coding") or [])
    mapped = next((by_coding[key] for c in codings if (key := (c.get("system"), c.get("code"))) in by_coding), None)
    if mapped is None and not codings:
        mapped = by_text.get(code.get("text", ""))
    if mapped is None or any((c.get("system"), c.get("code")) == (mapped.system, mapped.code) for c in codings):
        return resource
    if mapped.mode == "replace":
        standard = {key for key, value in by_coding.items() if value is mapped}
        codings = [c for c in codings if (c.get("system"), c.get("code")) not in standard]
    codings.append(mapped.coding())
    changed = {**resource, "code": {**code, "coding": codings}}
    return ServiceRequest.model_validate(changed).model_dump(mode="json", exclude_none=True)


def _localize_card(card: JSON, config: PathwayConfig, override_system: str) -> JSON:
    local = config.local
    if local.orderables:
        for suggestion in card.get("suggestions", ()):
            for action in suggestion.get("actions", ()):
                resource = action.get("resource")
                if action.get("type") == "create" and isinstance(resource, dict) and resource.get("resourceType") == "ServiceRequest":
                    action["resource"] = localize_service_request(resource, config)
    node_id = ((card.get("source") or {}).get("topic") or {}).get("code")
    reasons = local.reasons_for(node_id) if node_id else ()
    if reasons:
        present = {(r.get("system"), r.get("code")) for r in card.get("overrideReasons", ())}
        card["overrideReasons"] = [
            *card.get("overrideReasons", ()),
            *(
                {"system": override_system, "code": r.code, "display": r.display}
                for r in reasons
                if (override_system, r.code) not in present
            ),
        ]
    return card


def localize_cards(cards: list[JSON], config: PathwayConfig, base_url: str) -> list[JSON]:
    """The rendered cards (JSON, as `render_cards` builds them) with the local catalog and reasons applied."""
    local = config.local
    if not (local.orderables or local.override_reasons):
        return cards
    override_system = override_reason_system(base_url)
    return [_localize_card(card, config, override_system) for card in cards]
