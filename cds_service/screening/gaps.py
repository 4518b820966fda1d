"""One in-pathway patient's judgement -> care gaps (Da Vinci DEQM Gaps in Care shapes) and a flat gap row each.

Status (gaps.toml says which nodes are tracked and which rule questions are "the care"):
  open-gap        the node fired: its card is in patient-view's answer
  closed-gap      the rest of its rule holds but the node is silent: the care is done or ordered
  not-applicable  in the pathway, but the node's rule does not apply (or the node is off locally, or the
                  patient is deceased and the pathway gives no cards then)
An open gap says which of two things the export shows (the DEQM IG warns against calling absent evidence
"care not performed"):
  record-shows-not-done   a resource with one of the closing codes is there, with status not-done,
                          revoked, cancelled or stopped (reasonCode InvalidAttribute)
  outside-lookback        a resource with one of the closing codes is there, but the pathway did not count it
                          (older than its lookback) (reasonCode DateOutOfRange)
  no-evidence-in-export   nothing with a closing code (reasonCode NotFound)
Closing codes are exactly the codes of the orders the card suggests (for a closed or not-applicable gap:
the node's orderables).
"""

from __future__ import annotations

import hashlib
import tomllib
import uuid
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources as package_files
from typing import Any

from cds_service import __version__
from cds_service.facts.model import Facts
from cds_service.guideline.config import PathwayConfig
from cds_service.guideline.nodes import NodeSpec, pathway_spec
from cds_service.guideline.valuesets import load_valuesets
from cds_service.pathway.questions import answer
from cds_service.pathway.result import NodeResult

__all__ = ["GapRow", "PATHWAY_ID", "TrackedGap", "gaps_for", "pathway_version", "tracked_gaps"]

JSON = dict[str, Any]

PATHWAY_ID = "foot-soft-tissue-calcification"
GAP_STATUS_EXTENSION = "http://hl7.org/fhir/us/davinci-deqm/StructureDefinition/extension-gapStatus"
GAP_STATUS_SYSTEM = "http://hl7.org/fhir/us/davinci-deqm/CodeSystem/gaps-status"
GAP_REASON_SYSTEM = "http://hl7.org/fhir/us/davinci-deqm/CodeSystem/care-gap-reason"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
NOT_DONE_STATUSES = frozenset({"not-done", "revoked", "cancelled", "stopped"})
REASONS = {
    "record-shows-not-done": ("InvalidAttribute", "the record shows it was not done (status not-done, revoked, cancelled or stopped)"),
    "outside-lookback": ("DateOutOfRange", "the record has it, but outside the pathway's lookback"),
    "no-evidence-in-export": ("NotFound", "no evidence of it in this export"),
    "done-or-ordered": ("Present", "done within the lookback or already ordered"),
}
CODED_TYPES = ("ServiceRequest", "Procedure", "Observation", "DiagnosticReport", "ImagingStudy")


@dataclass(frozen=True, slots=True)
class TrackedGap:
    node: str
    kind: str
    care: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GapRow:
    patient: str
    node: str
    kind: str
    status: str  # open-gap | closed-gap | not-applicable
    evidence: str  # record-shows-not-done | outside-lookback | no-evidence-in-export | done-or-ordered | ""
    reason: str  # words
    codes: tuple[str, ...]  # "system|code" that would close it
    due: str  # ISO date ("" when not open)
    overdue_days: int | None  # days since the in-pathway problem was recorded (open gaps only)
    evidence_ids: tuple[str, ...]

    def to_json(self) -> JSON:
        return {"patient": self.patient, "node": self.node, "kind": self.kind, "status": self.status,
                "evidence": self.evidence, "reason": self.reason, "codes": list(self.codes), "due": self.due,
                "overdue_days": self.overdue_days, "evidence_ids": list(self.evidence_ids)}


@cache
def tracked_gaps() -> tuple[TrackedGap, ...]:
    text = package_files.files("cds_service.screening").joinpath("gaps.toml").read_text(encoding="utf-8")
    document = tomllib.loads(text)
    return tuple(TrackedGap(node, body["kind"], tuple(body.get("care", ()))) for node, body in document["gap"].items())


@cache
def pathway_version() -> str:
    """The package version and a digest of the guideline data (nodes, value sets, thresholds, gaps)."""
    digest = hashlib.sha256()
    for package, name in (("cds_service.guideline", "nodes.toml"), ("cds_service.guideline", "valuesets.toml"),
                          ("cds_service.guideline", "thresholds.toml"), ("cds_service.screening", "gaps.toml")):
        digest.update(package_files.files(package).joinpath(name).read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"


def _kind_of_node(node: NodeSpec) -> str:
    orderables = load_valuesets().orderables
    kinds = sorted({orderables[o].kind for o in node.orderables if o in orderables})
    return kinds[0] if kinds else "advice"


def _card_codes(card: JSON) -> tuple[str, ...]:
    codes = []
    for suggestion in card.get("suggestions", []):
        for action in suggestion.get("actions", []):
            resource = action.get("resource") or {}
            for coding in (resource.get("code") or {}).get("coding", []):
                if coding.get("system") and coding.get("code"):
                    codes.append(f"{coding['system']}|{coding['code']}")
    return tuple(dict.fromkeys(codes))


def _card_due(card: JSON, today: date) -> str:
    ends = []
    for suggestion in card.get("suggestions", []):
        for action in suggestion.get("actions", []):
            resource = action.get("resource") or {}
            period = resource.get("occurrencePeriod") or {}
            when = period.get("end") or resource.get("occurrenceDateTime")
            if isinstance(when, str):
                ends.append(when[:10])
    return min(ends) if ends else today.isoformat()


def _orderable_codes(node: NodeSpec) -> tuple[str, ...]:
    orderables = load_valuesets().orderables
    return tuple(f"{orderables[o].system}|{orderables[o].code}" for o in node.orderables
                 if o in orderables and orderables[o].system and orderables[o].code)


def _evidence_kind(codes: tuple[str, ...], pool: list[JSON]) -> str:
    wanted = set(codes)
    present = False
    for resource in pool:
        if resource.get("resourceType") not in CODED_TYPES:
            continue
        codings = (resource.get("code") or {}).get("coding") or []
        if not any(isinstance(c, dict) and f"{c.get('system')}|{c.get('code')}" in wanted for c in codings):
            continue
        if resource.get("status") in NOT_DONE_STATUSES:
            return "record-shows-not-done"
        present = True
    return "outside-lookback" if present else "no-evidence-in-export"


def _first_recorded(facts: Facts) -> date | None:
    dates = [d for p in facts.problems for d in (p.recorded, p.onset) if d is not None]
    return min(dates) if dates else None


def _rule_applies(node: NodeSpec, care: tuple[str, ...], facts: Facts, config: PathwayConfig) -> bool:
    for rule in node.rules_for("patient-view"):
        rest = [q for q in rule.all if q not in care]
        if all(answer(q, facts, config) for q in rest) and (not rule.any or any(answer(q, facts, config) for q in rule.any)):
            return True
    return False


def gaps_for(patient: str, facts: Facts, results: list[NodeResult], cards: list[JSON], pool: list[JSON],
             today: date, config: PathwayConfig) -> list[GapRow]:
    spec = pathway_spec()
    card_of = {card["source"]["topic"]["code"]: card for card in cards}
    result_of = {r.node_id: r for r in results}
    tracked = {g.node: g for g in tracked_gaps()}
    recorded = _first_recorded(facts)
    problems = tuple(p.reference for p in facts.problems)
    no_cards = facts.deceased is not None and config.deceased_patient == "no-cards"
    rows: list[GapRow] = []
    for node in spec.nodes:
        card = card_of.get(node.id)
        gap = tracked.get(node.id)
        if card is not None and card.get("suggestions"):
            codes = _card_codes(card)
            evidence = _evidence_kind(codes, pool)
            result = result_of.get(node.id)
            ids = tuple(dict.fromkeys([*problems, *(e.reference for e in (result.evidence if result else ()) if e.reference)]))
            rows.append(GapRow(patient, node.id, gap.kind if gap else _kind_of_node(node), "open-gap", evidence,
                               REASONS[evidence][1], codes, _card_due(card, today),
                               (today - recorded).days if recorded else None, ids))
        elif gap is not None:
            off = not config.local.enabled(node.id)
            if card is None and not no_cards and not off and _rule_applies(node, gap.care, facts, config):
                rows.append(GapRow(patient, node.id, gap.kind, "closed-gap", "done-or-ordered",
                                   REASONS["done-or-ordered"][1], _orderable_codes(node), "", None, problems))
            else:
                why = ("deceased: the pathway gives no cards" if no_cards else "turned off locally" if off
                       else "the node's rule does not apply" if card is None else "advice without an order")
                rows.append(GapRow(patient, node.id, gap.kind, "not-applicable", "", why, _orderable_codes(node),
                                   "", None, problems))
    return rows


def _gid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "cds-service-screen:" + ":".join(parts)))


def fhir_resources(row: GapRow, today: date) -> tuple[JSON, JSON]:
    """(DetectedIssue, GuidanceResponse) for one gap: DEQM's CAREGAP issue whose evidence is a detailed
    care-gap GuidanceResponse (the `collection` shape without a Measure; see the README)."""
    version = pathway_version()
    node = pathway_spec().node(row.node)
    title = node.title if node else row.node
    issue_id, guidance_id = _gid(row.patient, row.node, "issue"), _gid(row.patient, row.node, "guidance")
    module = f"urn:cds-service:pathway:{PATHWAY_ID}:{row.node}"
    code, reason_words = REASONS.get(row.evidence, (None, row.reason))
    guidance: JSON = {
        "resourceType": "GuidanceResponse",
        "id": guidance_id,
        "moduleUri": module,
        "status": "success",
        "subject": {"reference": f"Patient/{row.patient}"},
        "occurrenceDateTime": today.isoformat(),
        "identifier": [{"system": f"urn:cds-service:pathway:{PATHWAY_ID}", "value": f"{row.node}|{version}"}],
        "reasonCode": [{
            **({"coding": [{"system": GAP_REASON_SYSTEM, "code": code}]} if code else {}),
            "text": reason_words,
        }],
        "dataRequirement": [
            {
                "type": _requirement_type(row.kind),
                "codeFilter": [{"path": "code", "code": [{"system": c.split("|", 1)[0], "code": c.split("|", 1)[1]}]}],
            }
            for c in row.codes
        ],
    }
    issue: JSON = {
        "resourceType": "DetectedIssue",
        "id": issue_id,
        "modifierExtension": [{"url": GAP_STATUS_EXTENSION, "valueCodeableConcept": {
            "coding": [{"system": GAP_STATUS_SYSTEM, "code": row.status}]}}],
        "status": "final",
        "code": {"coding": [{"system": ACT_CODE, "code": "CAREGAP", "display": "Caregap"}]},
        "patient": {"reference": f"Patient/{row.patient}"},
        "identifiedDateTime": today.isoformat(),
        "detail": f"{title} ({row.status}): {row.reason}",
        "reference": f"{module}|{version}",
        "implicated": [{"reference": ref} for ref in row.evidence_ids],
        "evidence": [{"detail": [{"reference": f"GuidanceResponse/{guidance_id}"}]}],
    }
    return issue, guidance


def _requirement_type(kind: str) -> str:
    return {"laboratory": "Observation", "imaging": "ImagingStudy"}.get(kind, "ServiceRequest")
