"""Time of gather() for a prefetch-less patient-view call, and the fetch-mode figure of issue 9.

    python benchmarks/gathering_bench.py [--runs N] [--per-type K] [--page-size P] [--latency S]

Loads one patient with about 8*K resources (K=20: 160 and the Patient) that every prefetch query matches
into the real in-memory FHIR server, and times gather() with no prefetch (every key fetched, `next` links
followed) against:
- the real server (its own search cost included: a linear scan per query, single-threaded Node);
- a canned-answer server giving the same pages at once (the client's own cost);
- the canned-answer server adding `--latency` (50 ms) to every request. The fetch-mode figure: total gathering
  time over the time of the slowest single query alone (its pages included), median of N runs each. All
  keys are fetched at once, so it stays near 1 (issue 9's target: at most 1.3);
(the canned-answer server runs in a process of its own, as a FHIR server would: in this process its threads
would compete with the client for the GIL);
- the same data handed over as prefetch (no HTTP).
Needs node (tests/fhir_server; `npm ci` is run when node_modules is absent).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cds_service.gathering.fhir_client import FhirClient, next_link  # noqa: E402
from cds_service.gathering.gather import gather  # noqa: E402
from cds_service.gathering.prefetch import render_template, token_values  # noqa: E402
from cds_service.protocol.parse import parse_hook_request  # noqa: E402
from cds_service.services import fetch_query, prefetch_keys, prefetch_templates, undated_query  # noqa: E402
from tests.support.gathering_data import bulk_patient  # noqa: E402
from tests.support.gathering_fhir_server import running_fhir_server  # noqa: E402
from benchmarks.bench_support import stub_server_process  # noqa: E402
from tests.support.gathering_stub_server import Answer  # noqa: E402

HOOK_INSTANCE = "0d6c1f8e-1b2a-4c3d-9e8f-7a6b5c4d3e2f"
TOKEN = "bench-token"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--per-type", type=int, default=20)
    parser.add_argument("--page-size", type=int, default=20, help="server page size of searches without _count")
    parser.add_argument("--parallel", type=int, default=32, help="FhirClient max_parallel (CDS_FHIR_MAX_PARALLEL)")
    parser.add_argument("--max-pages", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the slow server adds per request")
    args = parser.parse_args()

    node = shutil.which("node")
    if node is None:
        print("node is not installed; the benchmark needs tests/fhir_server", file=sys.stderr)
        return 2
    data = bulk_patient(per_type=args.per_type)
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": HOOK_INSTANCE,
        "context": {"userId": "Practitioner/bench", "patientId": data.patient_id},
        "fhirAuthorization": {"access_token": TOKEN, "token_type": "Bearer"},
    }
    client = FhirClient(connect_timeout=3.05, read_timeout=10, max_pages=args.max_pages, max_parallel=args.parallel)
    with running_fhir_server(node, page_size=args.page_size) as server:
        server.load(data.resources)
        body["fhirServer"] = server.base_url
        request, context = parse_hook_request(body, "patient-view")
        times = _time_gather(body, context, client, args.runs, args.warmup)
        server.clear_requests()
        record = asyncio.run(_gather(body, context, client))
        http_calls = len(server.requests())
        canned = _record_answers(server.base_url, context)
        prefetch = _as_prefetch(server.base_url, context, client)
    given = {**body, "prefetch": prefetch}
    merge_times = _time_gather(given, context, client, args.runs, args.warmup)
    with stub_server_process(_Canned, canned, 0.0) as base_url:
        canned_times = _time_gather({**body, "fhirServer": base_url}, context, client, args.runs, args.warmup)
    with stub_server_process(_Canned, canned, args.latency) as base_url:
        slow_times = _time_gather({**body, "fhirServer": base_url}, context, client, args.runs, args.warmup)
        per_key = _time_each_key(base_url, context, client, args.runs)
    client.close()

    returned = sum(len(resources) for resources in record.resources.values()) + (record.patient is not None)
    print(f"resources loaded: {len(data.resources)}, returned per call: {returned}, "
          f"prefetch keys: {len(prefetch_templates())}, HTTP requests per call: {http_calls} "
          f"(page size {args.page_size}, max_parallel {args.parallel})")
    print(f"gather() against the real FHIR server: {_summary(times)}")
    print(f"gather() against a canned-answer server (same answers, no search cost): {_summary(canned_times)}")
    print(f"gather() with the same data as prefetch (no HTTP): median {statistics.median(merge_times):.2f} ms")
    slowest_key, slowest = max(per_key.items(), key=lambda item: item[1])
    total = statistics.median(slow_times)
    print(f"fetch mode, {args.latency * 1000:.0f} ms added per request: gather() median {total:.1f} ms; "
          f"slowest single query alone ({slowest_key}, {_pages(canned, context, slowest_key)} page(s)) "
          f"median {slowest:.1f} ms; ratio {total / slowest:.2f} (target <= 1.3)")
    return 0


async def _gather(body: dict[str, Any], context: Any, client: FhirClient) -> Any:
    request, _ = parse_hook_request(body, "patient-view")
    return await gather(request, context, client)


def _time_gather(body: dict[str, Any], context: Any, client: FhirClient, runs: int, warmup: int) -> list[float]:
    async def timed() -> list[float]:
        for _ in range(warmup):
            await _gather(body, context, client)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            await _gather(body, context, client)
            times.append((time.perf_counter() - start) * 1000)
        return sorted(times)

    return asyncio.run(timed())


def _time_each_key(base_url: str, context: Any, client: FhirClient, runs: int) -> dict[str, float]:
    """Median ms of each query fetched alone (all its pages), on one warm connection pool."""
    queries = _queries(context)

    async def timed() -> dict[str, float]:
        medians = {}
        for key, query in queries.items():
            await client.fetch_all(base_url, {key: query}, access_token=TOKEN)
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                await client.fetch_all(base_url, {key: query}, access_token=TOKEN)
                times.append((time.perf_counter() - start) * 1000)
            medians[key] = statistics.median(times)
        return medians

    return asyncio.run(timed())


def _summary(times: list[float]) -> str:
    return (f"median {statistics.median(times):.1f} ms, p90 {times[int(0.9 * (len(times) - 1))]:.1f} ms, "
            f"min {times[0]:.1f} ms, max {times[-1]:.1f} ms")


def _queries(context: Any) -> dict[str, str]:
    """The queries gather() sends for a prefetch-less call today: each key's template with its date window,
    and for a windowed key its search for records without that date (gather.py names it `<key>+undated`)."""
    from datetime import date  # noqa: PLC0415

    from cds_service.guideline.config import load_pathway_config  # noqa: PLC0415

    values, config, today = token_values(context), load_pathway_config(), date.today()
    queries = {}
    for spec in prefetch_keys():
        rendered = render_template(spec.template, values)
        queries[spec.key] = fetch_query(spec, rendered, today, config)
        undated = undated_query(spec, rendered)
        if undated is not None:
            queries[f"{spec.key}+undated"] = undated
    return queries


def _record_answers(base_url: str, context: Any) -> dict[str, bytes]:
    """Path+query -> body of every page the real server gives for our queries."""
    import requests  # noqa: PLC0415

    root = base_url.rsplit("/fhir", 1)[0]
    answers: dict[str, bytes] = {}
    with requests.Session() as http:
        for query in _queries(context).values():
            url: str | None = f"{base_url}/{query}"
            while url:
                response = http.get(url)
                answers[unquote(url[len(root):])] = response.content
                url = next_link(response.json())
    return {path: body.replace(root.encode(), b"{{ROOT}}") for path, body in answers.items()}


def _pages(canned: dict[str, bytes], context: Any, key: str) -> int:
    """How many pages the key's query has (its `next` links followed through the recorded answers)."""
    path: str | None = unquote(f"/fhir/{_queries(context)[key]}")
    pages = 0
    while path is not None:
        pages += 1
        link = next_link(json.loads(canned[path]))
        path = None if link is None else unquote(link.replace("{{ROOT}}", ""))
    return pages


class _Canned:
    """The recorded pages, each after `latency` seconds."""

    def __init__(self, canned: dict[str, bytes], latency: float) -> None:
        self.canned = canned
        self.latency = latency

    def __call__(self, path: str, stub_base: str) -> Answer:
        root = stub_base.rsplit("/fhir", 1)[0]
        return Answer(body=self.canned[unquote(path)].replace(b"{{ROOT}}", root.encode()), delay=self.latency)


def _as_prefetch(base_url: str, context: Any, client: FhirClient) -> dict[str, Any]:
    """Each key's answer as one searchset Bundle (the Patient as the resource), fetched once."""
    results = asyncio.run(client.fetch_all(base_url, _queries(context), access_token=TOKEN))
    prefetch: dict[str, Any] = {}
    for key, result in results.items():
        if key == "patient":
            prefetch[key] = result.pages[0]
            continue
        entries = [entry for page in result.pages for entry in page.get("entry", [])]
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    return prefetch


if __name__ == "__main__":
    raise SystemExit(main())
