"""Prefetch resolution, template rendering and merging, without a server (a fake client records fetches)."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from cds_service.errors import DataUnavailable
from cds_service.gathering.fhir_client import FetchFailed, FetchResult
from cds_service.gathering.gather import NO_FHIR_SERVER, NO_FHIR_SERVER_FOR_PAGES, gather
from cds_service.gathering.prefetch import (
    TemplateError,
    ValueKind,
    classify,
    is_read,
    render_template,
    token_values,
)
from cds_service.guideline.config import load_pathway_config
from cds_service.protocol.parse import parse_hook_request
from cds_service.protocol.request import PatientViewContext
from cds_service.services import prefetch_keys, prefetch_templates

PATIENT_ID = "pt-unit-9"
TOKEN = "tok-unit-5e2a7f"
HOOK_INSTANCE = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
TEMPLATES = dict(prefetch_templates())
KEYS = list(TEMPLATES)
SEARCH_KEYS = [key for key in KEYS if key != "patient"]
OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
TODAY = date(2027, 6, 15)
WINDOWED = {spec.key: spec.window for spec in prefetch_keys() if spec.window is not None}


class FakeClient:
    """Answers every query with the Bundle (or FetchFailed) the test gives for its key; records calls."""

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple[str, dict[str, str], str | None]] = []
        self.continued: dict[str, str] = {}

    async def fetch_all(self, base_url: str, queries: dict[str, str], *, access_token: str | None = None,
                        continuations: dict[str, str] | None = None, deadline: Any = None):
        self.calls.append((base_url, dict(queries), access_token))
        self.continued.update(continuations or {})
        results: dict[str, Any] = {}
        for key in [*queries, *(continuations or {})]:
            answer = self.answers.get(key, searchset())
            if isinstance(answer, FetchFailed):
                results[key] = answer
            elif answer is None:
                results[key] = FetchResult(pages=(), not_found=True)
            else:
                pages = answer if isinstance(answer, tuple) else (answer,)
                results[key] = FetchResult(pages=pages)
        return results

    def fetched_keys(self) -> set[str]:
        return {key for _, queries, _ in self.calls for key in queries}


def searchset(*resources: dict[str, Any], outcome_entries: int = 0) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [{"resource": r, "search": {"mode": "match"}} for r in resources]
    entries += [{"resource": OUTCOME, "search": {"mode": "outcome"}} for _ in range(outcome_entries)]
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if entries:
        bundle["entry"] = entries
    return bundle


def condition(resource_id: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "id": resource_id, "subject": {"reference": f"Patient/{PATIENT_ID}"},
            **extra}


def body(prefetch: dict[str, Any] | None, *, hook: str = "patient-view", server: bool = True,
         context: dict[str, Any] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "hook": hook,
        "hookInstance": HOOK_INSTANCE,
        "context": context or {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID},
    }
    if server:
        request["fhirServer"] = "https://ehr.example.org/fhir/"
        request["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer"}
    if prefetch is not None:
        request["prefetch"] = prefetch
    return request


def run(request_body: dict[str, Any], client: FakeClient, **windows: Any):
    request, context = parse_hook_request(request_body, request_body["hook"])
    return asyncio.run(gather(request, context, client, today=TODAY, **windows))  # type: ignore[arg-type]


def full_prefetch() -> dict[str, Any]:
    prefetch: dict[str, Any] = {key: searchset() for key in SEARCH_KEYS}
    prefetch["patient"] = {"resourceType": "Patient", "id": PATIENT_ID}
    return prefetch


# --- template rendering ---------------------------------------------------------------------------------


def test_tokens_from_context_and_user():
    context = PatientViewContext(userId="PractitionerRole/role-1", patientId="p.1-x", encounterId="enc-2")
    values = token_values(context)
    assert values["context.patientId"] == "p.1-x"
    assert values["context.encounterId"] == "enc-2"
    assert values["context.userId"] == "PractitionerRole%2Frole-1"
    assert values["userPractitionerRoleId"] == "role-1"
    assert "userPractitionerId" not in values


@pytest.mark.parametrize(
    ("user", "token"),
    [("Practitioner/a", "userPractitionerId"), ("Patient/b", "userPatientId"),
     ("RelatedPerson/c", "userRelatedPersonId"), ("PractitionerRole/d", "userPractitionerRoleId")],
)
def test_user_tokens(user, token):
    values = token_values({"userId": user, "patientId": "p"})
    assert values[token] == user.split("/")[1]


def test_only_root_level_primitives_are_tokens():
    values = token_values({"userId": "Practitioner/a", "patientId": "p", "draftOrders": {"resourceType": "Bundle"},
                           "selections": ["ServiceRequest/1"], "flag": True, "count": 3})
    assert "context.draftOrders" not in values and "context.selections" not in values
    assert values["context.flag"] == "true" and values["context.count"] == "3"


def test_values_are_url_encoded():
    values = token_values({"userId": "Practitioner/a", "patientId": "a b&c=d/e?f#g|h"})
    rendered = render_template("Condition?patient={{context.patientId}}", values)
    assert rendered == "Condition?patient=a%20b%26c%3Dd%2Fe%3Ff%23g%7Ch"


def test_render_allows_spaces_and_repeats():
    values = {"context.patientId": "p1", "userPractitionerId": "doc"}
    template = "Observation?patient={{ context.patientId }}&performer={{userPractitionerId}}&x={{context.patientId}}"
    assert render_template(template, values) == "Observation?patient=p1&performer=doc&x=p1"


def test_unknown_token_names_the_token_not_a_value():
    with pytest.raises(TemplateError, match=r"\{\{context.encounterId\}\}"):
        render_template("Encounter/{{context.encounterId}}", {"context.patientId": "secret-p"})


def test_service_templates_render_for_a_real_context():
    values = token_values(PatientViewContext(userId="Practitioner/x", patientId=PATIENT_ID))
    for key, template in prefetch_templates():
        rendered = render_template(template, values)
        assert "{{" not in rendered, key
        if key != "patient":
            assert f"patient={PATIENT_ID}&" in rendered or rendered.endswith(f"patient={PATIENT_ID}"), key
    assert is_read(render_template(TEMPLATES["patient"], values))
    assert not is_read(render_template(TEMPLATES[SEARCH_KEYS[0]], values))


# --- classifying prefetch values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, ValueKind.NO_DATA),
        ({"resourceType": "Patient", "id": "p"}, ValueKind.DATA),
        (searchset(), ValueKind.DATA),
        (searchset(condition("c1"), outcome_entries=1), ValueKind.DATA),
        (OUTCOME, ValueKind.FAILED),
        (searchset(outcome_entries=2), ValueKind.FAILED),
        ({"resourceType": "Bundle", "type": "batch-response",
          "entry": [{"response": {"status": "500", "outcome": OUTCOME}}]}, ValueKind.FAILED),
        ({"resourceType": "Bundle", "entry": [{"search": {"mode": "outcome"}, "resource": {"resourceType": "Basic"}}]},
         ValueKind.FAILED),
        ({"response": {"status": "200 OK"}, "resource": {"resourceType": "Patient"}}, ValueKind.NOT_FHIR),
        ({}, ValueKind.NOT_FHIR),
        ([{"resourceType": "Patient"}], ValueKind.NOT_FHIR),
        ("Patient/p", ValueKind.NOT_FHIR),
        (42, ValueKind.NOT_FHIR),
    ],
)
def test_classify(value, kind):
    assert classify({"k": value}, "k").kind is kind


def test_absent_key_and_absent_prefetch_are_missing():
    assert classify({}, "k").kind is ValueKind.MISSING
    assert classify(None, "k").kind is ValueKind.MISSING


# --- gather: which keys are fetched ---------------------------------------------------------------------


def test_full_prefetch_fetches_nothing():
    client = FakeClient()
    record = run(body(full_prefetch()), client)
    assert client.calls == []
    assert record.patient == {"resourceType": "Patient", "id": PATIENT_ID}


def test_full_prefetch_needs_no_fhir_server():
    record = run(body(full_prefetch(), server=False), FakeClient())
    assert record.patient is not None and record.issues == []


def test_null_keys_mean_no_data():
    client = FakeClient()
    record = run(body({key: None for key in KEYS}), client)
    assert client.calls == [] and record.patient is None and record.resources == {}


def test_missing_keys_are_fetched_with_rendered_queries_and_token():
    prefetch = full_prefetch()
    missing_key = SEARCH_KEYS[-1]
    del prefetch[missing_key], prefetch["patient"]
    client = FakeClient({missing_key: searchset(condition("c-fetched"))})
    record = run(body(prefetch), client)
    assert len(client.calls) == 1
    base, queries, token = client.calls[0]
    assert base == "https://ehr.example.org/fhir"
    assert token == TOKEN
    assert missing_key == "procedures"
    assert queries == {
        "patient": f"Patient/{PATIENT_ID}",
        # imaging_history_days (730) before TODAY
        missing_key: TEMPLATES[missing_key].replace("{{context.patientId}}", PATIENT_ID) + "&date=ge2025-06-15",
        # and the records the date search cannot match (no performed[x] at all)
        f"{missing_key}+undated": TEMPLATES[missing_key].replace("{{context.patientId}}", PATIENT_ID)
        + "&date:missing=true",
    }
    assert [c["id"] for c in record.of_type("Condition")] == ["c-fetched"]


def test_no_authorization_means_no_token():
    request = body(None)
    del request["fhirAuthorization"]
    client = FakeClient()
    run(request, client)
    assert client.calls[0][2] is None


def test_operation_outcome_prefetch_is_fetched():
    prefetch = full_prefetch()
    prefetch[SEARCH_KEYS[0]] = OUTCOME
    prefetch[SEARCH_KEYS[1]] = searchset(outcome_entries=1)
    client = FakeClient()
    record = run(body(prefetch), client)
    # lab-results is windowed: it also asks for its records without a date (`date:missing=true`)
    assert client.fetched_keys() == {SEARCH_KEYS[0], SEARCH_KEYS[1], f"{SEARCH_KEYS[1]}+undated"}
    assert record.issues == []  # a client reporting its own failure is protocol, not bad input


def test_junk_prefetch_is_an_issue_and_is_fetched():
    prefetch = full_prefetch()
    prefetch["patient"] = {"response": {"status": "200 OK"}, "resource": {"resourceType": "Patient", "id": PATIENT_ID}}
    prefetch[SEARCH_KEYS[0]] = ["not", "a", "resource"]
    client = FakeClient({"patient": {"resourceType": "Patient", "id": PATIENT_ID, "gender": "male"}})
    record = run(body(prefetch), client)
    assert client.fetched_keys() == {"patient", SEARCH_KEYS[0]}
    assert record.patient == {"resourceType": "Patient", "id": PATIENT_ID, "gender": "male"}
    wheres = {issue.where: issue.problem for issue in record.issues}
    assert "Bundle entry" in wheres["prefetch.patient"]
    assert "array" in wheres[f"prefetch.{SEARCH_KEYS[0]}"]
    assert all(PATIENT_ID not in str(issue.to_json()) for issue in record.issues)


def test_junk_prefetch_without_fhir_server_is_412():
    prefetch = full_prefetch()
    prefetch[SEARCH_KEYS[0]] = "junk"
    with pytest.raises(DataUnavailable) as raised:
        run(body(prefetch, server=False), FakeClient())
    assert raised.value.extra["missing"] == {SEARCH_KEYS[0]: NO_FHIR_SERVER}


def test_other_services_keys_are_ignored():
    prefetch = full_prefetch()
    prefetch["item1"] = {"resourceType": "CarePlan", "id": "cp"}
    prefetch["item2"] = "junk"
    client = FakeClient()
    record = run(body(prefetch), client)
    assert client.calls == [] and record.resources == {} and record.issues == []


def test_failures_are_collected_for_every_key():
    client = FakeClient({key: FetchFailed("FHIR server answered 500") for key in SEARCH_KEYS})
    with pytest.raises(DataUnavailable) as raised:
        run(body(None), client)
    assert raised.value.extra["missing"] == {key: "FHIR server answered 500" for key in SEARCH_KEYS}
    assert raised.value.status_code == 412


def test_patient_not_found_is_no_data():
    record = run(body(None), FakeClient({"patient": None}))
    assert record.patient is None


# --- merging --------------------------------------------------------------------------------------------


def test_resources_are_grouped_and_deduplicated_by_type_and_id():
    shared = condition("c-shared")
    prefetch = full_prefetch()
    prefetch[SEARCH_KEYS[0]] = searchset(shared, condition("c-a"))
    del prefetch[SEARCH_KEYS[1]]
    observation = {"resourceType": "Observation", "id": "c-shared", "status": "final", "code": {"text": "x"},
                   "subject": {"reference": f"Patient/{PATIENT_ID}"}}
    client = FakeClient({SEARCH_KEYS[1]: searchset(copy.deepcopy(shared), observation)})
    record = run(body(prefetch), client)
    assert [c["id"] for c in record.of_type("Condition")] == ["c-shared", "c-a"]
    assert [o["id"] for o in record.of_type("Observation")] == ["c-shared"]  # same id, other type: kept


def test_outcome_entries_are_skipped_and_include_entries_kept():
    bundle = searchset(condition("c1"), outcome_entries=1)
    encounter = {"resourceType": "Encounter", "id": "e1", "subject": {"reference": f"Patient/{PATIENT_ID}"}}
    bundle["entry"].append({"resource": encounter, "search": {"mode": "include"}})
    prefetch = full_prefetch()
    prefetch[SEARCH_KEYS[0]] = bundle
    record = run(body(prefetch), FakeClient())
    assert set(record.resources) == {"Condition", "Encounter"}
    assert "OperationOutcome" not in record.resources and record.issues == []


def test_wrong_type_for_key_is_kept_by_type():
    prefetch = full_prefetch()
    prefetch[SEARCH_KEYS[0]] = searchset({"resourceType": "MedicationRequest", "id": "m1", "subject": {"reference": f"Patient/{PATIENT_ID}"}})
    record = run(body(prefetch), FakeClient())
    assert [m["id"] for m in record.of_type("MedicationRequest")] == ["m1"]


def test_non_resource_entries_are_issues():
    prefetch = full_prefetch()
    prefetch[SEARCH_KEYS[0]] = {"resourceType": "Bundle", "type": "searchset", "entry": [
        "junk", {"fullUrl": "x"}, {"resource": {"id": "no-type"}}, {"resource": condition("c-ok")}]}
    record = run(body(prefetch), FakeClient())
    assert [c["id"] for c in record.of_type("Condition")] == ["c-ok"]
    assert [issue.where for issue in record.issues] == [
        f"prefetch.{SEARCH_KEYS[0]}.entry[0]", f"prefetch.{SEARCH_KEYS[0]}.entry[1]",
        f"prefetch.{SEARCH_KEYS[0]}.entry[2]"]


def test_paged_results_are_merged_in_order():
    pages = (searchset(condition("c1")), searchset(condition("c2")), searchset(condition("c1")))
    prefetch = full_prefetch()
    del prefetch[SEARCH_KEYS[0]]
    record = run(body(prefetch), FakeClient({SEARCH_KEYS[0]: pages}))
    assert [c["id"] for c in record.of_type("Condition")] == ["c1", "c2"]


def test_a_paged_prefetch_bundle_is_continued_on_the_fhir_server():
    prefetch = full_prefetch()
    page_1 = searchset(condition("c1"))
    page_1["link"] = [{"relation": "next", "url": "https://ehr.example.org/fhir/Condition?page=2"}]
    prefetch[SEARCH_KEYS[0]] = page_1
    client = FakeClient({SEARCH_KEYS[0]: searchset(condition("c2"))})
    record = run(body(prefetch), client)
    assert client.continued == {SEARCH_KEYS[0]: "https://ehr.example.org/fhir/Condition?page=2"}
    assert client.calls[0][1] == {}  # nothing else fetched
    assert [c["id"] for c in record.of_type("Condition")] == ["c1", "c2"]


def test_a_paged_prefetch_bundle_without_fhir_server_is_412():
    prefetch = full_prefetch()
    prefetch[SEARCH_KEYS[0]] = {**searchset(condition("c1")), "link": [{"relation": "next", "url": "https://x/y"}]}
    with pytest.raises(DataUnavailable) as raised:
        run(body(prefetch, server=False), FakeClient())
    assert raised.value.extra["missing"] == {SEARCH_KEYS[0]: NO_FHIR_SERVER_FOR_PAGES}


def test_patient_read_as_a_bundle_and_another_patient_fails_the_call():
    prefetch = full_prefetch()
    prefetch["patient"] = searchset({"resourceType": "Patient", "id": PATIENT_ID})
    assert run(body(prefetch), FakeClient()).patient == {"resourceType": "Patient", "id": PATIENT_ID}
    for other in ({"resourceType": "Patient", "id": "someone-else"}, searchset({"resourceType": "Patient", "id": "x"})):
        prefetch["patient"] = other
        with pytest.raises(DataUnavailable) as raised:
            run(body(prefetch), FakeClient())
        assert raised.value.extra["missing"] == {
            "patient": "prefetch value: the Patient read answered another patient than context.patientId"}
        assert "someone-else" not in str(raised.value.body())


def test_patient_from_an_include_is_used_when_the_read_has_none():
    prefetch = full_prefetch()
    prefetch["patient"] = None
    bundle = searchset(condition("c1"))
    bundle["entry"].append({"resource": {"resourceType": "Patient", "id": PATIENT_ID}, "search": {"mode": "include"}})
    prefetch[SEARCH_KEYS[0]] = bundle
    assert run(body(prefetch), FakeClient()).patient == {"resourceType": "Patient", "id": PATIENT_ID}


def _draft(order_id: str) -> dict[str, Any]:
    return {"resourceType": "ServiceRequest", "id": order_id, "status": "draft", "intent": "order",
            "subject": {"reference": f"Patient/{PATIENT_ID}"}, "code": {"text": "x"}}


def test_order_select_draft_orders_and_selections():
    context = {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID,
               "draftOrders": {"resourceType": "Bundle", "type": "collection",
                               "entry": [{"resource": _draft("d1")}, {"resource": _draft("d2")}]},
               "selections": ["ServiceRequest/d2"]}
    record = run(body(full_prefetch(), hook="order-select", context=context), FakeClient())
    assert [d["id"] for d in record.draft_orders] == ["d1", "d2"]
    assert record.selections == ["ServiceRequest/d2"]
    assert record.of_type("ServiceRequest") == []  # drafts are not the patient's record


def test_order_sign_selects_every_draft():
    context = {"userId": "Practitioner/doc-1", "patientId": PATIENT_ID,
               "draftOrders": {"resourceType": "Bundle", "type": "collection",
                               "entry": [{"resource": _draft("d1")}, {"resource": _draft("d2")}]}}
    record = run(body(full_prefetch(), hook="order-sign", context=context), FakeClient())
    assert record.selections == ["ServiceRequest/d1", "ServiceRequest/d2"]
    assert len(record.draft_orders) == 2


def test_token_is_not_in_the_record_or_the_request_repr():
    request, context = parse_hook_request(body(None), "patient-view")
    record = asyncio.run(gather(request, context, FakeClient()))  # type: ignore[arg-type]
    assert TOKEN not in repr(request) and TOKEN not in str(request.model_dump())
    assert TOKEN not in repr(record)


# --- date windows and paged prefetch --------------------------------------------------------------------


def _fetched(prefetch: dict[str, Any] | None, **windows: Any) -> dict[str, str]:
    client = FakeClient()
    run(body(prefetch), client, **windows)
    return {key: query for _, queries, _ in client.calls for key, query in queries.items()}


def test_the_service_s_own_queries_carry_each_key_s_window():
    queries = _fetched(None)
    assert queries["lab-results"].endswith("&date=ge2027-03-17")  # 90 days: the longest lab lookback
    assert queries["laboratory"].endswith("&date=ge2027-03-17")
    assert queries["exam-results"].endswith("&date=ge2027-05-16")  # 30 days: probe-to-bone
    assert queries["imaging-studies"].endswith("&started=ge2025-06-15")  # imaging_history_days
    assert queries["radiology-reports"].endswith("&date=ge2025-06-15")
    for key in ("patient", "conditions", "active-orders"):  # read whatever their age
        assert "=ge" not in queries[key], key
    assert set(WINDOWED) == {key for key, query in queries.items() if "=ge" in query}


def test_windows_follow_the_pathway_configuration():
    config = replace(load_pathway_config(), lab_lookback_days=200, imaging_history_days=30)
    queries = _fetched(None, config=config)
    assert queries["laboratory"].endswith("&date=ge2026-11-27")
    assert queries["imaging-studies"].endswith("&started=ge2027-05-16")


def _page(key: str, *days: str | None, next_url: str = "https://ehr.example.org/fhir/x?page=2") -> dict[str, Any]:
    resource_type = {"imaging-studies": "ImagingStudy", "procedures": "Procedure"}.get(key, "Observation")
    element = {"ImagingStudy": "started", "Procedure": "performedDateTime"}.get(resource_type, "effectiveDateTime")
    resources = [
        {"resourceType": resource_type, "id": f"r{index}", **({element: day} if day else {})}
        for index, day in enumerate(days)
    ]
    bundle = searchset(*resources)
    bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def test_a_paged_answer_already_older_than_the_window_needs_no_more_pages():
    prefetch = full_prefetch()
    prefetch["laboratory"] = _page("laboratory", "2027-06-01", "2027-04-02T10:00:00+02:00", None, "2027-03-16")
    prefetch["imaging-studies"] = _page("imaging-studies", "2027-01-01", "2025-06-14")
    client = FakeClient()
    run(body(prefetch), client)
    # No later page of the EHR's, no windowed query: only the records the window's date cannot find, which
    # the EHR may have sorted onto the pages not sent.
    assert client.continued == {}
    assert set(client.fetched_keys()) == {"laboratory+undated", "imaging-studies+undated"}


def test_a_paged_answer_still_inside_the_window_is_completed_by_the_windowed_query():
    prefetch = full_prefetch()
    prefetch["laboratory"] = _page("laboratory", "2027-06-01", "2027-03-17")  # the window's first day
    prefetch["procedures"] = _page("procedures", "2024-01-01", "2027-01-01")  # not sorted newest first
    prefetch["exam-results"] = _page("exam-results", None)  # nothing dated
    client = FakeClient()
    run(body(prefetch), client)
    assert client.continued == {}  # the EHR's open-ended pages are not followed
    assert set(client.fetched_keys()) == {
        "laboratory", "procedures", "exam-results", "laboratory+undated", "procedures+undated", "exam-results+undated",
    }
    assert client.calls[0][1]["laboratory+undated"].endswith("&date:missing=true")
    assert client.calls[0][1]["laboratory"].endswith("&date=ge2027-03-17")


def test_a_paged_answer_of_a_key_without_a_window_is_continued():
    prefetch = full_prefetch()
    prefetch["active-orders"] = _page("active-orders", "2019-01-01")
    client = FakeClient()
    run(body(prefetch), client)
    assert client.continued == {"active-orders": "https://ehr.example.org/fhir/x?page=2"}
