"""`cds-service serve` (one worker) with named parts of a hook call switched off: a measuring tool, never a
way to serve. It answers what issue 9's throughput target would cost: how much of a served call each part
the other issues require takes, and how fast the service could be without them.

    python benchmarks/what_if_serve.py --port P [--without PART,PART...]

Parts (`--without`):
  validation      the R4B validation (`fhir.resources`) of the resources that decide (facts/parse.py)
  duplicate-keys  the refusal of duplicate JSON keys (protocol/json_body.py; issue 8 asks for the 400)
  snooze          the snooze lookup after an override and its evidence write (snooze.py)
  issued-cards    recording the issued cards (store/writer.py)
  pathway         everything after the protocol models: gathering, facts, rules, cards (the answer has no
                  cards); what is left is HTTP, the middleware, the body parse and the protocol models

Settings come from the environment, as for `cds-service serve`. Run by `benchmarks/what_if_bench.py`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PARTS = ("validation", "duplicate-keys", "snooze", "issued-cards", "pathway")


def switch_off(parts: set[str], replace: Callable[[Any, str, Any], None] = setattr) -> None:
    """Replace each part's function with the cheapest stand-in that keeps the call going (the routes look
    these names up when they are called). `replace`: how (tests pass pytest's monkeypatch.setattr)."""
    from cds_service.facts import parse
    from cds_service.protocol import json_body
    from cds_service.protocol.parse import parse_hook_request
    from cds_service.routes import hooks
    from cds_service.snooze import SnoozeGate
    from cds_service.store.writer import IssuedCardWriter

    def valid(resource: Any, where: str, patient_id: str, issues: list[Any]) -> bool:
        return True

    async def protocol_only(call: Any, body: Any, **_: Any) -> dict[str, Any]:
        parse_hook_request(body, call.service.hook)
        return {"cards": []}

    if "validation" in parts:
        replace(parse, "validate", valid)
    if "duplicate-keys" in parts:
        replace(json_body, "_has_duplicate_keys", lambda raw, value: False)
    if "snooze" in parts:
        replace(SnoozeGate, "apply", lambda self, results, facts, **_: results)
    if "issued-cards" in parts:
        replace(IssuedCardWriter, "record_issued_cards", lambda self, **_: None)
    if "pathway" in parts:
        replace(hooks, "invoke", protocol_only)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--without", default="", help=f"comma-separated parts: {', '.join(PARTS)}")
    args = parser.parse_args()
    parts = {p for p in args.without.split(",") if p}
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}")

    from cds_service.cli import main as cds_service

    switch_off(parts)
    # `cds-service serve` itself (settings, preflight, logging, uvicorn options); with one worker uvicorn
    # serves in this process, so the stand-ins above are what the app calls.
    return cds_service(["serve", "--port", str(args.port), "--workers", "1", "--log-level", "warning"])


if __name__ == "__main__":
    raise SystemExit(main())
