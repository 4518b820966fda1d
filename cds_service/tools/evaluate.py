"""`cds-service evaluate`: the cards the service answers for one patient, without running the server.

    cds-service evaluate FILE [--hook H] [--patient ID] [--today YYYY-MM-DD] [--drafts FILE] [--json]
    cds-service evaluate --fhir-server URL --patient ID [--hook H] [--drafts FILE] [--json]
    cds-service evaluate --explain FILE [...] [--json]

`--explain` prints why each pathway node fired or did not (issue 19), from the same evaluation that makes
the cards; with `--json`, the body `POST /cds-services/{id}/explain` answers.

FILE is a CDS Hooks request (prefetch inside) or a FHIR Bundle of one patient's record (collection,
searchset or transaction). The request runs through the hooks' own code path with the deployment's
pathway configuration (CDS_PATHWAY_CONFIG); nothing is written to the store. `--json` prints exactly the
body the service answers. Any problem with the input is one line on stderr naming the file, exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from cds_service.tools.hook_input import (
    HOOKS,
    InputError,
    draft_orders_from,
    request_for_fhir_server,
    request_from_bundle,
)

__all__ = ["add_parser", "format_cards", "run"]

JSON = dict[str, Any]
EXIT_INPUT = 2
PROG = "cds-service evaluate"


class _Failed(Exception):
    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "evaluate",
        help="the cards for one patient, from a request or Bundle file or a FHIR server, without the server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", nargs="?", type=Path, help="a CDS Hooks request or a FHIR Bundle of one patient (JSON)")
    parser.add_argument("--hook", choices=HOOKS, help="the hook (default: the request's, or patient-view)")
    parser.add_argument("--patient", help="the patient id (default for a Bundle: its only Patient)")
    parser.add_argument("--today", type=date.fromisoformat, help="evaluation date, YYYY-MM-DD (default: today)")
    parser.add_argument("--fhir-server", help="fetch the record from this FHIR server (R4 base URL) instead of FILE")
    parser.add_argument("--drafts", type=Path, help="draft orders for the order hooks (Bundle, array or resource)")
    parser.add_argument("--json", action="store_true", help="print exactly the service's response body")
    parser.add_argument("--explain", action="store_true",
                        help="why each node fired or did not, with the records behind every answer")
    parser.set_defaults(func=run)
    return parser


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _Failed(str(path), "no such file") from None
    except IsADirectoryError:
        raise _Failed(str(path), "is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _Failed(str(path), f"cannot be read ({getattr(exc, 'strerror', None) or type(exc).__name__})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Failed(str(path), f"is not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})") from None


def _request(args: argparse.Namespace) -> tuple[str, JSON, str]:
    """(where, request body, hook)."""
    drafts = None
    if args.drafts is not None:
        try:
            drafts = draft_orders_from(_read_json(args.drafts))
        except InputError as exc:
            raise _Failed(str(args.drafts), str(exc)) from None
    if args.fhir_server:
        if args.file is not None:
            raise _Failed(PROG, "give either FILE or --fhir-server, not both")
        if not args.patient:
            raise _Failed(args.fhir_server, "--fhir-server needs --patient")
        hook = args.hook or "patient-view"
        try:
            body = request_for_fhir_server(args.fhir_server, args.patient, hook=hook, drafts=drafts, today=args.today)
        except InputError as exc:
            raise _Failed(args.fhir_server, str(exc)) from None
        return args.fhir_server, body, hook
    if args.file is None:
        raise _Failed(PROG, "give a FILE (a CDS Hooks request or a FHIR Bundle) or --fhir-server URL --patient ID")
    where = str(args.file)
    document = _read_json(args.file)
    if not isinstance(document, dict):
        raise _Failed(where, "is neither a CDS Hooks request nor a FHIR Bundle (not a JSON object)")
    if document.get("resourceType") == "Bundle":
        hook = args.hook or "patient-view"
        try:
            body = request_from_bundle(document, hook=hook, patient_id=args.patient, today=args.today, drafts=drafts)
        except InputError as exc:
            raise _Failed(where, str(exc)) from None
        return where, body, hook
    if "hook" in document or "context" in document:
        hook = args.hook or document.get("hook")
        if hook not in HOOKS:
            raise _Failed(where, f"the request's hook {document.get('hook')!r} is not one this service answers ({', '.join(HOOKS)})")
        if args.patient or drafts is not None:
            raise _Failed(where, "--patient and --drafts are for a Bundle or a FHIR server; a request carries its own")
        return where, document, hook
    if "resourceType" in document:
        raise _Failed(where, f"is a FHIR {document['resourceType']}, not a Bundle of the patient's record")
    raise _Failed(where, "is neither a CDS Hooks request (hook, context) nor a FHIR Bundle")


def format_cards(body: JSON, *, hook: str, today: date) -> str:
    """The answer for a person: node, indicator, summary, suggestions and their actions, data issues."""
    from cds_service.invocation import DATA_ISSUES_EXTENSION
    from cds_service.render.cards import NODES_EXTENSION

    cards = body.get("cards", [])
    lines = [f"{hook}, evaluated on {today.isoformat()}: {len(cards)} card(s)"]
    if not cards:
        lines.append("No cards: the patient is outside the pathway, or nothing is due.")
    for card in cards:
        node = ((card.get("source") or {}).get("topic") or {}).get("code", "?")
        lines += ["", f"[{card['indicator'].upper()}] {node}: {card['summary']}"]
        folded = ((card.get("extension") or {}).get(NODES_EXTENSION) or [node])[1:]
        if folded:  # nodes folded into this card (pathway/compose.py): their advice is in its detail
            lines.append("  also carries: " + ", ".join(folded))
        source = card.get("source") or {}
        if source.get("url"):
            lines.append(f"  source: {source.get('label')} <{source['url']}>")
        if card.get("suggestions"):
            lines.append(f"  suggestions ({card.get('selectionBehavior')}):")
            for suggestion in card["suggestions"]:
                recommended = " (recommended)" if suggestion.get("isRecommended") else ""
                lines.append(f"    - {suggestion['label']}{recommended}")
                for action in suggestion.get("actions", []):
                    lines.append(f"        {action['type']}: {action['description']}")
        if card.get("overrideReasons"):
            lines.append("  override reasons: " + "; ".join(f"{r['code']} ({r['display']})" for r in card["overrideReasons"]))
    issues = (body.get("extension") or {}).get(DATA_ISSUES_EXTENSION, [])
    if issues:
        lines += ["", f"data issues ({len(issues)}): input left out of the evaluation"]
        lines += [f"  {issue.get('where')}: {issue.get('problem')}" for issue in issues]
    return "\n".join(lines)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    # The service logs each failed FHIR query as a warning; on a terminal the one line below says it all.
    service_log = logging.getLogger("cds_service")
    level = service_log.level
    service_log.setLevel(logging.ERROR)
    try:
        return _run(args, out)
    except _Failed as failure:
        print(f"{PROG}: {failure}", file=err)
        return EXIT_INPUT
    finally:
        service_log.setLevel(level)


async def _evaluate(body: JSON, service: Any, today: date, settings: Any, pathway: Any, explain: bool = False) -> Any:
    from cds_service.gathering.fhir_client import FhirClient
    from cds_service.invocation import Invocation
    from cds_service.tools.run import NoRecorder, run_hook

    client = FhirClient(
        connect_timeout=settings.fhir_connect_timeout_seconds,
        read_timeout=settings.fhir_read_timeout_seconds,
        max_pages=settings.fhir_max_pages,
        max_parallel=settings.fhir_max_parallel,
    )
    # Nothing is recorded: these cards never reach a clinician, so no feedback can follow.
    call = Invocation(service=service, public_base_url=settings.public_base_url, fhir_client=client,
                      pathway=pathway, recorder=NoRecorder(), deadline_seconds=settings.call_deadline_seconds)
    try:
        if explain:
            from cds_service.explain.run import explain_hook

            return await explain_hook(call, body, today=today)
        return await run_hook(call, body, today=today)
    finally:
        await client.aclose()


def _run(args: argparse.Namespace, out: TextIO) -> int:
    from pydantic import ValidationError

    from cds_service.guideline.config import PathwayConfigError, load_pathway_config
    from cds_service.settings import Settings
    from cds_service.tools.run import service_for_hook

    where, body, hook = _request(args)
    try:
        settings = Settings()
        pathway = load_pathway_config(settings.pathway_config)
    except (ValidationError, PathwayConfigError) as exc:
        raise _Failed("settings", " ".join(str(exc).split())) from None
    service = service_for_hook(hook)
    assert service is not None  # HOOKS are the services' hooks
    today = args.today or date.today()
    result = asyncio.run(_evaluate(body, service, today, settings, pathway, explain=args.explain))
    if result.status == 412:
        reasons = sorted(set((result.body.get("missing") or {}).values())) or [str(result.body.get("message"))]
        raise _Failed(where, f"required data could not be had: {'; '.join(reasons)}")
    if result.status != 200:
        raise _Failed(where, f"the request is invalid: {result.body.get('message')}")
    if args.explain and not args.json:
        from cds_service.explain.model import Explanation
        from cds_service.explain.text import format_explanation

        out.write(format_explanation(Explanation.model_validate(result.body)) + "\n")
    elif args.json:
        out.write(json.dumps(result.body, ensure_ascii=False, separators=(",", ":")) + "\n")
    else:
        out.write(format_cards(result.body, hook=hook, today=today) + "\n")
    return 0
