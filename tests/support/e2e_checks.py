"""Checks of one hook response against the expectations table. Each returns a list of problems (plain
sentences naming fixture, hook, node, expected and got) so a failing test shows all of them at once."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Any

from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.guideline.nodes import pathway_spec
from cds_service.render.cards import NODES_EXTENSION
from tests.support.e2e_expectations import (
    COMPOSED,
    DETAILS,
    EXPECTED,
    SEED_FRAGMENTS,
    TEST_CODES,
    Create,
    Detail,
)

__all__ = [
    "SEED_004_BY_PREVALENCE",
    "card_of",
    "carried",
    "carried_nodes",
    "check_composition",
    "check_response",
    "node_ids",
]

# Seed 004's table, most to least prevalent (lower case, as _norm leaves the detail).
SEED_004_BY_PREVALENCE = (
    "dystrophic",
    "cppd",
    "metastatic calcification",
    "tumoral calcinosis",
    "metastatic osteosarcoma",
    "primary soft tissue osteosarcoma",
)

JSON = dict[str, Any]


def node_ids(response: JSON) -> list[str]:
    return [((card.get("source") or {}).get("topic") or {}).get("code", "?") for card in response.get("cards", [])]


def carried(card: JSON) -> list[str]:
    """The nodes a card carries: its own (source.topic.code) and those folded into it (its extension)."""
    own = ((card.get("source") or {}).get("topic") or {}).get("code", "?")
    return list((card.get("extension") or {}).get(NODES_EXTENSION) or [own])


def carried_nodes(response: JSON) -> dict[str, str]:
    """Every node the response carries -> its indicator: a card's own node has the card's indicator, a
    folded node its own (nodes.toml; no fixture gives a node a local indicator)."""
    out: dict[str, str] = {}
    for card in response.get("cards", []):
        for index, node in enumerate(carried(card)):
            spec = pathway_spec().node(node)
            out[node] = card.get("indicator") if index == 0 else (spec.indicator if spec else "?")
    return out


def card_of(response: JSON, node: str) -> JSON:
    """The card that carries `node` (its own, or the one it is folded into)."""
    return next(card for card in response.get("cards", []) if node in carried(card))


def _norm(text: str) -> str:
    text = text.replace("\u2013", "-").replace("\u2014", "-").replace("\u00a0", " ")
    text = re.sub(r"[*_>`]", "", text)
    return re.sub(r"\s+", " ", text).lower()


def _codes(resource: JSON) -> set[str]:
    return {c.get("code") for c in (resource.get("code") or {}).get("coding", [])}


def _creates(card: JSON) -> list[tuple[JSON, JSON]]:
    """(suggestion, created resource) pairs."""
    return [
        (s, a["resource"])
        for s in card.get("suggestions", [])
        for a in s.get("actions", [])
        if a.get("type") == "create" and isinstance(a.get("resource"), dict)
    ]


def _days(value: str | None, today: date) -> int | None:
    if not value:
        return None
    return (date.fromisoformat(value[:10]) - today).days


def _request_ids(request: JSON) -> tuple[set[str], list[JSON]]:
    """`Type/id` of everything the request carries (prefetch + drafts) and the draft resources."""
    refs: set[str] = set()
    for value in (request.get("prefetch") or {}).values():
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == "Bundle":
            refs |= {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in value.get("entry", [])}
        else:
            refs.add(f"{value['resourceType']}/{value['id']}")
    drafts = [e["resource"] for e in (request["context"].get("draftOrders") or {}).get("entry", [])]
    refs |= {f"{r['resourceType']}/{r['id']}" for r in drafts}
    return refs, drafts


def _active_order_codes(request: JSON) -> set[str]:
    codes: set[str] = set()
    for value in (request.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            for entry in value.get("entry", []):
                r = entry["resource"]
                if r["resourceType"] == "ServiceRequest" and r.get("status") == "active":
                    codes |= _codes(r)
    return codes


def _check_create(where: str, want: Create, card: JSON, today: date) -> list[str]:
    found = [(s, r) for s, r in _creates(card) if _codes(r) & want.codes]
    if not found:
        got = sorted(c for _, r in _creates(card) for c in _codes(r))
        return [f"{where}: expected a suggestion creating one of {sorted(want.codes)}; created codes: {got}"]
    problems: list[str] = []
    suggestion, resource = found[0]
    if want.reason:
        reasons = [r.get("reference") for r in resource.get("reasonReference", [])]
        if want.reason not in reasons:
            problems.append(
                f"{where}: created {sorted(_codes(resource))} should have reasonReference {want.reason}; got {reasons}"
            )
    if want.period:
        period = resource.get("occurrencePeriod") or {}
        got = (_days(period.get("start"), today), _days(period.get("end"), today))
        if got != want.period:
            problems.append(
                f"{where}: occurrencePeriod should be today+{want.period[0]}d..today+{want.period[1]}d; "
                f"got {period or resource.get('occurrenceDateTime')} (= {got} days from today)"
            )
    if want.priority and resource.get("priority") != want.priority:
        problems.append(f"{where}: priority should be {want.priority!r}; got {resource.get('priority')!r}")
    if want.recommended is True and suggestion.get("isRecommended") is not True:
        problems.append(f"{where}: the suggestion creating {sorted(want.codes)} should be isRecommended")
    if want.recommended is False and suggestion.get("isRecommended") is True:
        problems.append(f"{where}: the suggestion creating {sorted(want.codes)} should not be isRecommended")
    if want.recommended is True:
        others = [s for s in card.get("suggestions", []) if s.get("isRecommended") is True and s is not suggestion]
        if others:
            problems.append(
                f"{where}: only one suggestion may be recommended; also: {[s.get('label') for s in others]}"
            )
    return problems


def _check_detail(where: str, detail: Detail, card: JSON, today: date) -> list[str]:
    problems: list[str] = []
    suggestions = card.get("suggestions", [])
    if detail.no_suggestions and suggestions:
        problems.append(f"{where}: expected no suggestion; got {[s.get('label') for s in suggestions]}")
    if detail.selection and card.get("selectionBehavior") != detail.selection:
        problems.append(
            f"{where}: selectionBehavior should be {detail.selection!r}; got {card.get('selectionBehavior')!r}"
        )
    for want in detail.creates:
        problems += _check_create(where, want, card, today)
    created = {c for _, r in _creates(card) for c in _codes(r)}
    if detail.not_creates & created:
        problems.append(f"{where}: must not suggest {sorted(detail.not_creates & created)} (already done or ordered)")
    if detail.lab_tests is not None:
        groups = {name for name, codes in TEST_CODES.items() if codes & created}
        if groups != set(detail.lab_tests):
            problems.append(
                f"{where}: lab suggestions should cover exactly {sorted(detail.lab_tests)}; got {sorted(groups)} "
                f"(codes {sorted(created)})"
            )
    if detail.replaces:
        swap = [
            s
            for s in suggestions
            if any(a.get("type") == "delete" and a.get("resourceId") == detail.replaces for a in s.get("actions", []))
            and any(
                a.get("type") == "create" and _codes(a.get("resource") or {}) & detail.creates[0].codes
                for a in s.get("actions", [])
            )
        ]
        if not swap:
            problems.append(
                f"{where}: expected one suggestion deleting {detail.replaces} (resourceId) and creating one of "
                f"{sorted(detail.creates[0].codes)}; got {[(s.get('label'), [(a.get('type'), a.get('resourceId')) for a in s.get('actions', [])]) for s in suggestions]}"
            )
        elif detail.replace_recommended and swap[0].get("isRecommended") is not True:
            problems.append(f"{where}: the replace suggestion should be isRecommended")
    for update in detail.updates:
        target_type, target_id = update.resource_id.split("/", 1)
        hits = [
            a["resource"]
            for s in suggestions
            for a in s.get("actions", [])
            if a.get("type") == "update"
            and (a.get("resource") or {}).get("id") == target_id
            and a["resource"].get("resourceType") == target_type
        ]
        if not hits:
            problems.append(
                f"{where}: expected an update of {update.resource_id}; got actions "
                f"{[(a.get('type'), (a.get('resource') or {}).get('id')) for s in suggestions for a in s.get('actions', [])]}"
            )
            continue
        period = hits[0].get("occurrencePeriod") or {}
        got = (_days(period.get("start"), today), _days(period.get("end"), today))
        if got != update.period:
            problems.append(
                f"{where}: updated occurrencePeriod should be today+{update.period[0]}d..today+{update.period[1]}d; got {got}"
            )
        if hits[0].get("occurrenceDateTime"):
            problems.append(
                f"{where}: the updated draft keeps occurrenceDateTime beside occurrencePeriod (occurrence[x] is a choice)"
            )
    if detail.override_reasons and not card.get("overrideReasons"):
        problems.append(f"{where}: expected overrideReasons (radiograph done elsewhere, urgent clinical need, other)")
    missing = [m for m in detail.detail_mentions_all if m.lower() not in (card.get("detail") or "").lower()]
    if missing:
        problems.append(f"{where}: detail should mention {missing}")
    if detail.detail_mentions and not any(m in (card.get("detail") or "") for m in detail.detail_mentions):
        problems.append(f"{where}: detail should mention one of {list(detail.detail_mentions)} ")
    return problems


def _check_common(
    where: str, card: JSON, patient: str, request: JSON, drafts: list[JSON], known: set[str], active_codes: set[str]
) -> list[str]:
    """Rules for every card (pathway-spec 'Every card')."""
    problems: list[str] = []
    topic = (card.get("source") or {}).get("topic") or {}
    if not str(topic.get("system", "")).endswith("/pathway"):
        problems.append(f"{where}: source.topic.system should be <base>/pathway; got {topic.get('system')!r}")
    if not (card.get("source") or {}).get("url"):
        problems.append(f"{where}: source.url (the node's page) is missing")
    for node in carried(card):  # a card quotes the seed of every node whose advice it carries
        fragments = SEED_FRAGMENTS.get(node, ())
        if fragments and not any(f in _norm(card.get("detail") or "") for f in fragments):
            problems.append(f"{where}: detail does not quote the seed of {node} (one of {list(fragments)})")
    noisy = re.findall(r"\b\d+\.\d{3,}\b", card.get("detail") or "")
    if noisy:
        problems.append(f"{where}: values printed with spurious precision: {noisy[:3]}")
    if re.search(r"(\d{4}-\d{2}-\d{2})\)? \((\1)\)", card.get("detail") or ""):
        problems.append(f"{where}: an evidence line repeats its date")
    if topic.get("code") == "differential-diagnosis":
        text = _norm(card.get("detail") or "")
        positions = [text.find(entity) for entity in SEED_004_BY_PREVALENCE]
        if -1 in positions or positions != sorted(positions):
            problems.append(f"{where}: the differential should list {SEED_004_BY_PREVALENCE} in this order (seed 004)")
    draft_codes = {c for d in drafts for c in _codes(d)}
    draft_refs = {f"{d['resourceType']}/{d['id']}" for d in drafts}
    for suggestion in card.get("suggestions", []):
        for action in suggestion.get("actions", []):
            kind = action.get("type")
            if kind == "delete" and action.get("resourceId") not in draft_refs:
                problems.append(
                    f"{where}: delete targets {action.get('resourceId')!r}, which is not a draft order of the request"
                )
            if kind == "update":
                rid = f"{(action.get('resource') or {}).get('resourceType')}/{(action.get('resource') or {}).get('id')}"
                if rid not in draft_refs:
                    problems.append(f"{where}: update targets {rid}, which is not a draft order of the request")
            if kind != "create":
                continue
            resource = action.get("resource") or {}
            label = f"{where}: created {resource.get('resourceType')}/{resource.get('id')} {sorted(_codes(resource))}"
            if resource.get("resourceType") == "ServiceRequest":
                try:
                    ServiceRequest.model_validate(resource)
                except Exception as exc:  # noqa: BLE001 - any validation error is the finding
                    problems.append(f"{label} is not valid R4: {str(exc).splitlines()[0]}")
                if resource.get("status") != "draft" or resource.get("intent") not in ("order", "proposal"):
                    problems.append(
                        f"{label} should be status draft, intent order|proposal; got {resource.get('status')}/{resource.get('intent')}"
                    )
                if (resource.get("subject") or {}).get("reference") != f"Patient/{patient}":
                    problems.append(f"{label} has the wrong subject")
            if f"{resource.get('resourceType')}/{resource.get('id')}" in known:
                problems.append(f"{label} reuses the id of a resource already in the patient's data")
            if _codes(resource) & (draft_codes | active_codes) and resource.get("resourceType") == "ServiceRequest":
                problems.append(f"{label} is already in the draft orders or active orders")
            for ref in resource.get("reasonReference", []):
                if ref.get("reference") not in known:
                    problems.append(
                        f"{label} has reasonReference {ref.get('reference')} which is not in the patient's data"
                    )
    return problems


def check_composition(tag: str, expected: dict[str, str], composed: dict[str, tuple[str, ...]],
                      response: JSON) -> list[str]:
    """One coherent response: the nodes folded together as the table says (host -> folded nodes, in the
    order they join), every other node on a card of its own; cards ranked critical first, then by nodes.toml
    [composition] rank."""
    problems: list[str] = []
    folded = {node for parts in composed.values() for node in parts}
    want_cards = sorted([(host, *parts) for host, parts in composed.items()]
                        + [(node,) for node in expected if node not in composed and node not in folded])
    got_cards = sorted(tuple(carried(card)) for card in response.get("cards", []))
    if got_cards != want_cards:
        problems.append(f"{tag}: cards (own node, folded nodes) expected {want_cards}; got {got_cards}")
    spec = pathway_spec()
    severity = {"critical": 0, "warning": 1, "info": 2}
    keys = [(severity.get(c.get("indicator"), 9), spec.rank_of(carried(c)[0])) for c in response.get("cards", [])]
    if keys != sorted(keys):
        problems.append(f"{tag}: cards are not ranked critical first, then by [composition] rank: {node_ids(response)}")
    return problems


def check_response(patient: str, hook: str, request: JSON, response: JSON, today: date) -> list[str]:
    expected = EXPECTED[patient][hook]
    tag = f"{patient} {hook}"
    if not expected:
        return (
            []
            if response == {"cards": []}
            else [
                f'{tag}: expected exactly {{"cards": []}}; got nodes {node_ids(response)}'
                + (f" and extension {list(response.get('extension', {}))}" if response.get("extension") else "")
            ]
        )
    problems: list[str] = []
    ids = [node for card in response.get("cards", []) for node in carried(card)]
    duplicates = [n for n, count in Counter(ids).items() if count > 1]
    if duplicates:
        problems.append(f"{tag}: duplicate cards for node(s) {duplicates}")
    problems += check_composition(tag, expected, COMPOSED.get((patient, hook), {}), response)
    if set(ids) != set(expected):
        problems.append(
            f"{tag}: nodes expected {sorted(expected)}; got {sorted(set(ids))} "
            f"(missing {sorted(set(expected) - set(ids))}, unexpected {sorted(set(ids) - set(expected))})"
        )
    if response.get("extension"):
        problems.append(f"{tag}: the fixture is valid, yet the response reports data issues {response['extension']}")
    known, drafts = _request_ids(request)
    active = _active_order_codes(request)
    uuids = Counter(c.get("uuid") for c in response.get("cards", []))
    uuids.update(s.get("uuid") for c in response.get("cards", []) for s in c.get("suggestions", []))
    if any(count > 1 for count in uuids.values()):
        problems.append(f"{tag}: card/suggestion uuids are not unique")
    indicators = carried_nodes(response)
    for card in response.get("cards", []):
        node = ((card.get("source") or {}).get("topic") or {}).get("code", "?")
        where = f"{tag} {node}"
        for each in carried(card):
            if each in expected and indicators[each] != expected[each]:
                which = "" if each == node else f" of {each}"
                problems.append(f"{where}: indicator{which} expected {expected[each]!r}; got {indicators[each]!r}")
        problems += _check_common(where, card, patient, request, drafts, known, active)
        for each in carried(card):  # what a node's suggestions must do, on the card that carries them
            detail = DETAILS.get((patient, hook, each))
            if detail:
                problems += _check_detail(f"{where} ({each})" if each != node else where, detail, card, today)
    return problems
