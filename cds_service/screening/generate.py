"""`cds-service screen generate`: a deterministic synthetic Bulk FHIR export, for trying the screen and for
benchmarks/screen_bench.py.

Patients are built in the shapes of the fixture records (fhir_fixtures: Patient, Condition, lab and imaging
Observation, ImagingStudy, DiagnosticReport, ServiceRequest, Procedure, plus the Encounters and vital signs
a real export is mostly made of). Every code comes from the service's value sets (guideline/valuesets.toml,
verified codes); vital signs carry text only. A share `prevalence` of patients has a soft-tissue
calcification of the foot (in the pathway), in one of four stories that open or close the issue's four
gaps; the rest are outside it. Same seed, same bytes.
"""

from __future__ import annotations

import gzip
import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from cds_service.guideline.valuesets import load_valuesets

__all__ = ["TYPES", "generate_export"]

JSON = dict[str, Any]
TYPES = ("Patient", "Condition", "Observation", "ImagingStudy", "DiagnosticReport", "ServiceRequest", "Procedure",
         "Encounter")
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FAMILY = ("Moreau", "Okafor", "Lindqvist", "Tanaka", "Garcia", "Novak", "Haddad", "Kowalski", "Mensah", "Silva")
GIVEN = ("Ana", "Jean", "Kofi", "Mira", "Omar", "Lena", "Ivan", "Sara", "Tomas", "Yuki")
VITALS = ("Body weight", "Body height", "Heart rate", "Blood pressure", "Respiratory rate", "Body temperature")


def _coding(set_name: str, index: int = 0) -> JSON:
    member = load_valuesets()[set_name].members[index]
    return {"system": member.system, "code": member.code, "display": member.display}


def _orderable(name: str) -> JSON:
    item = load_valuesets().orderables[name]
    return {"system": item.system, "code": item.code, "display": item.display}


class _Patient:
    def __init__(self, pid: str, today: date, rng: random.Random) -> None:
        self.pid, self.today, self.rng = pid, today, rng
        self.out: dict[str, list[JSON]] = {t: [] for t in TYPES}
        self.n = 0

    def _id(self, tag: str) -> str:
        self.n += 1
        return f"{self.pid}-{tag}-{self.n}"

    def day(self, days_ago: int) -> str:
        return (self.today - timedelta(days=days_ago)).isoformat()

    def ref(self) -> JSON:
        return {"reference": f"Patient/{self.pid}"}

    def patient(self) -> None:
        r = self.rng
        self.out["Patient"].append({
            "resourceType": "Patient", "id": self.pid,
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.5.99999.1", "value": f"MRN-{self.pid}"}],
            "name": [{"use": "official", "family": r.choice(FAMILY), "given": [r.choice(GIVEN)]}],
            "gender": r.choice(("female", "male")), "birthDate": f"{r.randint(1935, 2000)}-0{r.randint(1, 9)}-1{r.randint(0, 9)}",
        })

    def condition(self, coding: JSON, days_ago: int, status: str = "active") -> None:
        self.out["Condition"].append({
            "resourceType": "Condition", "id": self._id("cond"),
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]},
            "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                      "code": "problem-list-item"}]}],
            "code": {"coding": [coding], "text": coding["display"]},
            "subject": self.ref(), "onsetDateTime": self.day(days_ago), "recordedDate": self.day(days_ago),
        })

    def lab(self, orderable: str, value: float, unit: str, days_ago: int) -> None:
        self.out["Observation"].append({
            "resourceType": "Observation", "id": self._id("lab"), "status": "final",
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
            "code": {"coding": [_orderable(orderable)]}, "subject": self.ref(),
            "effectiveDateTime": self.day(days_ago) + "T08:00:00Z",
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        })

    def vitals(self, count: int) -> None:
        for _ in range(count):
            name = self.rng.choice(VITALS)
            self.out["Observation"].append({
                "resourceType": "Observation", "id": self._id("vs"), "status": "final",
                "category": [{"coding": [{"system": OBS_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}],
                "code": {"text": name}, "subject": self.ref(),
                "effectiveDateTime": self.day(self.rng.randint(1, 700)) + "T10:00:00Z",
                "valueQuantity": {"value": round(self.rng.uniform(30, 190), 1)},
            })

    def encounters(self, count: int) -> None:
        for _ in range(count):
            start = self.day(self.rng.randint(1, 900))
            self.out["Encounter"].append({
                "resourceType": "Encounter", "id": self._id("enc"), "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                "subject": self.ref(), "period": {"start": start + "T09:00:00Z", "end": start + "T09:30:00Z"},
            })

    def radiograph(self, days_ago: int, finding: bool) -> None:
        when = self.day(days_ago)
        study = self._id("xr-study")
        self.out["ImagingStudy"].append({
            "resourceType": "ImagingStudy", "id": study, "status": "available",
            "modality": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CR"}],
            "subject": self.ref(), "started": when + "T09:30:00Z", "description": "XR Foot 3 Views",
            "procedureCode": [{"coding": [_orderable("xr-foot-3-views")]}],
        })
        conclusion = ("Soft tissue calcification of the foot." if finding else "No acute osseous abnormality.")
        self.out["DiagnosticReport"].append({
            "resourceType": "DiagnosticReport", "id": self._id("xr-report"), "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
            "code": {"coding": [_orderable("xr-foot-3-views")]}, "subject": self.ref(),
            "effectiveDateTime": when + "T09:30:00Z", "issued": when + "T12:00:00Z",
            "imagingStudy": [{"reference": f"ImagingStudy/{study}"}], "conclusion": conclusion,
        })

    def lines(self) -> dict[str, list[bytes]]:
        return {t: [orjson.dumps(r) for r in rs] for t, rs in self.out.items()}


def _background(p: _Patient, extra_kb: int = 0) -> None:
    """What most of an export is: visits, vital signs, a few labs, common conditions. `extra_kb`: about that
    many more KB of visits and vital signs per patient (real exports hold ~1.3 MB per patient)."""
    r = p.rng
    p.patient()
    extra = extra_kb * 1024 // 330  # a visit or a vital sign is ~330 bytes
    p.encounters(r.randint(3, 8) + extra // 2)
    p.vitals(r.randint(6, 14) + extra - extra // 2)
    if r.random() < 0.3:
        p.condition(_coding("diabetes", 1), r.randint(200, 3000))
    if r.random() < 0.5:
        p.lab("lab-creatinine", round(r.uniform(0.6, 1.3), 2), "mg/dL", r.randint(1, 400))
    if r.random() < 0.1:
        p.radiograph(r.randint(10, 600), finding=False)


def _in_pathway(p: _Patient, story: int) -> None:
    """Four stories: no radiograph yet (initial-radiograph), metastatic work-up missing labs, diabetic foot
    with an ulcer (osteomyelitis rule-out), and everything done."""
    r = p.rng
    calc = _coding("calcification-foot-site", r.randrange(len(load_valuesets()["calcification-foot-site"].members)))
    onset = r.randint(20, 400)
    p.condition(calc, onset)
    if story == 0:
        return
    p.radiograph(r.randint(5, 60), finding=True)
    if story == 1:
        p.condition(_coding("ckd-stage-3-5", 0), 900)
        p.lab("lab-calcium", 10.9, "mg/dL", 20)
    elif story == 2:
        p.condition(_coding("diabetes", 1), 1500)
        p.condition(_coding("foot-ulcer", 1), 30)
    else:
        for name, value, unit in (("lab-calcium", 9.4, "mg/dL"), ("lab-phosphate", 3.5, "mg/dL"),
                                  ("lab-pth", 40.0, "pg/mL"), ("lab-creatinine", 0.9, "mg/dL")):
            p.lab(name, value, unit, 15)


def generate_export(out: Path, *, patients: int, prevalence: float = 0.05, seed: int = 17, today: date | None = None,
                    gzip_files: bool = False, files_per_type: int = 1, extra_kb: int = 0) -> JSON:
    """Write the export (NDJSON per type, split into `files_per_type` files, and a complete-status manifest)."""
    today = today or date.today()
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    suffix = ".ndjson.gz" if gzip_files else ".ndjson"
    handles: dict[tuple[str, int], Any] = {}
    counts: dict[tuple[str, int], int] = {}

    def handle(kind: str, part: int) -> Any:
        if (kind, part) not in handles:
            path = out / f"{kind}.{part:03d}{suffix}"
            handles[(kind, part)] = gzip.open(path, "wb", compresslevel=1) if gzip_files else open(path, "wb")  # noqa: SIM115
            counts[(kind, part)] = 0
        return handles[(kind, part)]

    in_pathway = 0
    for number in range(patients):
        p = _Patient(f"pt-{number:07d}", today, random.Random(rng.getrandbits(64)))
        _background(p, extra_kb)
        if rng.random() < prevalence:
            _in_pathway(p, in_pathway % 4)
            in_pathway += 1
        part = number * files_per_type // max(patients, 1)
        for kind, lines in p.lines().items():
            if lines:
                h = handle(kind, part)
                h.write(b"\n".join(lines) + b"\n")
                counts[(kind, part)] += len(lines)
    for h in handles.values():
        h.close()
    manifest = {
        "transactionTime": f"{today.isoformat()}T00:00:00Z",
        "request": "urn:cds-service-screen:generate/$export",
        "requiresAccessToken": False,
        "output": [{"type": kind, "url": f"{kind}.{part:03d}{suffix}", "count": counts[(kind, part)]}
                   for kind, part in sorted(counts)],
        "error": [],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return {"patients": patients, "in_pathway": in_pathway, "files": len(counts)}
