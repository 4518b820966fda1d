from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote

from cds_service.services import MAX_QUERY_CHARS, encoded_length


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
    assert any("category=laboratory" in q for q in queries)


def _sandbox_url(base: str, template: str, patient_id: str) -> str:
    """What the CDS Hooks Sandbox requests: each query value decoded, then encodeURIComponent'd."""
    path, _, search = template.replace("{{context.patientId}}", patient_id).partition("?")
    if not search:
        return f"{base}/{path}"
    params = [(name, quote(unquote(value), safe="-_.!~*'()")) for name, value in parse_qsl(search)]
    return f"{base}/{path}?" + "&".join(f"{name}={value}" for name, value in params)


def test_searches_stay_short_after_the_sandbox_encodes_them(client):
    prefetch = client.get("/cds-services").json()["services"][0]["prefetch"]
    base = "https://launch.smarthealthit.org/v/r4/sim/eyJoIjoiMSJ9/fhir"
    for key, query in prefetch.items():
        assert encoded_length(query) <= MAX_QUERY_CHARS, key
        assert len(_sandbox_url(base, query, "p" * 64)) < 2000, key
        names = [name for name, _ in parse_qsl(query.partition("?")[2])]
        assert len(names) == len(set(names)), key  # the Sandbox parses repeated parameters into arrays


def test_code_filters_carry_system_and_code(client):
    prefetch = client.get("/cds-services").json()["services"][0]["prefetch"]
    filtered = {key: query for key, query in prefetch.items() if "&code=" in query}
    assert {key.rsplit("-", 1)[0] if key[-1].isdigit() else key for key in filtered} == {"lab-results", "imaging-reports"}
    for key, query in filtered.items():
        codes = unquote(query.split("&code=", 1)[1].split("&", 1)[0]).split(",")
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
