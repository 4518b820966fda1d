"""FhirClient itself: bounded parallelism, pooled connections, its lifecycle, no token in its repr."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from cds_service.gathering.fhir_client import FetchResult, FhirClient
from tests.support.gathering_stub_server import Answer, stub_fhir_server

QUERIES = {f"key-{i}": f"Observation?patient=p&code=c{i}" for i in range(12)}


def _slow(path: str, base: str) -> Answer:
    return Answer(delay=0.1)


@pytest.mark.parametrize("max_parallel", [1, 3])
def test_parallel_calls_are_bounded_by_max_parallel(max_parallel):
    client = FhirClient(connect_timeout=5, read_timeout=5, max_parallel=max_parallel)
    try:
        with stub_fhir_server(_slow) as stub:
            results = client.fetch_all(stub.base_url, QUERIES)
            assert stub.most_in_flight == max_parallel
    finally:
        client.close()
    assert all(isinstance(result, FetchResult) for result in results.values())


def test_the_bound_holds_across_concurrent_hook_calls():
    client = FhirClient(connect_timeout=5, read_timeout=5, max_parallel=4)
    try:
        with stub_fhir_server(_slow) as stub, ThreadPoolExecutor(3) as callers:
            outcomes = list(callers.map(lambda _: client.fetch_all(stub.base_url, QUERIES), range(3)))
            assert stub.most_in_flight <= 4
            assert len(stub.seen) == 3 * len(QUERIES)
    finally:
        client.close()
    assert all(set(outcome) == set(QUERIES) for outcome in outcomes)


def test_connections_are_pooled_and_reused():
    client = FhirClient(connect_timeout=5, read_timeout=5, max_parallel=2)
    try:
        with stub_fhir_server() as stub:
            for _ in range(3):
                client.fetch_all(stub.base_url, QUERIES)
            connections = {entry["client"] for entry in stub.seen}
    finally:
        client.close()
    assert len(stub.seen) == 3 * len(QUERIES)
    assert len(connections) <= 2


def test_a_closed_client_refuses_work():
    client = FhirClient()
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.fetch_all("http://127.0.0.1:9/fhir", {"patient": "Patient/p"})


def test_nothing_to_fetch_makes_no_call():
    client = FhirClient()
    try:
        assert client.fetch_all("http://127.0.0.1:9/fhir", {}) == {}
    finally:
        client.close()


@pytest.mark.parametrize(
    "options",
    [{"connect_timeout": 0}, {"read_timeout": -1}, {"max_pages": 0}, {"max_parallel": 0}],
)
def test_invalid_options_name_themselves(options):
    with pytest.raises(ValueError, match="|".join(options)):
        FhirClient(**options)


def test_token_is_sent_but_never_shown():
    token = "tok-client-77ab31"
    client = FhirClient(connect_timeout=5, read_timeout=5)
    try:
        with stub_fhir_server() as stub:
            client.fetch_all(stub.base_url, {"k": "Condition?patient=p"}, access_token=token)
            assert stub.seen[0]["authorization"] == f"Bearer {token}"
    finally:
        client.close()
    assert token not in repr(client)
