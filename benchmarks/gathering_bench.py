"""Time of gather() for a prefetch-less patient-view call against the real in-memory FHIR server.

    python benchmarks/gathering_bench.py [--runs N] [--per-type K] [--page-size P] [--parallel W]

Loads one patient with about 8*K resources (K=20: 160 and the Patient) that every prefetch query matches,
then times N calls of gather() with no prefetch (every key fetched, `next` links followed) and prints the
median and other percentiles in ms. Needs node (tests/fhir_server; `npm ci` is run when node_modules is absent).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import unquote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cds_service.gathering.fhir_client import FhirClient  # noqa: E402
from cds_service.gathering.gather import gather  # noqa: E402
from cds_service.protocol.parse import parse_hook_request  # noqa: E402
from cds_service.guideline.config import load_pathway_config  # noqa: E402
from cds_service.services import fetch_query, prefetch_keys, prefetch_templates  # noqa: E402
from tests.support.gathering_data import TODAY, bulk_patient  # noqa: E402
from tests.support.gathering_fhir_server import running_fhir_server  # noqa: E402

HOOK_INSTANCE = "0d6c1f8e-1b2a-4c3d-9e8f-7a6b5c4d3e2f"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--per-type", type=int, default=20)
    parser.add_argument("--page-size", type=int, default=20, help="server page size (and largest _count honoured)")
    parser.add_argument("--parallel", type=int, default=8, help="FhirClient max_parallel (CDS_FHIR_MAX_PARALLEL)")
    parser.add_argument("--max-pages", type=int, default=10)
    args = parser.parse_args()

    node = shutil.which("node")
    if node is None:
        print("node is not installed; the benchmark needs tests/fhir_server", file=sys.stderr)
        return 2
    data = bulk_patient(per_type=args.per_type)
    body = {
        "hook": "patient-view",
        "hookInstance": HOOK_INSTANCE,
        "context": {"userId": "Practitioner/bench", "patientId": data.patient_id},
        "fhirAuthorization": {"access_token": "bench-token", "token_type": "Bearer"},
    }
    with running_fhir_server(node, page_size=args.page_size) as server:
        server.load(data.resources)
        body["fhirServer"] = server.base_url
        request, context = parse_hook_request(body, "patient-view")
        client = FhirClient(connect_timeout=3.05, read_timeout=10, max_pages=args.max_pages,
                            max_parallel=args.parallel)
        try:
            for _ in range(args.warmup):
                gather(request, context, client, today=TODAY)
            server.clear_requests()
            times: list[float] = []
            for _ in range(args.runs):
                start = time.perf_counter()
                record = gather(request, context, client, today=TODAY)
                times.append((time.perf_counter() - start) * 1000)
            http_calls = len(server.requests()) / args.runs
            # The same data handed over as prefetch: what gather() itself costs, without HTTP or the
            # in-memory server's searches (a linear FHIRPath scan per query, single-threaded Node).
            prefetch = _as_prefetch(request, context, client)
            given, _ = parse_hook_request({**body, "prefetch": prefetch}, "patient-view")
            canned = _record_answers(server.base_url, request, context)
            merge_times: list[float] = []
            for _ in range(args.runs):
                start = time.perf_counter()
                gather(given, context, client, today=TODAY)
                merge_times.append((time.perf_counter() - start) * 1000)
            canned_times = _time_canned(canned, server.base_url, body, context, client, args.runs)
        finally:
            client.close()
    returned = sum(len(resources) for resources in record.resources.values()) + (record.patient is not None)
    times.sort()
    print(f"resources loaded: {len(data.resources)}, returned per call: {returned}, "
          f"prefetch keys: {len(prefetch_templates())}, HTTP requests per call: {http_calls:.0f} "
          f"(page size {args.page_size}, max_parallel {args.parallel})")
    print(f"gather() over {args.runs} runs: median {statistics.median(times):.1f} ms, "
          f"p90 {times[int(0.9 * (len(times) - 1))]:.1f} ms, min {times[0]:.1f} ms, max {times[-1]:.1f} ms")
    print(f"gather() against a canned-answer server (same answers, no search cost): "
          f"median {statistics.median(canned_times):.1f} ms")
    print(f"gather() with the same data as prefetch (no HTTP): median {statistics.median(merge_times):.2f} ms")
    return 0


def _record_answers(base_url: str, request, context) -> dict[str, bytes]:
    """Path+query -> body of every page the real server gives for our queries."""
    import requests  # noqa: PLC0415

    from cds_service.gathering.fhir_client import next_link  # noqa: PLC0415
    from cds_service.gathering.prefetch import render_template, token_values  # noqa: PLC0415

    values = token_values(context)
    root = base_url.rsplit("/fhir", 1)[0]
    answers: dict[str, bytes] = {}
    config = load_pathway_config()
    with requests.Session() as http:
        for spec in prefetch_keys():  # the queries gather() sends: templates with their date windows
            url: str | None = f"{base_url}/{fetch_query(spec, render_template(spec.template, values), TODAY, config)}"
            while url:
                response = http.get(url)
                answers[unquote(url[len(root):])] = response.content
                url = next_link(response.json())
    return {path: body.replace(root.encode(), b"{{ROOT}}") for path, body in answers.items()}


def _time_canned(canned: dict[str, bytes], base_url: str, body: dict, context, client, runs: int) -> list[float]:
    from tests.support.gathering_stub_server import Answer, stub_fhir_server  # noqa: PLC0415

    def answer(path: str, stub_base: str) -> Answer:
        root = stub_base.rsplit("/fhir", 1)[0]
        return Answer(body=canned[unquote(path)].replace(b"{{ROOT}}", root.encode()))

    with stub_fhir_server(answer) as stub:
        request, _ = parse_hook_request({**body, "fhirServer": stub.base_url}, "patient-view")
        gather(request, context, client, today=TODAY)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            gather(request, context, client, today=TODAY)
            times.append((time.perf_counter() - start) * 1000)
    return times


def _as_prefetch(request, context, client) -> dict:
    """Each key's answer as one searchset Bundle (the Patient as the resource), fetched once."""
    from cds_service.gathering.prefetch import render_template, token_values  # noqa: PLC0415

    values = token_values(context)
    config = load_pathway_config()
    queries = {spec.key: fetch_query(spec, render_template(spec.template, values), TODAY, config)
               for spec in prefetch_keys()}
    token = request.fhirAuthorization.access_token.get_secret_value()
    results = client.fetch_all(request.fhirServer, queries, access_token=token)
    prefetch: dict = {}
    for key, result in results.items():
        if key == "patient":
            prefetch[key] = result.pages[0]
            continue
        entries = [entry for page in result.pages for entry in page.get("entry", [])]
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    return prefetch


if __name__ == "__main__":
    raise SystemExit(main())
