"""CPU time of the facts step on a large prefetch: select-then-validate vs validating everything.

    python benchmarks/facts_bench.py [--runs N] [--resources R]

Builds one patient with R resources (default 163: Conditions, lab Observations, vital signs and imaging
Observations, ImagingStudies), most of them irrelevant to the pathway (hypertension, blood pressure, chest
films...), plus the Patient. Prints the median and p90 in ms of
  1. to_clinical_data + build_facts (what the service does: cheap JSON selection, then R4B validation
     of the selected resources only), and
  2. R4B validation of every resource (the cost the issue measured, ~38 ms), for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fhir.resources.R4B import get_fhir_model_class

from cds_service.facts.extract import build_facts
from cds_service.facts.parse import to_clinical_data
from cds_service.gathering.records import RawRecord
from cds_service.guideline.config import load_pathway_config
from cds_service.guideline.valuesets import load_valuesets

TODAY = date(2026, 11, 21)
PATIENT = "bench-patient"
SUBJECT = {"reference": f"Patient/{PATIENT}"}
SNOMED, LOINC, ICD = "http://snomed.info/sct", "http://loinc.org", "http://hl7.org/fhir/sid/icd-10-cm"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
JSON = dict[str, Any]


def _day(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def _condition(i: int, system: str, code: str, display: str) -> JSON:
    return {
        "resourceType": "Condition",
        "id": f"c{i}",
        "subject": SUBJECT,
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
        "onsetDateTime": _day(30 + i),
        "recordedDate": _day(29 + i),
    }


def _observation(i: int, code: str, display: str, value: float, unit: str, category: str = "laboratory") -> JSON:
    return {
        "resourceType": "Observation",
        "id": f"o{i}",
        "status": "final",
        "subject": SUBJECT,
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}]}
        ],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "effectiveDateTime": f"{_day(i % 120)}T08:00:00Z",
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        "referenceRange": [{"low": {"value": value * 0.8, "unit": unit}, "high": {"value": value * 1.2, "unit": unit}}],
    }


def _study(i: int, modality: str, description: str, site: tuple[str, str] | None) -> JSON:
    series: JSON = {"uid": f"1.2.840.{i}.1", "modality": {"system": DCM, "code": modality}, "numberOfInstances": 3}
    if site:
        series["bodySite"] = {"system": SNOMED, "code": site[0], "display": site[1]}
    return {
        "resourceType": "ImagingStudy",
        "id": f"s{i}",
        "status": "available",
        "subject": SUBJECT,
        "started": f"{_day(i % 200)}T10:00:00Z",
        "modality": [{"system": DCM, "code": modality}],
        "description": description,
        "numberOfSeries": 1,
        "series": [series],
    }


def build_record(total: int) -> RawRecord:
    """A record of `total` resources; about one in eight is something the pathway reads."""
    makers: list[Callable[[int], JSON]] = [
        lambda i: _condition(i, SNOMED, "38341003", "Hypertensive disorder"),
        lambda i: _condition(i, SNOMED, "55822004", "Hyperlipidemia"),
        lambda i: _observation(i, "8480-6", "Systolic blood pressure", 128, "mm[Hg]", "vital-signs"),
        lambda i: _observation(i, "8462-4", "Diastolic blood pressure", 82, "mm[Hg]", "vital-signs"),
        lambda i: _observation(i, "2345-7", "Glucose [Mass/volume] in Serum or Plasma", 105, "mg/dL"),
        lambda i: _observation(i, "17861-6", "Calcium [Mass/volume] in Serum or Plasma", 9.6, "mg/dL"),
        lambda i: _study(i, "DX", "Chest PA and lateral", None),
        lambda i: _observation(i, "718-7", "Hemoglobin [Mass/volume] in Blood", 13.5, "g/dL"),
    ]
    record = RawRecord(
        patient={"resourceType": "Patient", "id": PATIENT, "gender": "female", "birthDate": "1958-04-02"}
    )
    relevant = [
        _condition(10_000, ICD, "M65.271", "Calcific tendinitis, right ankle and foot"),
        _condition(10_001, SNOMED, "44054006", "Diabetes mellitus type 2"),
        _study(10_002, "DX", "XR RIGHT FOOT 3 VIEWS", ("56459004", "Foot structure")),
    ]
    resources = relevant + [makers[i % len(makers)](i) for i in range(total - len(relevant))]
    for resource in resources:
        record.resources.setdefault(resource["resourceType"], []).append(resource)
    return record


def validate_everything(record: RawRecord) -> int:
    count = 0
    for resource in [record.patient, *(r for rs in record.resources.values() for r in rs)]:
        assert resource is not None
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        count += 1
    return count


def timed(function: Callable[[], object], runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--resources", type=int, default=163)
    args = parser.parse_args()

    load_valuesets()
    config = load_pathway_config()
    record = build_record(args.resources)

    def facts_step() -> object:
        data = to_clinical_data(record, PATIENT)
        return build_facts(data, hook="patient-view", today=TODAY, config=config)

    data = to_clinical_data(record, PATIENT)
    kept = sum(
        len(t)
        for t in (
            data.conditions,
            data.observations,
            data.imaging_studies,
            data.diagnostic_reports,
            data.service_requests,
            data.procedures,
        )
    )
    facts = facts_step()
    assert facts.in_pathway, "the benchmark patient should be in the pathway"

    selected = timed(facts_step, args.runs, args.warmup)
    everything = timed(lambda: validate_everything(record), args.runs, args.warmup)
    print(f"Patient + {args.resources} resources; {kept} selected and validated; {args.runs} runs")
    for name, samples in (("to_clinical_data + build_facts", selected), ("validate every resource (R4B)", everything)):
        ordered = sorted(samples)
        p90 = ordered[int(0.9 * (len(ordered) - 1))]
        print(f"  {name:34s} median {statistics.median(samples):7.2f} ms   p90 {p90:7.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
