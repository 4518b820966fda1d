"""Print the README table: for each fixture patient, the cards a clinician sees on each hook, produced by
running the real service (`cds_service.invocation.invoke`) on the fixture requests.

    python -m fhir_fixtures.table [--today YYYY-MM-DD] [--summaries] [--set ehr]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
from datetime import date
from typing import Any

from fhir_fixtures.author import AUTHORS
from fhir_fixtures.catalog import HOOKS, PATIENTS

__all__ = ["cards_for", "markdown_table", "story"]

JSON = dict[str, Any]

BASE_URL = "http://127.0.0.1:8080"


def cards_for(patient: str, hook: str, today: date, *, fixture_set: str = "fc") -> list[JSON]:
    from cds_service.gathering.fhir_client import FhirClient
    from cds_service.guideline.config import load_pathway_config
    from cds_service.invocation import Invocation, invoke
    from cds_service.services import SERVICES
    from cds_service.tools.run import NoRecorder

    service = next(s for s in SERVICES if s.hook == hook)
    client = FhirClient()
    try:
        call = Invocation(service, BASE_URL, client, load_pathway_config(), NoRecorder())
        request = _source(fixture_set).build_request(patient, hook, today)
        return asyncio.run(invoke(call, request, today=today))["cards"]
    finally:
        client.close()


def _source(fixture_set: str) -> Any:
    """The module that builds a set's requests: this set's `hook_requests`, or `fhir_fixtures.ehr.catalog`."""
    if fixture_set == "ehr":
        from fhir_fixtures.ehr import catalog

        return catalog
    from fhir_fixtures import hook_requests

    return hook_requests


def story(patient: str, fixture_set: str = "fc") -> str:
    """The fixture's story: its author function's docstring, on one line."""
    if fixture_set == "ehr":
        from fhir_fixtures.ehr.catalog import _AUTHORS

        return " ".join((inspect.getdoc(_AUTHORS[patient]) or "").split())
    return " ".join((inspect.getdoc(AUTHORS[patient]) or "").split())


def _cell(cards: list[JSON], summaries: bool) -> str:
    if not cards:
        return "(no cards)"
    from cds_service.guideline.nodes import pathway_spec
    from cds_service.render.cards import NODES_EXTENSION

    parts = []
    for card in cards:
        node = ((card.get("source") or {}).get("topic") or {}).get("code", "?")
        text = f"`{node}` {card.get('indicator')}"
        # Nodes folded into the card (cds_service.pathway.compose), each with its own indicator (nodes.toml).
        folded = ((card.get("extension") or {}).get(NODES_EXTENSION) or [node])[1:]
        if folded:
            spec = pathway_spec()
            text += " (carries " + ", ".join(
                f"`{other}` {getattr(spec.node(other), 'indicator', '?')}" for other in folded) + ")"
        if summaries:
            text += f": {card.get('summary', '').replace('|', '/')}"
        parts.append(text)
    return "<br>".join(parts)


def markdown_table(today: date, *, summaries: bool = False, fixture_set: str = "fc") -> str:
    lines = [
        "| fixture | story | " + " | ".join(HOOKS) + " |",
        "|---|---|" + "---|" * len(HOOKS),
    ]
    if fixture_set == "ehr":
        from fhir_fixtures.ehr.catalog import PATIENTS as patients
    else:
        patients = PATIENTS
    for patient in patients:
        cells = [_cell(cards_for(patient, hook, today, fixture_set=fixture_set), summaries) for hook in HOOKS]
        lines.append(f"| `{patient}` | {story(patient, fixture_set)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Markdown table of the cards each fixture patient gets.")
    parser.add_argument("--today", type=date.fromisoformat, default=date.today())
    parser.add_argument("--summaries", action="store_true", help="add each card's summary")
    parser.add_argument("--set", choices=("fc", "ehr"), default="fc", help="fixture set (ehr: as EHRs send it)")
    args = parser.parse_args(argv)
    print(markdown_table(args.today, summaries=args.summaries, fixture_set=args.set), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
