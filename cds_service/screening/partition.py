"""Pass 2, one task per spill partition: group its lines by patient, judge each patient with the hooks' own
steps, and write the partition's results (a checkpoint: a partition once written is never redone).

Per patient, in this order:
  - no line matches `prefilter.entry_marker()`: outside the pathway, nothing parsed (the common case);
  - else every line is parsed; a line that is not valid JSON, a resource already seen in another file
    (same type and id), or a line whose parsed patient differs from the byte search's is counted with its
    file and line, and the patient marked "not fully evaluable" (the judgement is still made from the rest);
  - no Patient resource in the export: counted (lines referring to an unknown patient), not judged;
  - the patient-view request is built from the lines (prefetch.py) and run through `gather` ->
    `invocation.judge` -> `render_cards` -> `localize_cards`, exactly as `invoke` runs them (no issued-card
    store, no snooze: a population screen is not an EHR session).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from cds_service.errors import ServiceError
from cds_service.gathering.deadline import Deadline
from cds_service.gathering.fhir_client import FhirClient
from cds_service.gathering.gather import gather
from cds_service.guideline.config import PathwayConfig, load_pathway_config
from cds_service.invocation import judge
from cds_service.protocol.parse import parse_hook_request
from cds_service.render.cards import RenderContext, render_cards
from cds_service.render.local import localize_cards
from cds_service.screening.gaps import fhir_resources, gaps_for
from cds_service.screening.prefetch import patient_reference_id, patient_view_request
from cds_service.screening.prefilter import entry_marker
from cds_service.services import SERVICES

__all__ = ["PartitionJob", "fhir_path", "findings_of", "patients_path", "result_path", "screen_partition", "warm_up"]

JSON = dict[str, Any]
SERVICE = next(s for s in SERVICES if s.hook == "patient-view")
BASE_URL = "urn:cds-service-screen"  # card links point nowhere: no clinician opens them
DEADLINE_SECONDS = 600.0  # never reached: a full prefetch makes no FHIR call


@dataclass(frozen=True, slots=True)
class PartitionJob:
    work: str
    partition: int
    files: tuple[int, ...]  # indexes of the split files
    today: str  # ISO date
    config_path: str | None


def result_path(work: Path, partition: int) -> Path:
    return work / "results" / f"part-{partition:04d}.json"


@cache
def _config(path: str | None) -> PathwayConfig:
    return load_pathway_config(Path(path) if path else None)


def findings_of(cards: list[JSON]) -> list[JSON]:
    """What the screen reports per patient and the equality test compares with patient-view: per card its
    node and indicator, and its suggestions with the codes of the orders they create."""
    found = []
    for card in cards:
        suggestions = []
        for suggestion in card.get("suggestions", []):
            codes = []
            for action in suggestion.get("actions", []):
                resource = action.get("resource") or {}
                codes += [f"{c.get('system')}|{c.get('code')}" for c in (resource.get("code") or {}).get("coding", [])]
            suggestions.append({"label": suggestion.get("label"), "codes": codes})
        found.append({"node": card["source"]["topic"]["code"], "indicator": card["indicator"],
                      "suggestions": suggestions})
    return found


def _read_partition(work: Path, job: PartitionJob) -> tuple[dict[str, list[tuple[int, int, bool, bytes]]], set[str]]:
    """Lines by patient, and the patients who lost a line the split could not read (already counted)."""
    by_patient: dict[str, list[tuple[int, int, bool, bytes]]] = {}
    damaged: set[str] = set()
    for index in job.files:
        path = work / "spill" / f"f{index:05d}" / f"p{job.partition:04d}.ndjson"
        if not path.exists():
            continue
        with open(path, "rb") as handle:
            for record in handle:
                key, file_index, line_number, flag, line = record.rstrip(b"\n").split(b"\t", 4)
                if flag == b"X":
                    damaged.add(key.decode("ascii"))
                    continue
                by_patient.setdefault(key.decode("ascii"), []).append(
                    (int(file_index), int(line_number), flag == b"P", line))
    return by_patient, damaged


async def _judge_one(patient: str, pool: list[JSON], today: date, config: PathwayConfig,
                     client: FhirClient) -> tuple[list[JSON], Any, list[JSON]]:
    body = patient_view_request(patient, pool)
    request, context = parse_hook_request(body, SERVICE.hook)
    gathered = await gather(request, context, client, deadline=Deadline.after(DEADLINE_SECONDS), today=today,
                            config=config)
    judged = judge(gathered, patient, hook=SERVICE.hook, today=today, config=config)
    cards = render_cards(judged.results, judged.facts,
                         RenderContext(base_url=BASE_URL, service_id=SERVICE.id, hook_instance=request.hookInstance))
    cards = localize_cards(cards, config, BASE_URL)
    issues = [issue.to_json() for issue in judged.data.issues]
    return cards, judged, issues


async def _screen(job: PartitionJob, names: dict[int, str], patients_out: Any, fhir_out: Any) -> JSON:
    """Judge the partition, writing judged patients and FHIR resources as they come (memory: one patient)."""
    work = Path(job.work)
    today = date.fromisoformat(job.today)
    config = _config(job.config_path)
    marker = entry_marker()
    by_patient, damaged = _read_partition(work, job)
    counts: Counter = Counter()
    issues: list[tuple[str, str, int, str]] = []
    patients = _Rows(patients_out)
    client = FhirClient()
    try:
        for patient in sorted(by_patient):
            lines = sorted(by_patient[patient])
            has_patient = any(is_patient for _, _, is_patient, _ in lines)
            # A patient who lost a line is judged in full: the lost line might have put them in the pathway.
            if patient not in damaged and not marker.matches(b"\n".join(line for _, _, _, line in lines)):
                if has_patient:
                    counts["outside"] += 1
                else:
                    counts["unknown-patient"] += 1
                    issues += [("unknown-patient", names[f], n, "refers to a patient not in the export") for f, n, _, _ in lines]
                continue
            pool: list[JSON] = []
            seen: dict[tuple[str, str], tuple[int, int]] = {}
            problems: list[str] = ["malformed-line"] if patient in damaged else []
            for file_index, number, _, line in lines:
                try:
                    resource = orjson.loads(line)
                except orjson.JSONDecodeError:
                    issues.append(("malformed-line", names[file_index], number, "not valid JSON"))
                    problems.append("malformed-line")
                    continue
                if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                    issues.append(("malformed-line", names[file_index], number, "not a FHIR resource"))
                    problems.append("malformed-line")
                    continue
                kind = resource["resourceType"]
                who = resource.get("id") if kind == "Patient" else patient_reference_id(resource)
                if who != patient:
                    issues.append(("patient-reference-mismatch", names[file_index], number,
                                   "the parsed patient reference differs from the byte search's"))
                    problems.append("patient-reference-mismatch")
                    continue
                rid = resource.get("id")
                if isinstance(rid, str):
                    first = seen.get((kind, rid))
                    if first is not None:
                        issues.append(("duplicate-resource", names[file_index], number,
                                       f"{kind} already read from {names[first[0]]} line {first[1]}"))
                        problems.append("duplicate-resource")
                        continue
                    seen[(kind, rid)] = (file_index, number)
                pool.append(resource)
            if not any(r["resourceType"] == "Patient" for r in pool):
                counts["unknown-patient"] += 1
                issues += [("unknown-patient", names[f], n, "refers to a patient not in the export") for f, n, _, _ in lines]
                continue
            try:
                cards, judged, data_issues = await _judge_one(patient, pool, today, config, client)
            except ServiceError as error:  # a record the hook would refuse (400/412): said, not dropped
                counts["not-evaluable"] += 1
                patients.append({"patient": patient, "status": "not-evaluable",
                                 "why": [f"the hook would answer {error.status_code}"], "findings": [], "gaps": []})
                continue
            why = sorted(set(problems)) + (["resources the hook left out"] if data_issues else [])
            in_pathway = judged.facts.in_pathway
            rows = gaps_for(patient, judged.facts, judged.results, cards, pool, today, config) if in_pathway else []
            for row in rows:
                detected, guidance = fhir_resources(row, today)
                fhir_out.write(orjson.dumps(detected) + b"\n" + orjson.dumps(guidance) + b"\n")
            counts["in-pathway" if in_pathway else "outside"] += 1
            if why:
                counts["not-fully-evaluable"] += 1
            patients.append({"patient": patient, "status": "in-pathway" if in_pathway else "outside-parsed",
                             "why": why, "findings": findings_of(cards), "gaps": [r.to_json() for r in rows],
                             "data_issues": len(data_issues)})
    finally:
        await client.aclose()
    return {"partition": job.partition, "counts": dict(counts), "issues": issues}


def warm_up(today: str, config_path: str | None) -> None:
    """Do once what a process's first judgement does lazily (~0.2 s: compiling the card templates, importing
    the FHIR model classes validation reaches): the embedded engine calls it in the driver while pass 1 runs,
    so that the pass-2 workers, forked after, do not each pay it."""
    from cds_service.guideline.nodes import pathway_spec
    from cds_service.render.templates import load_templates
    from cds_service.screening.generate import sample_patient

    load_templates(tuple(sorted({node.template for node in pathway_spec().nodes})))
    when = date.fromisoformat(today)
    patient, pool = sample_patient(when)

    async def once() -> None:
        client = FhirClient()
        try:
            await _judge_one(patient, pool, when, _config(config_path), client)
        finally:
            await client.aclose()

    asyncio.run(once())


class _Rows:
    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def append(self, row: JSON) -> None:
        self.handle.write(orjson.dumps(row) + b"\n")


def patients_path(work: Path, partition: int) -> Path:
    return work / "results" / f"part-{partition:04d}.patients.ndjson"


def fhir_path(work: Path, partition: int) -> Path:
    return work / "results" / f"part-{partition:04d}.fhir.ndjson"


def screen_partition(job: PartitionJob, names: dict[int, str]) -> int:
    """Judge one partition and write its result files (idempotent: the .json, written last by rename, marks a
    partition done; a killed worker leaves only temporary files). Returns the patients it counted."""
    work = Path(job.work)
    target = result_path(work, job.partition)
    if target.exists():
        return sum(json.loads(target.read_text()).get("counts", {}).values())
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = f".tmp{os.getpid()}"
    rows, fhir = patients_path(work, job.partition), fhir_path(work, job.partition)
    rows_tmp, fhir_tmp = rows.with_name(rows.name + suffix), fhir.with_name(fhir.name + suffix)
    with open(rows_tmp, "wb") as patients_out, open(fhir_tmp, "wb") as fhir_out:
        result = asyncio.run(_screen(job, names, patients_out, fhir_out))
    os.replace(rows_tmp, rows)
    os.replace(fhir_tmp, fhir)
    tmp = target.with_name(target.name + suffix)
    tmp.write_bytes(orjson.dumps(result))
    os.replace(tmp, target)
    return sum(result["counts"].values())
