"""POST the fixture patients to a FHIR server as transaction Bundles, dates rendered for a day.

    python -m fhir_fixtures.load --base http://localhost:8103/fhir [--token T] [--today YYYY-MM-DD] [--set ehr]

Each patient's Bundle is split into transactions of at most `MAX_ENTRIES` entries (one FHIR engine used
in the tests refuses bigger ones), in order, so the Patient and the resources others reference are
written first. Every entry is a PUT by id, so loading twice leaves the same data and prefetch stays stable.
The token is sent as a bearer token and never printed; output names fixtures by number, not by id.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from fhir_fixtures.catalog import PATIENTS, bundle
from fhir_fixtures.materialize import materialize

__all__ = ["MAX_ENTRIES", "LoadError", "LoadReport", "chunks", "load"]

JSON = dict[str, Any]

MAX_ENTRIES = 20
FHIR_JSON = "application/fhir+json"
TIMEOUT = (3.05, 30.0)  # connect, read: a transaction of 20 entries can take a few seconds


class LoadError(RuntimeError):
    """A transaction was refused; the message names the fixture number, the chunk and the HTTP status."""


class _Session(Protocol):
    def post(self, url: str, *, json: JSON, headers: dict[str, str], timeout: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class LoadReport:
    patients: int
    resources: int
    transactions: int


def chunks(transaction: JSON, size: int = MAX_ENTRIES) -> list[JSON]:
    """The transaction split into Bundles of at most `size` entries, order kept."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    entries = transaction.get("entry", [])
    return [
        {"resourceType": "Bundle", "type": "transaction", "entry": entries[start : start + size]}
        for start in range(0, len(entries), size)
    ] or []


def _outcome_text(reply: Any) -> str:
    try:
        body = reply.json()
    except ValueError:
        return ""
    issues = body.get("issue", []) if isinstance(body, dict) else []
    return "; ".join(str(i.get("diagnostics") or i.get("code") or "")[:200] for i in issues[:3])


def load(
    base: str,
    *,
    token: str | None = None,
    today: date | None = None,
    patients: Iterable[str] = PATIENTS,
    session: _Session | None = None,
    size: int = MAX_ENTRIES,
    bundle_of: Callable[[str], JSON] = bundle,
) -> LoadReport:
    """`bundle_of` gives a patient's transaction Bundle (the `fhir_fixtures.ehr.catalog.bundle` of the
    "as EHRs send it" set, or this set's by default)."""
    if session is None:
        import requests

        session = requests.Session()
    today = today or date.today()
    headers = {"Content-Type": FHIR_JSON, "Accept": FHIR_JSON}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = base.rstrip("/")
    count = resources = transactions = 0
    for number, patient in enumerate(patients, start=1):
        for part, transaction in enumerate(chunks(materialize(bundle_of(patient), today), size), start=1):
            reply = session.post(url, json=transaction, headers=headers, timeout=TIMEOUT)
            if reply.status_code >= 300:
                raise LoadError(
                    f"fixture {number}, transaction {part}: HTTP {reply.status_code} {_outcome_text(reply)}".strip()
                )
            transactions += 1
            resources += len(transaction["entry"])
        count += 1
    return LoadReport(patients=count, resources=resources, transactions=transactions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load the fixture patients into a FHIR server.")
    parser.add_argument("--base", required=True, help="FHIR base URL, e.g. http://localhost:8103/fhir")
    parser.add_argument("--token", default=os.environ.get("FHIR_TOKEN"), help="bearer token (or FHIR_TOKEN)")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="render dates for this day")
    parser.add_argument("--chunk", type=int, default=MAX_ENTRIES, help=f"entries per transaction (<= {MAX_ENTRIES})")
    parser.add_argument("--set", choices=("fc", "ehr"), default="fc", help="fixture set (ehr: as EHRs send it)")
    args = parser.parse_args(argv)
    patients, bundle_of = PATIENTS, bundle
    if args.set == "ehr":
        from fhir_fixtures.ehr import catalog as ehr

        patients, bundle_of = ehr.PATIENTS, ehr.bundle
    try:
        report = load(args.base, token=args.token, today=args.today, size=min(args.chunk, MAX_ENTRIES),
                      patients=patients, bundle_of=bundle_of)
    except LoadError as exc:
        print(f"load failed: {exc}", file=sys.stderr)
        return 1
    print(f"loaded {report.patients} patients, {report.resources} resources in {report.transactions} transactions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
