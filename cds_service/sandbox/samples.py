"""The sandbox's ready-made patients, given to the service from outside it (cds_service never imports them).

`CDS_SANDBOX_PATIENTS=module:attribute` names an object with the `SamplePatients` shape; `make serve` names
the bundled fixture patients (`fhir_fixtures.sandbox:PATIENTS`). Unset, the sandbox offers none and the
other sources (a pasted Bundle or request, a FHIR server) work as ever. The direction stays one way:
fhir_fixtures uses cds_service; the service only knows the shape.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import cached_property
from typing import Any, Protocol

__all__ = ["NO_SAMPLES", "SamplePatients", "Samples", "SamplesConfigError", "load_samples"]

JSON = dict[str, Any]
HOOKS_WITH_DRAFTS = ("order-select", "order-sign")


class SamplePatients(Protocol):
    """What a provider gives: patient ids, and per patient a one-line story, a Bundle and draft orders
    (`{"order-select": {"selections": [...], "draftOrders": [...]}, "order-sign": {"draftOrders": [...]}}`)."""

    ids: Sequence[str]

    def story(self, patient: str) -> str: ...
    def bundle(self, patient: str) -> JSON: ...
    def drafts(self, patient: str) -> JSON: ...


class SamplesConfigError(ValueError):
    """CDS_SANDBOX_PATIENTS names nothing usable (one line, naming the setting)."""


class _Nobody:
    ids: Sequence[str] = ()

    def story(self, patient: str) -> str:
        raise KeyError(patient)

    def bundle(self, patient: str) -> JSON:
        raise KeyError(patient)

    def drafts(self, patient: str) -> JSON:
        raise KeyError(patient)


class Samples:
    """A provider, with the listing the page shows built once (it reads every patient's drafts)."""

    def __init__(self, provider: SamplePatients) -> None:
        self.provider = provider
        self.ids = tuple(provider.ids)

    @cached_property
    def listing(self) -> list[JSON]:
        """id, story, and the draft orders per order hook (reference, label, selected)."""
        return [self._entry(patient) for patient in self.ids]

    def _entry(self, patient: str) -> JSON:
        orders = self.provider.drafts(patient)
        return {
            "id": patient,
            "story": self.provider.story(patient),
            "drafts": {
                hook: [
                    {
                        "reference": f"{d['resourceType']}/{d['id']}",
                        "label": _label(d),
                        "selected": hook == "order-sign"
                        or f"{d['resourceType']}/{d['id']}" in orders[hook].get("selections", []),
                    }
                    for d in orders[hook]["draftOrders"]
                ]
                for hook in HOOKS_WITH_DRAFTS
            },
        }


def _label(order: JSON) -> str:
    code = order.get("code") or {}
    return code.get("text") or next(
        (c.get("display") for c in code.get("coding", []) if c.get("display")), order["resourceType"])


NO_SAMPLES = Samples(_Nobody())


def load_samples(spec: str | None) -> Samples:
    """The provider `spec` (`module:attribute`) names, or NO_SAMPLES when unset."""
    if not spec:
        return NO_SAMPLES
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise SamplesConfigError(f"CDS_SANDBOX_PATIENTS must be module:attribute, got {spec!r}")
    try:
        provider = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise SamplesConfigError(f"CDS_SANDBOX_PATIENTS: cannot load {spec!r}: {exc}") from None
    missing = [name for name in ("ids", "story", "bundle", "drafts") if not hasattr(provider, name)]
    if missing:
        raise SamplesConfigError(f"CDS_SANDBOX_PATIENTS: {spec!r} has no {', '.join(missing)}")
    return Samples(provider)
