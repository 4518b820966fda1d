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
         "Encounter", "ExplanationOfBenefit")
# Per-patient size of a real export: ~1.3 MB of NDJSON (issue 17: ~1.3 TB for 1M patients). The benchmark
# generates this much by default (`bulk_kb`); the fixture-shaped core alone is ~6 KB.
REAL_KB_PER_PATIENT = 1300
# How that bulk is shared, after the make-up of Synthea-style exports (claims and visits, vital signs,
# routine labs): claims 45 %, vital signs 30 %, visits 15 %, routine labs 10 % of the bytes.
BULK_SHARES = (("ExplanationOfBenefit", 0.45), ("vital-signs", 0.30), ("Encounter", 0.15), ("laboratory", 0.10))
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
        self.raw: dict[str, list[bytes]] = {}  # lines already serialised (bulk)
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

    def bulk(self, kb: int) -> None:
        """About `kb` KB more of what a real record is mostly made of, in BULK_SHARES (serialised from byte
        templates: a 1.3 MB patient is thousands of lines). No code of a value set, so
        the bulk never changes a judgement (routine labs carry LOINC codes of tests the pathway does not read);
        they are "laboratory" Observations, which the hooks' `laboratory` query returns (copied by pass 1,
        parsed and read for a patient in the pathway, as a hook would)."""
        r, pid = self.rng, self.pid.encode()
        for kind, share in BULK_SHARES:
            template = _BULK[kind]
            resource_type = b"Observation" if kind in ("vital-signs", "laboratory") else kind.encode()
            lines = self.raw.setdefault(resource_type.decode(), [])
            for _ in range(max(1, int(kb * 1024 * share) // _BULK_SIZE[kind])):
                self.n += 1
                made = template[self.n % len(template)] if isinstance(template, tuple) else template
                lines.append(made % {b"pid": pid, b"n": self.n, b"day": self.day(r.randint(1, 3000)).encode(),
                                          b"v": r.randint(30, 190)})

    def lines(self) -> dict[str, list[bytes]]:
        made = {t: [orjson.dumps(r) for r in rs] for t, rs in self.out.items()}
        for kind, raw in self.raw.items():
            made[kind] = made.get(kind, []) + raw
        return made


def _template(resource: JSON) -> bytes:
    """A resource as NDJSON bytes with %(pid)s, %(n)d, %(day)s, %(v)d slots (ids, dates and values vary)."""
    return orjson.dumps(resource).replace(b"%", b"%%").replace(b"@PID", b"%(pid)s").replace(b"@N", b"%(n)d") \
        .replace(b"@DAY", b"%(day)s").replace(b'"@V"', b"%(v)d")


_REF = {"reference": "Patient/@PID"}
# Routine labs the pathway does not read, LOINC-coded as real results are (codes and names verified in
# reference/terminology.md; none is in guideline/valuesets.toml).
_ROUTINE_LABS = (("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%"),
                 ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL"),
                 ("26464-8", "Leukocytes [#/volume] in Blood", "10*3/uL"),
                 ("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", "U/L"))
_BULK = {
    "vital-signs": _template({
        "resourceType": "Observation", "id": "@PID-vs-@N", "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"text": "Heart rate"}, "subject": _REF, "encounter": {"reference": "Encounter/@PID-enc-@N"},
        "effectiveDateTime": "@DAYT10:00:00Z", "issued": "@DAYT10:05:00.000Z",
        "valueQuantity": {"value": "@V", "unit": "/min"}}),
    "laboratory": tuple(_template({
        "resourceType": "Observation", "id": "@PID-rl-@N", "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}], "text": display},
        "subject": _REF, "encounter": {"reference": "Encounter/@PID-enc-@N"}, "effectiveDateTime": "@DAYT08:00:00Z",
        "issued": "@DAYT11:00:00.000Z", "valueQuantity": {"value": "@V", "unit": unit}})
        for code, display, unit in _ROUTINE_LABS),
    "Encounter": _template({
        "resourceType": "Encounter", "id": "@PID-enc-@N", "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"text": "General examination of patient"}], "subject": _REF,
        "participant": [{"individual": {"reference": "Practitioner/pr-@N", "display": "Dr. Clinic Physician"}}],
        "period": {"start": "@DAYT09:00:00Z", "end": "@DAYT09:30:00Z"},
        "serviceProvider": {"reference": "Organization/org-1", "display": "General Hospital"}}),
    "ExplanationOfBenefit": _template({
        "resourceType": "ExplanationOfBenefit", "id": "@PID-eob-@N", "status": "active",
        "identifier": [{"system": "urn:local:claims", "value": "@PID-claim-@N"}],
        "type": {"text": "Professional claim"}, "use": "claim", "patient": _REF,
        "billablePeriod": {"start": "@DAYT09:00:00Z", "end": "@DAYT09:30:00Z"}, "created": "@DAYT09:30:00Z",
        "insurer": {"display": "Health Insurance Plan"}, "provider": {"reference": "Practitioner/pr-@N"},
        "facility": {"reference": "Location/loc-1", "display": "General Hospital"},
        "claim": {"reference": "Claim/@PID-claim-@N"}, "outcome": "complete",
        "careTeam": [{"sequence": 1, "provider": {"reference": "Practitioner/pr-@N"}, "role": {"text": "Primary"}}],
        "insurance": [{"focal": True, "coverage": {"display": "Health Insurance Plan"}}],
        "item": [{"sequence": i, "productOrService": {"text": f"Billed service {i}"},
                  "servicedPeriod": {"start": "@DAYT09:00:00Z", "end": "@DAYT09:30:00Z"},
                  "encounter": [{"reference": "Encounter/@PID-enc-@N"}],
                  "net": {"value": "@V", "currency": "USD"},
                  "adjudication": [{"category": {"text": f"Line {what} amount"},
                                    "amount": {"value": "@V", "currency": "USD"}} for what in ("submitted", "allowed")]}
                 for i in range(1, 5)],
        "total": [{"category": {"text": "Submitted amount"}, "amount": {"value": "@V", "currency": "USD"}}],
        "payment": {"amount": {"value": "@V", "currency": "USD"}}}),
}
_BULK_SIZE = {k: len((t[0] if isinstance(t, tuple) else t) % {b"pid": b"pt-0000000", b"n": 100, b"day": b"2027-01-01",
                                                              b"v": 100}) + 1 for k, t in _BULK.items()}


def _background(p: _Patient, extra_kb: int = 0, bulk_kb: int = 0) -> None:
    """What most of an export is: visits, vital signs, a few labs, common conditions. `extra_kb`: about that
    many more KB of visits and vital signs (the fixture shapes); `bulk_kb`: about that many KB of a real
    record's bulk (`_Patient.bulk`; REAL_KB_PER_PATIENT makes a patient the size of a real export's)."""
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
    if bulk_kb:
        p.bulk(bulk_kb)


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


def sample_patient(today: date) -> tuple[str, list[JSON]]:
    """One synthetic in-pathway patient (a diabetic foot with an ulcer: several cards), as (id, resources):
    what `partition.warm_up` judges once so that forked workers start with the hook path warmed."""
    p = _Patient("warm-up", today, random.Random(17))
    _background(p)
    _in_pathway(p, 2)
    return p.pid, [orjson.loads(line) for lines in p.lines().values() for line in lines]


def generate_export(out: Path, *, patients: int, prevalence: float = 0.05, seed: int = 17, today: date | None = None,
                    gzip_files: bool = False, files_per_type: int = 1, extra_kb: int = 0,
                    bulk_kb: int = 0) -> JSON:
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
        _background(p, extra_kb, bulk_kb)
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
