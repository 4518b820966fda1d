from __future__ import annotations

from urllib.parse import unquote

from cds_service.services import MAX_QUERY_CHARS


def test_discovery_lists_one_service_per_hook(client):
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = response.json()["services"]
    assert sorted(s["hook"] for s in services) == ["order-select", "order-sign", "patient-view"]
    for service in services:
        assert service["id"] and service["description"] and service["title"]
        assert service["prefetch"], "each service asks for the data the pathway reads"


def test_prefetch_templates_cover_what_the_pathway_reads(client):
    prefetch = client.get("/cds-services").json()["services"][0]["prefetch"]
    queries = list(prefetch.values())
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    for resource in ("Condition", "Observation", "ImagingStudy", "DiagnosticReport", "ServiceRequest", "Procedure"):
        assert any(q.startswith(f"{resource}?patient={{{{context.patientId}}}}") for q in queries), resource
    assert any("ServiceRequest?" in q and "status=active" in q for q in queries)
    assert any("category=imaging" in q for q in queries)


def test_searches_are_code_filtered_and_short(client):
    prefetch = client.get("/cds-services").json()["services"][0]["prefetch"]
    # Two deliberate exceptions read what codes cannot find: text-only active problems, and radiology
    # reports under local codes (by category).
    unfiltered = {"active-conditions", "radiology-reports"}
    for key, query in prefetch.items():
        assert len(query) <= MAX_QUERY_CHARS, key
        if key in unfiltered:
            assert "clinical-status=active" in query or "category=" in query, key
        elif query.startswith(("Condition?", "DiagnosticReport?", "Procedure?")) or "status=active" in query:
            codes = unquote(query.split("&code=", 1)[1]).split(",")
            assert all("|" in token and token.split("|")[1] for token in codes), key


def test_discovery_has_no_nulls_or_empty_values(client):
    def walk(value, path="$"):
        assert value is not None and value != [] and value != {} and value != "", path
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")

    walk(client.get("/cds-services").json())


def test_override_reason_code_system_is_served(client):
    response = client.get("/override-reason")
    assert response.status_code == 200
    body = response.json()
    assert body["resourceType"] == "CodeSystem"
    assert body["url"] == "http://testserver/override-reason"
    assert all(concept["code"] and concept["display"] for concept in body["concept"])


def test_every_node_page_is_served_and_unknown_is_404(client):
    index = client.get("/pathway")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert client.get("/pathway/initial-radiograph").status_code == 200
    assert client.get("/pathway/no-such-node").status_code == 404
