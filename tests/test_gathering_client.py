"""FhirClient itself: bounded parallelism per call, pooled connections, its lifecycle, no token in its repr,
and the `on_request` observer."""

from __future__ import annotations

import asyncio

import pytest

from cds_service.gathering.fhir_client import OUTCOMES, FetchFailed, FetchResult, FhirClient
from tests.support.gathering_stub_server import Answer, refused_url, stub_fhir_server

QUERIES = {f"key-{i}": f"Observation?patient=p&code=c{i}" for i in range(12)}


def _slow(path: str, base: str) -> Answer:
    return Answer(delay=0.1)


@pytest.mark.parametrize("max_parallel", [1, 3])
def test_parallel_requests_of_a_call_are_bounded_by_max_parallel(max_parallel):
    client = FhirClient(connect_timeout=5, read_timeout=5, max_parallel=max_parallel)
    try:
        with stub_fhir_server(_slow) as stub:
            results = asyncio.run(client.fetch_all(stub.base_url, QUERIES))
            assert stub.most_in_flight == max_parallel
    finally:
        client.close()
    assert all(isinstance(result, FetchResult) for result in results.values())


def test_every_key_of_a_call_is_in_flight_at_once_by_default():
    """One round trip for a call without prefetch: the default bound is above the number of keys."""
    client = FhirClient(connect_timeout=5, read_timeout=5)
    try:
        with stub_fhir_server(_slow) as stub:
            asyncio.run(client.fetch_all(stub.base_url, QUERIES))
            assert stub.most_in_flight == len(QUERIES)
    finally:
        client.close()


def test_the_bound_is_per_call_so_calls_do_not_queue_behind_each_other():
    client = FhirClient(connect_timeout=5, read_timeout=5, max_parallel=4)

    async def three_calls(base_url: str) -> list[dict]:
        return list(await asyncio.gather(*(client.fetch_all(base_url, QUERIES) for _ in range(3))))

    try:
        with stub_fhir_server(_slow) as stub:
            outcomes = asyncio.run(three_calls(stub.base_url))
            assert 4 < stub.most_in_flight <= 3 * 4
            assert len(stub.seen) == 3 * len(QUERIES)
    finally:
        client.close()
    assert all(set(outcome) == set(QUERIES) for outcome in outcomes)


def test_connections_are_pooled_and_reused():
    client = FhirClient(connect_timeout=5, read_timeout=5, max_parallel=2)

    async def three_calls(base_url: str) -> None:
        for _ in range(3):
            await client.fetch_all(base_url, QUERIES)

    try:
        with stub_fhir_server() as stub:
            asyncio.run(three_calls(stub.base_url))
            connections = {entry["client"] for entry in stub.seen}
    finally:
        client.close()
    assert len(stub.seen) == 3 * len(QUERIES)
    assert len(connections) <= 2


def test_a_client_works_across_event_loops():
    """Tools and tests run one `asyncio.run` after another with one client."""
    client = FhirClient(connect_timeout=5, read_timeout=5)
    try:
        with stub_fhir_server() as stub:
            for _ in range(3):
                results = asyncio.run(client.fetch_all(stub.base_url, {"k": "Condition?patient=p"}))
                assert isinstance(results["k"], FetchResult)
    finally:
        client.close()


def test_a_closed_client_refuses_work():
    client = FhirClient()
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(client.fetch_all("http://127.0.0.1:9/fhir", {"patient": "Patient/p"}))


def test_aclose_closes_and_refuses_work():
    client = FhirClient(connect_timeout=5, read_timeout=5)

    async def use_then_close(base_url: str) -> None:
        await client.fetch_all(base_url, {"k": "Condition?patient=p"})
        await client.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await client.fetch_all(base_url, {"k": "Condition?patient=p"})

    with stub_fhir_server() as stub:
        asyncio.run(use_then_close(stub.base_url))


def test_nothing_to_fetch_makes_no_call():
    client = FhirClient()
    try:
        assert asyncio.run(client.fetch_all("http://127.0.0.1:9/fhir", {})) == {}
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
            asyncio.run(client.fetch_all(stub.base_url, {"k": "Condition?patient=p"}, access_token=token))
            assert stub.seen[0]["authorization"] == f"Bearer {token}"
    finally:
        client.close()
    assert token not in repr(client)


def test_no_token_sends_no_authorization_header():
    client = FhirClient(connect_timeout=5, read_timeout=5)
    try:
        with stub_fhir_server() as stub:
            asyncio.run(client.fetch_all(stub.base_url, {"k": "Condition?patient=p"}))
            assert stub.seen[0]["authorization"] is None
    finally:
        client.close()


def test_on_request_sees_one_label_per_request_and_never_a_url():
    seen: list[tuple[str, float]] = []
    client = FhirClient(connect_timeout=5, read_timeout=0.3, on_request=lambda label, seconds: seen.append((label, seconds)))

    def behaviour(path: str, base: str) -> Answer:
        if "code=ok" in path:
            return Answer()
        if "code=page" in path:  # two pages: two requests
            if "page=2" in path:
                return Answer()
            return Answer(body={"resourceType": "Bundle", "type": "searchset",
                                "link": [{"relation": "next", "url": f"{base}/Observation?code=page&page=2"}]})
        if "code=fail" in path:
            return Answer(status=500, body="")
        if "code=slow" in path:
            return Answer(delay=1.0)
        return Answer(body="not json")

    queries = {"a": "Observation?code=ok", "b": "Observation?code=page", "c": "Observation?code=fail",
               "d": "Observation?code=slow", "e": "Observation?code=junk"}
    try:
        with stub_fhir_server(behaviour) as stub:
            results = asyncio.run(client.fetch_all(stub.base_url, queries))
            unreachable = asyncio.run(client.fetch_all(refused_url(), {"f": "Observation?code=ok"}))
    finally:
        client.close()
    assert isinstance(unreachable["f"], FetchFailed)
    assert sorted(label for label, _ in seen) == sorted(["ok", "ok", "ok", "http_error", "timeout", "invalid",
                                                         "unreachable"])
    assert all(label in OUTCOMES and seconds >= 0 for label, seconds in seen)
    assert {key for key, result in results.items() if isinstance(result, FetchResult)} == {"a", "b"}


def test_a_failing_observer_does_not_fail_the_call():
    def broken(label: str, seconds: float) -> None:
        raise ZeroDivisionError

    client = FhirClient(connect_timeout=5, read_timeout=5, on_request=broken)
    try:
        with stub_fhir_server() as stub:
            results = asyncio.run(client.fetch_all(stub.base_url, {"k": "Condition?patient=p"}))
    finally:
        client.close()
    assert isinstance(results["k"], FetchResult)


@pytest.fixture
def no_proxy_settings(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_requests_go_through_the_proxy_the_environment_names(no_proxy_settings):
    """Hospitals reach their FHIR servers through HTTP(S)_PROXY; the client honours it (and NO_PROXY)."""
    with stub_fhir_server() as proxy:
        no_proxy_settings.setenv("HTTP_PROXY", proxy.base_url.removesuffix("/fhir"))
        client = FhirClient(connect_timeout=5, read_timeout=5)
        try:
            results = asyncio.run(client.fetch_all("http://fhir.hospital.invalid/fhir", {"k": "Condition?patient=p"}))
        finally:
            client.close()
        assert isinstance(results["k"], FetchResult)
        assert proxy.seen[0]["path"] == "http://fhir.hospital.invalid/fhir/Condition?patient=p"

        no_proxy_settings.setenv("NO_PROXY", "hospital.invalid")
        client = FhirClient(connect_timeout=5, read_timeout=5)
        try:
            results = asyncio.run(client.fetch_all("http://fhir.hospital.invalid/fhir", {"k": "Condition?patient=p"}))
        finally:
            client.close()
        assert isinstance(results["k"], FetchFailed)  # straight to a host that does not exist
        assert len(proxy.seen) == 1
