"""Hook calls against hostile FHIR servers: how long each call takes, and the server's peak memory.

    python benchmarks/hostile_bench.py [--deadline S] [--repeat N]

For each scenario a fresh `cds-service serve` process (auth disabled, SQLite) gets `--repeat` patient-view
calls with no prefetch whose `fhirServer` is a stub server (its own process) behaving as the scenario says;
the two prefetch scenarios send the hostile data in the request body instead. It prints per scenario the
status, the longest call (client-measured) against the deadline, and the server's peak RSS (VmHWM) against an
idle server's. Figures for issue 8's closing note: longest call under the hostile-server tests, peak RSS for
the worst request.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_support import free_port, peak_rss_mib, stub_server_process  # noqa: E402
from tests.support.gathering_stub_server import NEVER, Answer  # noqa: E402

PATIENT_ID = "pt-hostile-bench"
PV = "/cds-services/foot-calcification-patient-view"


def _searchset(entries: list[Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def _nested(levels: int) -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "http://example.org/leaf", "valueString": "x"}
    for _ in range(levels):
        extension = {"url": "http://example.org/node", "extension": [extension]}
    return {"resourceType": "Condition", "id": "deep", "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "code": {"text": "calcific tendinitis"}, "extension": [extension]}


def _behaviour(scenario: str) -> Any:
    patient = {"resourceType": "Patient", "id": PATIENT_ID}
    million = b'{"resourceType":"Bundle","type":"searchset","entry":[' + b",".join([b"{}"] * 1_000_000) + b"]}"
    big_page = json.dumps(_searchset([{"resource": {"resourceType": "Condition", "id": f"c{i}",
                                                    "subject": {"reference": f"Patient/{PATIENT_ID}"},
                                                    "code": {"text": "x" * 900}}} for i in range(7500)])).encode()
    answers = {
        "healthy": lambda path: Answer(body=patient if "/Patient/" in path else _searchset([])),
        "trickle": lambda path: Answer(body=patient if "/Patient/" in path else _searchset([]), trickle=0.5),
        "slow-first-byte": lambda path: Answer(body=patient, delay=20.0),
        "never-answers": lambda path: Answer(body=patient, delay=NEVER),
        "million-entry-pages": lambda path: Answer(body=patient) if "/Patient/" in path else Answer(body=million),
        "7-MB-pages": lambda path: Answer(body=patient) if "/Patient/" in path else Answer(body=big_page),
        "other-patient-read": lambda path: Answer(body={"resourceType": "Patient", "id": "someone-else"}),
        "deep-nesting": lambda path: Answer(body=patient if "/Patient/" in path else
                                            _searchset([{"resource": _nested(150)}])),
    }
    answer = answers[scenario]
    return lambda path, base: answer(path)


@contextmanager
def service(deadline: float) -> Iterator[tuple[str, int]]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CDS_AUTH_MODE": "disabled", "CDS_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
               "CDS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "CDS_CALL_DEADLINE_SECONDS": str(deadline)}
        server = subprocess.Popen([sys.executable, "-m", "cds_service", "serve", "--port", str(port),
                                   "--log-level", "error"], env=env)
        try:
            for _ in range(200):
                try:
                    if requests.get(f"http://127.0.0.1:{port}/pathway", timeout=1).ok:
                        break
                except requests.ConnectionError:
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{port}", server.pid
        finally:
            server.terminate()
            server.wait(timeout=10)


def _request(fhir_server: str | None, prefetch: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"hook": "patient-view", "hookInstance": "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b",
                            "context": {"userId": "Practitioner/bench", "patientId": PATIENT_ID}}
    if fhir_server:
        body["fhirServer"] = fhir_server
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def _prefetch_bodies() -> dict[str, bytes]:
    from cds_service.services import prefetch_templates  # noqa: PLC0415

    keys = [key for key, _ in prefetch_templates()]
    patient = {"resourceType": "Patient", "id": PATIENT_ID}
    # The 4.9 MB body of non-resource entries (about 1.6 million `{}`), over the entry cap per key.
    empties = {key: _searchset([{}] * 116_000) for key in keys[1:]}
    # Non-resource entries just under the cap in every key: each one a data issue.
    junk = {key: _searchset(["junk"] * 9_999) for key in keys[1:]}
    deep = {key: _searchset([]) for key in keys[1:]}
    deep[keys[1]] = _searchset([{"resource": _nested(150)}])
    return {
        "prefetch: 4.9 MB of {} entries": json.dumps(_request(None, {"patient": patient, **empties}),
                                                      separators=(",", ":")).encode(),
        "prefetch: 140,000 non-resource entries": json.dumps(_request(None, {"patient": patient, **junk})).encode(),
        "prefetch: 150 nested extensions": json.dumps(_request(None, {"patient": patient, **deep})).encode(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deadline", type=float, default=4.0, help="CDS_CALL_DEADLINE_SECONDS of the service")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rows = []
    scenarios = ["healthy", "trickle", "slow-first-byte", "never-answers", "million-entry-pages", "7-MB-pages",
                 "other-patient-read", "deep-nesting"]
    for scenario in scenarios:
        with stub_server_process(_behaviour, scenario) as fhir, service(args.deadline) as (url, pid):
            idle = peak_rss_mib(pid)
            body = json.dumps(_request(fhir)).encode()
            rows.append(_run(scenario, url, body, args.repeat, pid, idle))
    for scenario, body in _prefetch_bodies().items():
        with service(args.deadline) as (url, pid):
            idle = peak_rss_mib(pid)
            rows.append(_run(scenario, url, body, args.repeat, pid, idle))

    print(f"deadline {args.deadline:g} s, {args.repeat} calls per scenario, a fresh server process each")
    print(f"{'scenario':45s} {'status':>6s} {'longest call':>13s} {'answer':>10s} {'idle RSS':>9s} {'peak RSS':>9s}")
    for scenario, status, longest, size, idle, peak in rows:
        print(f"{scenario:45s} {status:>6} {longest:>11.2f} s {size / 1024:>7.0f} kB {idle:>6.0f} MiB {peak:>6.0f} MiB")
    print(f"longest call of all: {max(row[2] for row in rows):.2f} s")
    return 0


def _run(scenario: str, url: str, body: bytes, repeat: int, pid: int, idle: float) -> tuple:
    longest, status, size = 0.0, 0, 0
    for _ in range(repeat):
        started = time.monotonic()
        response = requests.post(url + PV, data=body, headers={"Content-Type": "application/json"}, timeout=120)
        longest = max(longest, time.monotonic() - started)
        status, size = response.status_code, len(response.content)
    return scenario, status, longest, size, idle, peak_rss_mib(pid)


if __name__ == "__main__":
    raise SystemExit(main())
