"""Big charts, generated (never hand-written): years of history on a FHIR server that pages.

A seeded `random.Random` makes every run write the same resources. Dates are `{{today-Nd}}` tokens, so the
charts never age: what is recent stays recent.
"""

from __future__ import annotations

import random
from typing import Any

from fhir_fixtures.ehr.builders import (
    ICD10CM,
    LOINC,
    SNOMED,
    concept,
    local,
    observation,
    order,
    patient,
    problem,
    procedure,
    report,
    study,
)
from fhir_fixtures.ehr.stories import MRI_FOOT_LEFT, XR_FOOT_LEFT, Story, drafts_for

__all__ = ["big_dialysis", "big_history"]

JSON = dict[str, Any]


def _day(days: int, time: str = "T07:30:00Z") -> str:
    return f"{{{{today-{days}d}}}}{time}"


def big_dialysis() -> Story:
    """Three years of dialysis for end-stage renal disease with renal hyperparathyroidism: a weekly encounter
    diagnosis for two years, weekly calcium, phosphate, creatinine and hemoglobin and a monthly PTH for three
    years (the first half under the lab's old local codes, then LOINC), monthly chest radiographs; and a
    finely speckled soft tissue calcification of the left foot on a radiograph 20 days ago. The latest
    phosphate and PTH are high. A phosphate is drafted. Over 800 resources."""
    pid = "ehr-big-dialysis"
    rng = random.Random(7031)
    resources: list[JSON] = [patient(pid, gender="male", birth_date="1955-10-10")]
    resources.append(problem(pid, "esrd", (ICD10CM, "N18.6", "End stage renal disease"), clinical="active",
                             category="problem-list-item", onset="{{today-160w}}"))
    resources.append(problem(pid, "hpt", (ICD10CM, "N25.81", "Secondary hyperparathyroidism of renal origin"),
                             clinical="active", category="problem-list-item", onset="{{today-100w}}"))
    resources.append(problem(pid, "calc", (ICD10CM, "M61.472", "Other calcification of muscle, left ankle and foot"),
                             clinical="active", category="problem-list-item", onset="{{today-5w}}"))
    for week in range(104):  # an encounter diagnosis at every weekly dialysis visit, no clinicalStatus
        resources.append(problem(pid, f"enc-{week}", local("problems", "ESRD-HD", "ESRD on hemodialysis"),
                                 (ICD10CM, "N18.6"), recorded=_day(7 * week + 1, "")))
    tests = (
        ("ca", "CA", "CALCIUM", (LOINC, "17861-6"), "mg/dL", (8.6, 9.8)),
        ("phos", "PHOS", "PHOSPHORUS", (LOINC, "2777-1"), "mg/dL", (3.8, 5.6)),
        ("creat", "CREA", "CREATININE", (LOINC, "2160-0"), "mg/dL", (6.0, 8.5)),
        ("hgb", "HGB", "HEMOGLOBIN", None, "g/dL", (9.5, 11.5)),
    )
    for week in range(156):
        days = 7 * week + 3
        for suffix, code, name, loinc, unit, (low, high) in tests:
            value = round(rng.uniform(low, high), 1)
            if suffix == "phos" and week == 0:
                value = 6.8  # the latest phosphate is high
            coding = loinc if (loinc is not None and week < 78) else local("lab", code, name)
            resources.append(observation(pid, f"{suffix}-{week}", coding, when=_day(days), value=(value, unit)))
    for month in range(36):
        days = 30 * month + 3
        value = 450 if month == 0 else round(rng.uniform(150, 420))
        coding = (LOINC, "2731-8") if month < 18 else local("lab", "PTHI", "PTH INTACT")
        resources.append(observation(pid, f"pth-{month}", coding, when=_day(days), value=(value, "pg/mL")))
    for month in range(24):
        resources.append(report(pid, f"cxr-{month}", local("rad", "XRCH2", "XR CHEST 2 VIEWS"),
                                when=_day(30 * month + 11, "T10:00:00Z"),
                                conclusion="Stable cardiomegaly. No pleural effusion."))
    resources.append(report(pid, "foot-xr", XR_FOOT_LEFT, when=_day(20, "T09:00:00Z"),
                            conclusion="Finely speckled soft tissue calcification of the left forefoot."))
    phosphate = order(pid, "draft-phos", (LOINC, "2777-1", "Phosphate [Mass/volume] in Serum or Plasma"))
    return resources, drafts_for([phosphate], [phosphate], [phosphate])


def big_history() -> Story:
    """Ten years of record: 160 problems (most resolved), 300 radiology reports and 200 studies of the chest
    and knees, 120 procedures; and a calcified nodule in the plantar soft tissue of the left foot, known from
    a text-only problem and a foot radiograph 100 days ago (outside the 90-day lookback) and another three
    years ago. No labs. A left-foot MRI is drafted. Over 780 resources."""
    pid = "ehr-big-history"
    rng = random.Random(9127)
    resources: list[JSON] = [patient(pid, gender="female", birth_date="1948-05-19")]
    complaints = ("Acute bronchitis", "Viral upper respiratory infection", "Low back pain", "Sprain of right knee",
                  "Urinary tract infection", "Contact dermatitis", "Gastroenteritis", "Insomnia")
    for index in range(160):
        resources.append(problem(pid, f"p-{index}", text=rng.choice(complaints),
                                 clinical="resolved" if index % 5 else "active",
                                 recorded=_day(rng.randint(30, 3650), "")))
    resources.append(problem(pid, "calc", text="Calcified nodule, plantar soft tissue of the left foot",
                             clinical="active", category="problem-list-item", onset="{{today-52w}}"))
    resources.append(problem(pid, "dm", (SNOMED, "44054006"), clinical="active", category="problem-list-item"))
    parts = (("XRCH2", "XR CHEST 2 VIEWS"), ("XRKNR", "XR KNEE RIGHT 3 VIEWS"), ("XRKNL", "XR KNEE LEFT 3 VIEWS"))
    for index in range(300):
        code, name = parts[index % 3]
        days = 12 * index + 7
        resources.append(report(pid, f"rad-{index}", local("rad", code, name), when=_day(days, "T11:00:00Z"),
                                conclusion="No acute osseous abnormality."))
        if index < 200:
            resources.append(study(pid, f"study-{index}", started=_day(days, "T10:40:00Z"), modality="CR",
                                   description=name))
    for index in range(120):
        resources.append(procedure(pid, f"proc-{index}", text="Physical therapy session",
                                   when=_day(30 * index + 5, "T15:00:00Z")))
    resources.append(report(pid, "foot-xr", XR_FOOT_LEFT, when=_day(100, "T09:00:00Z"),
                            conclusion="Calcified nodule in the plantar soft tissue of the left foot."))
    resources.append(report(pid, "foot-xr-old", XR_FOOT_LEFT, when=_day(1100, "T09:00:00Z"),
                            conclusion="Small calcified nodule in the plantar soft tissue of the left foot."))
    mri = order(pid, "draft-mri", MRI_FOOT_LEFT, body_site=concept(text="Left foot"))
    return resources, drafts_for([mri], [mri], [mri])
