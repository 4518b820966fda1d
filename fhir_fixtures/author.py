"""The fixture patients, written as stories. `python -m fhir_fixtures.author` writes them out as
`bundles/<patient>.json` (FHIR R4 transaction Bundles, PUT by id) and `drafts/<patient>.json` (the draft
orders of the order hooks). The JSON files are what everything else reads; this module is how they are
authored, and a test keeps the two in sync.

Codes: only from shared/reference/terminology.md. Dates: tokens relative to the evaluation day.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fhir_fixtures.builders import (
    ICD10CM,
    LOINC,
    SNOMED,
    cc,
    condition,
    culture,
    diagnostic_report,
    imaging_study,
    lab,
    patient,
    service_request,
)

__all__ = ["AUTHORS", "Fixture", "authored", "bundle_of", "main"]

JSON = dict[str, Any]
Fixture = tuple[list[JSON], JSON]  # resources, drafts per hook

FIXTURES_DIR = Path(__file__).resolve().parent

# --- terminology used below (terminology.md sections 2-5) ---------------------------------------
FOOT = (SNOMED, "56459004", "Foot structure")
ANKLE = (SNOMED, "344001", "Ankle region structure")
HEEL = (SNOMED, "76853006", "Heel structure")
MODERATE = (SNOMED, "6736007", "Moderate")
SEVERE = (SNOMED, "24484000", "Severe")

XR_FOOT_3 = (LOINC, "36305-1", "XR Foot 3 Views")
XR_FOOT_R3 = (LOINC, "37699-6", "XR Foot - right 3 Views")
XR_FOOT_L3 = (LOINC, "36307-7", "XR Foot - left 3 Views")
XR_FOOT_L2 = (LOINC, "38846-2", "XR Foot - left 2 Views")
XR_FOOT_R2 = (LOINC, "37697-0", "XR Foot - right 2 Views")
MR_FOOT_R = (LOINC, "36471-1", "MR Foot - right WO contrast")
MR_FOOT_L = (LOINC, "36469-5", "MR Foot - left WO contrast")
MR_FOOT_R_WWO = (LOINC, "36346-5", "MR Foot - right WO and W contrast IV")
CT_FOOT = (LOINC, "36466-1", "CT Foot WO contrast")
CT_FOOT_R = (LOINC, "36470-3", "CT Foot - right WO contrast")
CT_FOOT_L = (LOINC, "36468-7", "CT Foot - left WO contrast")
US_LE_R = (LOINC, "38051-9", "US Lower extremity - right")
US_LE_L = (LOINC, "38040-2", "US Lower extremity - left")
XR_FOOT_SCT = (SNOMED, "1290452004", "Plain X-ray of foot (procedure)")

CALCIUM_MASS = (LOINC, "17861-6", "Calcium [Mass/volume] in Serum or Plasma")
CALCIUM_MOLES = (LOINC, "2000-8", "Calcium [Moles/volume] in Serum or Plasma")
PHOSPHATE_MASS = (LOINC, "2777-1", "Phosphate [Mass/volume] in Serum or Plasma")
PHOSPHATE_MOLES = (LOINC, "14879-1", "Phosphate [Moles/volume] in Serum or Plasma")
PTH_MASS = (LOINC, "2731-8", "Parathyrin.intact [Mass/volume] in Serum or Plasma")
PTH_MOLES = (LOINC, "14866-8", "Parathyrin.intact [Moles/volume] in Serum or Plasma")
CREATININE_MASS = (LOINC, "2160-0", "Creatinine [Mass/volume] in Serum or Plasma")
CREATININE_MOLES = (LOINC, "14682-9", "Creatinine [Moles/volume] in Serum or Plasma")
EGFR_2021 = (
    LOINC,
    "98979-8",
    "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)",
)
EGFR_2009 = (
    LOINC,
    "62238-1",
    "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)",
)
VITD_25OH = (LOINC, "62292-8", "25-Hydroxyvitamin D2+25-Hydroxyvitamin D3 [Mass/volume] in Serum or Plasma")
VITD3_MOLES = (LOINC, "14635-7", "25-hydroxyvitamin D3 [Moles/volume] in Serum or Plasma")
ESR = (LOINC, "4537-7", "Erythrocyte sedimentation rate by Westergren method")
CRP = (LOINC, "1988-5", "C reactive protein [Mass/volume] in Serum or Plasma")
HBA1C = (LOINC, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood")
WOUND_CULTURE = (LOINC, "6462-6", "Bacteria identified in Wound by Culture")

PATHOLOGIC_CALCIFICATION = (SNOMED, "18115005", "Pathologic calcification (morphology)")
DIABETES_T2 = (SNOMED, "44054006", "Diabetes mellitus type 2 (disorder)")


def _foot(text: str, site: tuple[str, str, str] = FOOT) -> JSON:
    return cc(site, text=text)


def _draft(
    pid: str, suffix: str, code: JSON, *, category: str, occurrence: str | None = "{{today}}", **kw: Any
) -> JSON:
    return service_request(
        pid, suffix, code, status="draft", authored="{{today}}", category=category, occurrence=occurrence, **kw
    )


def _drafts(select: list[JSON], selections: list[JSON], sign: list[JSON]) -> JSON:
    return {
        "order-select": {
            "selections": [f"{r['resourceType']}/{r['id']}" for r in selections],
            "draftOrders": select,
        },
        "order-sign": {"draftOrders": sign},
    }


# --- in the pathway -------------------------------------------------------------------------------


def tendinitis_no_xr() -> Fixture:
    """Calcific tendinitis of the right ankle/foot for 3 weeks, painful, never X-rayed; MRI drafted."""
    pid = "fc-tendinitis-no-xr"
    pt = patient(pid, family="Okafor", given="Adaeze", gender="female", birth_date="1979-04-12")
    calc = condition(
        pid,
        "calc",
        (ICD10CM, "M65.271", "Calcific tendinitis, right ankle and foot"),
        text="Calcific tendinitis, right ankle and foot",
        onset="{{today-3w}}",
    )
    pain = condition(
        pid,
        "pain",
        (ICD10CM, "M79.671", "Pain in right foot"),
        (SNOMED, "47933007", "Foot pain (finding)"),
        onset="{{today-3w}}",
    )
    mri = _draft(pid, "draft-mri", cc(MR_FOOT_R), category="Imaging", reasons=(calc,), body_site=_foot("Right foot"))
    return [pt, calc, pain], _drafts([mri], [mri], [mri])


def mass_undetermined() -> Fixture:
    """Provisional mass of the foot; one radiograph 10 days ago; only a calcium result so far."""
    pid = "fc-mass-undetermined"
    pt = patient(pid, family="Lindqvist", given="Erik", gender="male", birth_date="1966-09-30")
    mass = condition(
        pid,
        "mass",
        (SNOMED, "442098006", "Mass of foot"),
        text="Palpable mass, dorsum of foot",
        verification="provisional",
        onset="{{today-20d}}",
    )
    study = imaging_study(
        pid, "xr-study", "DX", "{{today-10d}}", procedure=XR_FOOT_3, body_site=FOOT, description="XR Foot 3 Views"
    )
    report = diagnostic_report(
        pid,
        "xr-report",
        XR_FOOT_3,
        "{{today-10d}}",
        study=study,
        conclusion="Soft tissue mass over the dorsum of the midfoot with faint punctate calcification. "
        "Osseous structures intact.",
        conclusion_codes=(PATHOLOGIC_CALCIFICATION,),
    )
    calcium = lab(pid, "calcium", CALCIUM_MOLES, 2.31, "mmol/L", "{{today-12d}}", interpretation="N")
    ct = _draft(pid, "draft-ct", cc(CT_FOOT), category="Imaging", reasons=(mass,), body_site=_foot("Foot"))
    phosphate = _draft(pid, "draft-phosphate", cc(PHOSPHATE_MASS), category="Laboratory", reasons=(mass,))
    return [pt, mass, study, calcium, report], _drafts([ct], [ct], [ct, phosphate])


def ckd_metastatic() -> Fixture:
    """CKD stage 4 with renal hyperparathyroidism and a healed crush injury of the foot; finely speckled
    calcification of the left foot, all labs abnormal this week; a duplicate calcium is drafted."""
    pid = "fc-ckd-metastatic"
    pt = patient(pid, family="Moreau", given="Jean-Luc", gender="male", birth_date="1951-01-23")
    ckd = condition(
        pid,
        "ckd",
        (ICD10CM, "N18.4", "Chronic kidney disease, stage 4 (severe)"),
        (SNOMED, "431857002", "Chronic kidney disease stage 4 (disorder)"),
        onset="{{today-150w}}",
    )
    hpt = condition(
        pid, "hpt", (ICD10CM, "N25.81", "Secondary hyperparathyroidism of renal origin"), onset="{{today-60w}}"
    )
    calc = condition(
        pid, "calc", (ICD10CM, "M61.472", "Other calcification of muscle, left ankle and foot"), onset="{{today-4w}}"
    )
    # a second class: damaged tissue (dystrophic) beside the abnormal metabolism (metastatic)
    # resolved, yet it still explains a dystrophic calcification (local default in nodes.toml)
    injury = condition(
        pid,
        "injury",
        (SNOMED, "43422002", "Crushing injury of foot"),
        clinical="resolved",
        onset="{{today-60w}}",
        abatement="{{today-50w}}",
        category="encounter-diagnosis",
    )
    study = imaging_study(
        pid,
        "xr-study",
        "CR",
        "{{today-25d}}",
        procedure=XR_FOOT_L3,
        body_site=FOOT,
        description="XR Foot - left 3 Views",
    )
    report = diagnostic_report(
        pid,
        "xr-report",
        XR_FOOT_L3,
        "{{today-25d}}",
        study=study,
        conclusion="Finely speckled calcification throughout the soft tissues of the left forefoot and "
        "hindfoot. Osseous structures intact.",
    )
    labs = [
        lab(pid, "calcium", CALCIUM_MOLES, 2.75, "mmol/L", "{{today-5d}}", interpretation="H"),
        lab(pid, "phosphate", PHOSPHATE_MASS, 6.1, "mg/dL", "{{today-5d}}", interpretation="H"),
        lab(pid, "pth", PTH_MASS, 412, "pg/mL", "{{today-5d}}", interpretation="H"),
        lab(pid, "creatinine", CREATININE_MASS, 2.9, "mg/dL", "{{today-5d}}", interpretation="H"),
        lab(pid, "egfr", EGFR_2021, 22, "mL/min/1.73m2", "{{today-5d}}", interpretation="L"),
    ]
    calcium_draft = _draft(pid, "draft-calcium", cc(CALCIUM_MASS), category="Laboratory")
    xr_draft = _draft(
        pid, "draft-xr", cc(XR_FOOT_L3), category="Imaging", reasons=(calc,), body_site=_foot("Left foot")
    )
    return (
        [pt, ckd, hpt, calc, injury, study, *labs, report],
        _drafts([calcium_draft], [calcium_draft], [calcium_draft, xr_draft]),
    )


def diabetic_ulcer() -> Fixture:
    """Type 2 diabetes with a right forefoot ulcer; calcification found only on a radiograph 5 days ago;
    ESR high, no CRP; metabolic labs normal; a too-early repeat radiograph is drafted."""
    pid = "fc-diabetic-ulcer"
    pt = patient(pid, family="Haddad", given="Samira", gender="female", birth_date="1958-06-02")
    dm = condition(
        pid,
        "dm",
        (ICD10CM, "E11.621", "Type 2 diabetes mellitus with foot ulcer"),
        (SNOMED, "44054006", "Diabetes mellitus type 2 (disorder)"),
        onset="{{today-400w}}",
    )
    ulcer = condition(
        pid,
        "ulcer",
        (SNOMED, "371087003", "Diabetic foot ulcer"),
        text="Diabetic ulcer, plantar right first metatarsal head",
        body_site=_foot("Right foot, plantar forefoot"),
        onset="{{today-6w}}",
    )
    report = diagnostic_report(
        pid,
        "xr-report",
        XR_FOOT_R3,
        "{{today-5d}}",
        conclusion="Soft tissue calcification along the plantar aspect of the right forefoot beneath the "
        "first metatarsal head. No soft tissue gas. Osseous structures intact.",
        conclusion_codes=(PATHOLOGIC_CALCIFICATION,),
    )
    labs = [
        lab(pid, "esr", ESR, 42, "mm/h", "{{today-10d}}", interpretation="H"),
        lab(pid, "hba1c", HBA1C, 8.1, "%", "{{today-10d}}", interpretation="H"),
        lab(pid, "calcium", CALCIUM_MASS, 9.4, "mg/dL", "{{today-10d}}"),
        lab(pid, "phosphate", PHOSPHATE_MOLES, 1.10, "mmol/L", "{{today-10d}}"),
        lab(pid, "pth", PTH_MOLES, 4.2, "pmol/L", "{{today-10d}}"),
        lab(pid, "creatinine", CREATININE_MOLES, 80, "umol/L", "{{today-10d}}"),
    ]
    xr_draft = _draft(
        pid, "draft-xr", cc(XR_FOOT_R3), category="Imaging", occurrence="{{today+3d}}", body_site=_foot("Right foot")
    )
    return [pt, dm, ulcer, *labs, report], _drafts([xr_draft], [xr_draft], [xr_draft])


def dfi_osteomyelitis() -> Fixture:
    """Diabetic foot infection of the left foot with confirmed osteomyelitis and a positive wound culture;
    provisional soft tissue calcification on a radiograph 7 days ago; a CT is drafted."""
    pid = "fc-dfi-osteomyelitis"
    pt = patient(pid, family="Nakamura", given="Kenji", gender="male", birth_date="1962-11-05")
    dm = condition(pid, "dm", DIABETES_T2, onset="{{today-500w}}")
    cellulitis = condition(
        pid,
        "cellulitis",
        (SNOMED, "200687002", "Cellulitis in diabetic foot (disorder)"),
        (ICD10CM, "L03.116", "Cellulitis of left lower limb"),
        body_site=_foot("Left foot"),
        severity=MODERATE,
        onset="{{today-6d}}",
        category="encounter-diagnosis",
    )
    osteo = condition(
        pid,
        "osteo",
        (SNOMED, "1077811000119107", "Osteomyelitis of left foot (disorder)"),
        (ICD10CM, "M86.172", "Other acute osteomyelitis, left ankle and foot"),
        onset="{{today-5d}}",
        category="encounter-diagnosis",
    )
    calc = condition(
        pid,
        "calc",
        PATHOLOGIC_CALCIFICATION,
        text="Soft tissue calcification, left foot",
        body_site=_foot("Left foot"),
        verification="provisional",
        onset="{{today-10d}}",
    )
    study = imaging_study(
        pid,
        "xr-study",
        "DX",
        "{{today-7d}}",
        procedure=XR_FOOT_L3,
        body_site=FOOT,
        description="XR Foot - left 3 Views",
    )
    report = diagnostic_report(
        pid,
        "xr-report",
        XR_FOOT_L3,
        "{{today-7d}}",
        study=study,
        conclusion="Soft tissue swelling and calcification of the left forefoot medial to the first "
        "metatarsophalangeal joint.",
    )
    labs = [
        culture(
            pid, "culture", WOUND_CULTURE, "Staphylococcus aureus, heavy growth", "{{today-4d}}", interpretation="A"
        ),
        lab(pid, "crp", CRP, 85, "mg/L", "{{today-6d}}", interpretation="H"),
        lab(pid, "esr", ESR, 70, "mm/h", "{{today-6d}}", interpretation="H"),
    ]
    ct = _draft(pid, "draft-ct", cc(CT_FOOT_L), category="Imaging", reasons=(osteo,), body_site=_foot("Left foot"))
    antibiotic = {  # text-only: no verified RxNorm code in terminology.md
        "resourceType": "MedicationRequest",
        "id": f"{pid}-draft-antibiotic",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": cc(text="Cefazolin 2 g IV every 8 hours"),
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": "{{today}}",
        "reasonReference": [{"reference": f"Condition/{pid}-cellulitis"}],
    }
    return [pt, dm, cellulitis, osteo, calc, study, *labs, report], _drafts([ct, antibiotic], [ct], [ct, antibiotic])


def eschar_ischemia() -> Fixture:
    """Critical limb ischemia with a dry necrotic eschar of the right heel over a stable heel calcification
    (a text-only problem); labs normal by the lab's own reference range; a debridement is drafted."""
    pid = "fc-eschar-ischemia"
    pt = patient(pid, family="Kowalski", given="Irena", gender="female", birth_date="1944-02-17")
    pad = condition(
        pid, "pad", (SNOMED, "399957001", "Peripheral arterial occlusive disease (disorder)"), onset="{{today-200w}}"
    )
    cli = condition(pid, "cli", (SNOMED, "233962007", "Critical lower limb ischemia"), onset="{{today-12w}}")
    eschar = condition(
        pid,
        "eschar",
        (SNOMED, "421306004", "Necrotic eschar (disorder)"),
        text="Dry necrotic eschar, right heel",
        body_site=_foot("Right heel", HEEL),
        onset="{{today-4w}}",
    )
    calc = condition(
        pid,
        "calc",
        text="Calcinosis of the right heel pad",
        body_site=_foot("Right heel", HEEL),
        onset="{{today-10w}}",
    )
    first = diagnostic_report(
        pid,
        "xr-report-1",
        XR_FOOT_R2,
        "{{today-60d}}",
        conclusion="Calcification in the soft tissues of the posterior right heel.",
    )
    second = diagnostic_report(
        pid,
        "xr-report-2",
        XR_FOOT_R2,
        "{{today-30d}}",
        conclusion="Unchanged soft tissue calcification of the right heel.",
    )
    labs = [
        # 10.7 mg/dL is above the pathway's default range but inside this lab's own range: normal.
        lab(pid, "calcium", CALCIUM_MASS, 10.7, "mg/dL", "{{today-20d}}", low=8.6, high=10.8),
        lab(pid, "phosphate", PHOSPHATE_MASS, 3.9, "mg/dL", "{{today-20d}}", interpretation="N"),
        lab(pid, "pth", PTH_MASS, 48, "pg/mL", "{{today-20d}}", low=15, high=65),
        lab(pid, "egfr", EGFR_2009, 74, "mL/min/1.73m2", "{{today-20d}}"),
    ]
    debride = _draft(
        pid,
        "draft-debridement",
        cc((SNOMED, "312775003", "Debridement of ulcer")),
        category="Procedure",
        reasons=(eschar,),
        body_site=_foot("Right heel", HEEL),
    )
    return [pt, pad, cli, eschar, calc, *labs, first, second], _drafts([debride], [debride], [debride])


def necrotizing() -> Fixture:
    """Necrotizing fasciitis of the left foot over an old bursal calcification; last radiograph 200 days ago
    (outside the lookback); no culture yet; a CT is drafted."""
    pid = "fc-necrotizing"
    pt = patient(pid, family="Brennan", given="Patrick", gender="male", birth_date="1970-07-19")
    calc = condition(
        pid, "calc", (ICD10CM, "M71.472", "Calcium deposit in bursa, left ankle and foot"), onset="{{today-40w}}"
    )
    nf = condition(
        pid,
        "nf",
        (SNOMED, "52486002", "Necrotizing fasciitis"),
        (ICD10CM, "M72.6", "Necrotizing fasciitis"),
        body_site=_foot("Left foot, dorsum"),
        severity=SEVERE,
        onset="{{today-2d}}",
        category="encounter-diagnosis",
    )
    eschar = condition(
        pid,
        "eschar",
        (SNOMED, "409590008", "Skin eschar (disorder)"),
        body_site=_foot("Left foot, dorsum"),
        onset="{{today-1d}}",
    )  # no ischemia: debridement is not discouraged
    old_culture = culture(pid, "culture-old", WOUND_CULTURE, "No growth", "{{today-40d}}", interpretation="N")
    old = diagnostic_report(
        pid,
        "xr-report-old",
        XR_FOOT_L3,
        "{{today-200d}}",
        conclusion="Small calcific density in the soft tissues near the left first metatarsal head, likely bursal.",
    )
    ct = _draft(pid, "draft-ct", cc(CT_FOOT_L), category="Imaging", reasons=(nf,), body_site=_foot("Left foot"))
    return [pt, calc, nf, eschar, old_culture, old], _drafts([ct], [ct], [ct])


def fluffy_malignancy() -> Fixture:
    """Ossification in the right foot; the radiograph 3 days ago shows an amorphous, fluffy, confluent
    calcified mass; an MRI is drafted (after the radiograph, as the pathway wants)."""
    pid = "fc-fluffy-malignancy"
    pt = patient(pid, family="Silva", given="Mariana", gender="female", birth_date="1994-03-08")
    calc = condition(
        pid, "calc", (ICD10CM, "M61.571", "Other ossification of muscle, right ankle and foot"), onset="{{today-2w}}"
    )
    study = imaging_study(
        pid,
        "xr-study",
        "DX",
        "{{today-3d}}",
        procedure=XR_FOOT_R3,
        body_site=FOOT,
        description="XR Foot - right 3 Views",
    )
    report = diagnostic_report(
        pid,
        "xr-report",
        XR_FOOT_R3,
        "{{today-3d}}",
        study=study,
        conclusion="Amorphous, fluffy, confluent calcified mass in the plantar soft tissues of the right "
        "midfoot, concerning for soft tissue osteosarcoma.",
    )
    mri = _draft(
        pid, "draft-mri", cc(MR_FOOT_R_WWO), category="Imaging", reasons=(calc,), body_site=_foot("Right foot")
    )
    return [pt, calc, study, report], _drafts([mri], [mri], [mri])


def chronic_painful() -> Fixture:
    """Calcific tendinitis of the right foot for 10 weeks, still painful despite rest; two radiographs."""
    pid = "fc-chronic-painful"
    pt = patient(pid, family="Dubois", given="Claire", gender="female", birth_date="1972-12-01")
    calc = condition(
        pid,
        "calc",
        (ICD10CM, "M65.271", "Calcific tendinitis, right ankle and foot"),
        clinical="relapse",
        onset="{{today-10w}}",
    )  # relapse counts as active
    pain = condition(
        pid,
        "pain",
        (ICD10CM, "M79.671", "Pain in right foot"),
        (SNOMED, "47933007", "Foot pain (finding)"),
        onset="{{today-8w}}",
        recorded="{{today-2w}}",
    )
    first = diagnostic_report(
        pid,
        "xr-report-1",
        XR_FOOT_R3,
        "{{today-9w}}",
        conclusion="Calcific deposit at the insertion of the right tibialis posterior tendon.",
    )
    second = imaging_study(
        pid,
        "xr-study-2",
        "CR",
        "{{today-6w}}",
        procedure=XR_FOOT_R3,
        body_site=FOOT,
        description="XR Foot - right 3 Views, follow-up",
    )
    xr = _draft(pid, "draft-xr", cc(XR_FOOT_R3), category="Imaging", reasons=(calc,), body_site=_foot("Right foot"))
    return [pt, calc, pain, second, first], _drafts([xr], [xr], [xr])


def hypervitaminosis() -> Fixture:
    """Mass near the left ankle (differential diagnosis); big globs of calcification near the joint;
    very high vitamin D, high calcium, suppressed PTH; radiographs and an ultrasound done; PTH redrafted."""
    pid = "fc-hypervitaminosis"
    pt = patient(pid, family="Andersen", given="Maja", gender="female", birth_date="1985-08-14")
    mass = condition(
        pid,
        "mass",
        (ICD10CM, "R22.42", "Localized swelling, mass and lump, left lower limb"),
        text="Firm mass lateral to the left ankle",
        body_site=_foot("Left ankle, lateral", ANKLE),
        verification="differential",
        onset="{{today-55d}}",
    )
    first = diagnostic_report(
        pid, "xr-report-1", XR_FOOT_L2, "{{today-50d}}", conclusion="Lobulated calcific mass lateral to the left ankle."
    )
    study = imaging_study(
        pid,
        "xr-study-2",
        "DX",
        "{{today-20d}}",
        procedure=XR_FOOT_L3,
        body_site=FOOT,
        description="XR Foot - left 3 Views",
    )
    second = diagnostic_report(
        pid,
        "xr-report-2",
        XR_FOOT_L3,
        "{{today-20d}}",
        study=study,
        conclusion="Big globs of calcification adjacent to the left ankle joint, unchanged.",
    )
    us_study = imaging_study(
        pid,
        "us-study",
        "US",
        "{{today-40d}}",
        procedure=US_LE_L,
        body_site=ANKLE,
        description="US Lower extremity - left, lateral ankle",
    )
    us = diagnostic_report(
        pid,
        "us-report",
        US_LE_L,
        "{{today-40d}}",
        study=us_study,
        conclusion="Calcified soft tissue mass lateral to the left ankle without a solid vascular component.",
    )
    labs = [
        lab(pid, "vitd", VITD3_MOLES, 450, "nmol/L", "{{today-15d}}"),
        lab(pid, "calcium", CALCIUM_MASS, 10.9, "mg/dL", "{{today-15d}}", interpretation="H"),
        lab(pid, "phosphate", PHOSPHATE_MASS, 4.1, "mg/dL", "{{today-15d}}"),
        lab(pid, "pth", PTH_MASS, 9, "pg/mL", "{{today-15d}}", interpretation="L"),
        lab(pid, "creatinine", CREATININE_MASS, 0.8, "mg/dL", "{{today-15d}}"),
    ]
    pth = _draft(pid, "draft-pth", cc(PTH_MOLES), category="Laboratory")
    return ([pt, mass, study, us_study, *labs, first, second, us], _drafts([pth], [pth], [pth]))


def order_only() -> Fixture:
    """No calcification on the problem list; an ultrasound of the right foot is drafted for calcific
    tendinitis (the order's reason puts the patient in the pathway at the order hooks only)."""
    pid = "fc-order-only"
    pt = patient(pid, family="Reyes", given="Tomas", gender="male", birth_date="1988-05-27")
    labs = [
        lab(pid, "calcium", CALCIUM_MASS, 9.6, "mg/dL", "{{today-60d}}"),
        lab(pid, "phosphate", PHOSPHATE_MASS, 3.4, "mg/dL", "{{today-60d}}"),
        lab(pid, "pth", PTH_MASS, 38, "pg/mL", "{{today-60d}}"),
        lab(pid, "creatinine", CREATININE_MASS, 1.0, "mg/dL", "{{today-60d}}"),
    ]
    us = _draft(
        pid,
        "draft-us",
        cc(US_LE_R),
        category="Imaging",
        reason_codes=(cc((ICD10CM, "M65.271", "Calcific tendinitis, right ankle and foot")),),
        body_site=_foot("Right foot"),
    )
    return [pt, *labs], _drafts([us], [us], [us])


def dfi_compartment() -> Fixture:
    """Type 2 diabetes with a cutaneous abscess of the right foot and a compartment syndrome; progressive
    bone destruction on the latest (ankle) radiograph; no ESR/CRP; an ultrasound (selected) and a CT (not
    selected at order-select) are drafted."""
    pid = "fc-dfi-compartment"
    pt = patient(pid, family="Mensah", given="Abena", gender="female", birth_date="1955-05-21")
    dm = condition(pid, "dm", DIABETES_T2, onset="{{today-250w}}")
    abscess = condition(
        pid,
        "abscess",
        (ICD10CM, "L02.611", "Cutaneous abscess of right foot"),
        (SNOMED, "301706005", "Abscess of foot"),
        severity=SEVERE,
        onset="{{today-4d}}",
        category="encounter-diagnosis",
    )
    compartment = condition(
        pid,
        "compartment",
        (ICD10CM, "M79.A21", "Nontraumatic compartment syndrome of right lower extremity"),
        (SNOMED, "111245009", "Compartment syndrome"),
        body_site=_foot("Right foot"),
        onset="{{today-1d}}",
        category="encounter-diagnosis",
    )
    calc = condition(
        pid, "calc", (ICD10CM, "M71.471", "Calcium deposit in bursa, right ankle and foot"), onset="{{today-6w}}"
    )
    first = diagnostic_report(
        pid,
        "xr-report-1",
        XR_FOOT_R3,
        "{{today-30d}}",
        conclusion="Calcific density in the retrocalcaneal bursa of the right foot.",
    )
    ankle = diagnostic_report(
        pid,
        "xr-report-2",
        (LOINC, "36294-7", "XR Ankle 3 Views"),
        "{{today-2d}}",
        conclusion="Right ankle: progressive bone destruction of the posterior calcaneal tuberosity compared "
        "with the prior study; soft tissue swelling and bursal calcification.",
    )
    old_crp = lab(pid, "crp-old", CRP, 35, "mg/L", "{{today-45d}}", interpretation="H")  # outside the 30 days
    us = _draft(pid, "draft-us", cc(US_LE_R), category="Imaging", reasons=(abscess,), body_site=_foot("Right foot"))
    ct = _draft(pid, "draft-ct", cc(CT_FOOT_R), category="Imaging", reasons=(abscess,), body_site=_foot("Right foot"))
    return [pt, dm, abscess, compartment, calc, old_crp, first, ankle], _drafts([us, ct], [us], [us, ct])


def lab_flags() -> Fixture:
    """Soft tissue mass of the heel (444905003 + heel soft tissue bodySite); the only recent radiograph was
    entered in error and the last real one is 100 days old; the lab flags calcium high inside the default
    range, PTH normal by its own range, and a cancelled low eGFR does not count; an MRI is drafted."""
    pid = "fc-lab-flags"
    pt = patient(pid, family="Ivanova", given="Olga", gender="female", birth_date="1963-12-24")
    mass = condition(
        pid,
        "mass",
        (SNOMED, "444905003", "Mass of soft tissue (finding)"),
        body_site=_foot("Soft tissue of the heel", (SNOMED, "1186645004", "Structure of soft tissue of heel")),
        onset="{{today-16w}}",
    )
    old = diagnostic_report(
        pid,
        "xr-report-old",
        XR_FOOT_3,
        "{{today-100d}}",
        conclusion="Soft tissue density of the heel pad with small calcifications.",
    )
    error_study = imaging_study(
        pid,
        "xr-study-error",
        "DX",
        "{{today-10d}}",
        procedure=XR_FOOT_3,
        body_site=HEEL,
        description="XR Foot 3 Views (wrong patient)",
    )
    error_study["status"] = "entered-in-error"
    labs = [
        # 10.3 mg/dL is inside the default 8.5-10.5, but the lab flags it high: the interpretation wins.
        lab(pid, "calcium", CALCIUM_MASS, 10.3, "mg/dL", "{{today-20d}}", interpretation="H"),
        lab(pid, "phosphate", PHOSPHATE_MOLES, 0.9, "mmol/L", "{{today-20d}}"),
        # 70 pg/mL is above the default 15-65, but inside this lab's range: normal.
        lab(pid, "pth", PTH_MASS, 70, "pg/mL", "{{today-20d}}", low=10, high=75, status="preliminary"),
        lab(pid, "creatinine", CREATININE_MASS, 1.1, "mg/dL", "{{today-20d}}"),
        lab(pid, "egfr-cancelled", EGFR_2021, 40, "mL/min/1.73m2", "{{today-20d}}", status="cancelled"),
    ]
    mri = _draft(
        pid,
        "draft-mri",
        cc((LOINC, "36179-0", "MR Foot W contrast IV")),
        category="Imaging",
        reasons=(mass,),
        body_site=_foot("Heel", HEEL),
    )
    return [pt, mass, error_study, *labs, old], _drafts([mri], [mri], [mri])


def xr_ordered() -> Fixture:
    """Myositis ossificans after a crush injury of the foot 3 weeks ago; the radiograph is already ordered
    (active) but not done; a calcium is drafted."""
    pid = "fc-xr-ordered"
    pt = patient(pid, family="Tanaka", given="Yui", gender="female", birth_date="1999-09-09")
    injury = condition(
        pid,
        "injury",
        (SNOMED, "43422002", "Crushing injury of foot"),
        onset="{{today-5w}}",
        category="encounter-diagnosis",
    )
    calc = condition(
        pid,
        "calc",
        (ICD10CM, "M61.079", "Myositis ossificans traumatica, unspecified ankle and foot"),
        verification="confirmed",
        onset="{{today-3w}}",
    )
    xr = service_request(
        pid,
        "xr-order",
        cc(XR_FOOT_3),
        status="active",
        authored="{{today-2d}}",
        category="Imaging",
        occurrence="{{today+1d}}",
        reasons=(calc,),
    )
    calcium = _draft(pid, "draft-calcium", cc(CALCIUM_MASS), category="Laboratory", reasons=(calc,))
    return [pt, injury, calc, xr], _drafts([calcium], [calcium], [calcium])


def phlebolith() -> Fixture:
    """Chronic venous insufficiency; the only record of the calcification is an imaging Observation of a foot
    radiograph 12 days ago (round, dense, lamellated: phleboliths); a radiograph is drafted for later."""
    pid = "fc-phlebolith"
    pt = patient(pid, family="Rossi", given="Giulia", gender="female", birth_date="1948-04-04")
    venous = condition(
        pid,
        "venous",
        (ICD10CM, "I87.2", "Venous insufficiency (chronic) (peripheral)"),
        (SNOMED, "20696009", "Peripheral venous insufficiency"),
        onset="{{today-300w}}",
    )
    study = imaging_study(
        pid, "xr-study", "DX", "{{today-12d}}", procedure=XR_FOOT_3, body_site=ANKLE, description="XR Foot 3 Views"
    )
    finding = {
        "resourceType": "Observation",
        "id": f"{pid}-xr-finding",
        "status": "final",
        "category": [cc(("http://terminology.hl7.org/CodeSystem/observation-category", "imaging", "Imaging"))],
        "code": cc(XR_FOOT_3),
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": "{{today-12d}}T09:30:00Z",
        "derivedFrom": [{"reference": f"ImagingStudy/{pid}-xr-study"}],
        "valueString": "Several round, dense, lamellated soft tissue calcifications along the course of the great "
        "saphenous vein at the medial ankle, consistent with phleboliths.",
    }
    xr = _draft(pid, "draft-xr", cc(XR_FOOT_3), category="Imaging", occurrence="{{today+3w}}")
    return [pt, venous, study, finding], _drafts([xr], [xr], [xr])


def chondrocalcinosis() -> Fixture:
    """Provisional chondrocalcinosis of the right ankle/foot for 3 weeks; one radiograph 10 days ago shows
    chondrocalcinosis; labs complete and normal; a CT (the study for characterising it) is drafted."""
    pid = "fc-chondrocalcinosis"
    pt = patient(pid, family="Papadopoulos", given="Nikos", gender="male", birth_date="1946-11-30")
    calc = condition(
        pid,
        "calc",
        (ICD10CM, "M11.271", "Other chondrocalcinosis, right ankle and foot"),
        (SNOMED, "239838005", "Chondrocalcinosis (disorder)"),
        verification="provisional",
        onset="{{today-3w}}",
    )
    report = diagnostic_report(
        pid,
        "xr-report",
        XR_FOOT_R3,
        "{{today-10d}}",
        conclusion="Chondrocalcinosis of the right first metatarsophalangeal and talonavicular joints, with "
        "capsular calcification.",
    )
    labs = [
        lab(pid, "calcium", CALCIUM_MOLES, 2.40, "mmol/L", "{{today-8d}}", interpretation="N"),
        lab(pid, "phosphate", PHOSPHATE_MOLES, 1.05, "mmol/L", "{{today-8d}}", interpretation="N"),
        lab(pid, "pth", PTH_MOLES, 4.8, "pmol/L", "{{today-8d}}", interpretation="N"),
        lab(pid, "creatinine", CREATININE_MOLES, 92, "umol/L", "{{today-8d}}", interpretation="N"),
        lab(pid, "egfr", EGFR_2021, 71, "mL/min/1.73m2", "{{today-8d}}"),
    ]
    ct = _draft(pid, "draft-ct", cc(CT_FOOT_R), category="Imaging", reasons=(calc,), body_site=_foot("Right foot"))
    return [pt, calc, *labs, report], _drafts([ct], [ct], [ct])


# --- must stay quiet --------------------------------------------------------------------------------


def outside() -> Fixture:
    """Diabetic foot ulcer, cellulitis of the leg, calcific tendinitis of the SHOULDER, a muscle calcification
    and a thigh mass without a foot site, and a foot radiograph that reports no calcification: not in the
    pathway."""
    pid = "fc-outside"
    pt = patient(pid, family="Novak", given="Petra", gender="female", birth_date="1960-10-10")
    dm = condition(pid, "dm", DIABETES_T2, onset="{{today-300w}}")
    ulcer = condition(
        pid, "ulcer", (SNOMED, "371087003", "Diabetic foot ulcer"), body_site=_foot("Left foot"), onset="{{today-3w}}"
    )
    cellulitis = condition(
        pid,
        "cellulitis",
        (ICD10CM, "L03.116", "Cellulitis of left lower limb"),
        onset="{{today-1w}}",
        category="encounter-diagnosis",
    )
    shoulder = condition(
        pid, "shoulder", (SNOMED, "27741009", "Calcific tendinitis of shoulder"), onset="{{today-30w}}"
    )
    pain = condition(pid, "pain", (ICD10CM, "M79.672", "Pain in left foot"), onset="{{today-3w}}")
    # Calcification and mass codes that carry no foot site, and no foot bodySite: not in the pathway.
    unsited = condition(
        pid,
        "muscle-calc",
        (ICD10CM, "M61.9", "Calcification and ossification of muscle, unspecified"),
        onset="{{today-20w}}",
    )
    thigh_mass = condition(
        pid,
        "thigh-mass",
        (ICD10CM, "R22.41", "Localized swelling, mass and lump, right lower limb"),
        (SNOMED, "444905003", "Mass of soft tissue (finding)"),
        text="Mass, right anterior thigh",
        onset="{{today-10w}}",
    )
    report = diagnostic_report(
        pid,
        "xr-report",
        XR_FOOT_L3,
        "{{today-20d}}",
        conclusion="Normal alignment. No soft tissue calcification or radiopaque foreign body. No fracture.",
    )
    mri = _draft(pid, "draft-mri", cc(MR_FOOT_L), category="Imaging", reasons=(ulcer,), body_site=_foot("Left foot"))
    return [pt, dm, ulcer, cellulitis, shoulder, pain, unsited, thigh_mass, report], _drafts([mri], [mri], [mri])


def refuted() -> Fixture:
    """Every calcification on record is refuted, entered in error, resolved, inactive or in remission: not in
    the pathway."""
    pid = "fc-refuted"
    pt = patient(pid, family="Fischer", given="Lukas", gender="male", birth_date="1976-01-29")
    refuted_calc = condition(
        pid,
        "calc-refuted",
        (ICD10CM, "M65.272", "Calcific tendinitis, left ankle and foot"),
        verification="refuted",
        onset="{{today-6w}}",
    )
    error_calc = condition(
        pid,
        "calc-error",
        (ICD10CM, "M61.471", "Other calcification of muscle, right ankle and foot"),
        clinical=None,
        verification="entered-in-error",
        onset="{{today-5w}}",
    )
    resolved_mass = condition(
        pid,
        "mass-resolved",
        (SNOMED, "442098006", "Mass of foot"),
        clinical="resolved",
        onset="{{today-40w}}",
        abatement="{{today-30w}}",
    )
    inactive_calc = condition(
        pid,
        "calc-inactive",
        (ICD10CM, "M71.472", "Calcium deposit in bursa, left ankle and foot"),
        clinical="inactive",
        onset="{{today-80w}}",
    )
    remission_calc = condition(
        pid,
        "calc-remission",
        (ICD10CM, "M11.272", "Other chondrocalcinosis, left ankle and foot"),
        clinical="remission",
        onset="{{today-60w}}",
    )
    report = diagnostic_report(
        pid,
        "xr-report-error",
        XR_FOOT_L3,
        "{{today-15d}}",
        status="entered-in-error",
        conclusion="Soft tissue calcification of the left hindfoot.",
        conclusion_codes=(PATHOLOGIC_CALCIFICATION,),
    )
    ct = _draft(
        pid, "draft-ct", cc(CT_FOOT_L), category="Imaging", reasons=(refuted_calc,), body_site=_foot("Left foot")
    )
    return (
        [pt, refuted_calc, error_calc, resolved_mass, inactive_calc, remission_calc, report],
        _drafts([ct], [ct], [ct]),
    )


def all_done() -> Fixture:
    """Calcific tendinitis for 8 weeks, radiograph repeated, labs complete and normal, physiotherapy already
    referred: the order hooks have nothing to add."""
    pid = "fc-all-done"
    pt = patient(pid, family="Osei", given="Kwame", gender="male", birth_date="1969-07-07")
    calc = condition(
        pid, "calc", (ICD10CM, "M65.279", "Calcific tendinitis, unspecified ankle and foot"), onset="{{today-8w}}"
    )
    first = diagnostic_report(
        pid, "xr-report-1", XR_FOOT_3, "{{today-7w}}", conclusion="Calcific deposit at the Achilles tendon insertion."
    )
    study = imaging_study(
        pid,
        "xr-study-2",
        "DX",
        "{{today-5w}}",
        procedure=XR_FOOT_3,
        body_site=FOOT,
        description="XR Foot 3 Views, follow-up",
    )
    second = diagnostic_report(
        pid,
        "xr-report-2",
        XR_FOOT_3,
        "{{today-5w}}",
        study=study,
        conclusion="Calcific deposit at the Achilles tendon insertion, smaller than before.",
    )
    labs = [
        lab(pid, "calcium", CALCIUM_MOLES, 2.35, "mmol/L", "{{today-25d}}"),
        lab(pid, "phosphate", PHOSPHATE_MASS, 3.2, "mg/dL", "{{today-25d}}"),
        lab(pid, "pth", PTH_MOLES, 3.8, "pmol/L", "{{today-25d}}"),
        lab(pid, "egfr", EGFR_2021, 88, "mL/min/1.73m2", "{{today-25d}}"),
        lab(pid, "creatinine", CREATININE_MASS, 0.9, "mg/dL", "{{today-25d}}"),
        # deficiency, not hypervitaminosis: no metabolic cause; 60 days old, so a new draft is no duplicate
        lab(pid, "vitd", VITD_25OH, 12, "ng/mL", "{{today-60d}}", interpretation="L"),
    ]
    physio = service_request(
        pid,
        "physio",
        cc((SNOMED, "306170007", "Referral to physiotherapy service (procedure)")),
        status="active",
        authored="{{today-30d}}",
        category="Referral",
        reasons=(calc,),
    )
    xr = _draft(pid, "draft-xr", cc(XR_FOOT_3), category="Imaging", occurrence="{{today+2w}}", reasons=(calc,))
    vitd = _draft(pid, "draft-vitd", cc(VITD_25OH), category="Laboratory")
    return [pt, calc, study, *labs, first, second, physio], _drafts([xr, vitd], [xr, vitd], [xr, vitd])


AUTHORS: dict[str, Callable[[], Fixture]] = {
    "fc-tendinitis-no-xr": tendinitis_no_xr,
    "fc-mass-undetermined": mass_undetermined,
    "fc-ckd-metastatic": ckd_metastatic,
    "fc-diabetic-ulcer": diabetic_ulcer,
    "fc-dfi-osteomyelitis": dfi_osteomyelitis,
    "fc-eschar-ischemia": eschar_ischemia,
    "fc-necrotizing": necrotizing,
    "fc-fluffy-malignancy": fluffy_malignancy,
    "fc-chronic-painful": chronic_painful,
    "fc-hypervitaminosis": hypervitaminosis,
    "fc-dfi-compartment": dfi_compartment,
    "fc-lab-flags": lab_flags,
    "fc-xr-ordered": xr_ordered,
    "fc-phlebolith": phlebolith,
    "fc-chondrocalcinosis": chondrocalcinosis,
    "fc-order-only": order_only,
    "fc-outside": outside,
    "fc-refuted": refuted,
    "fc-all-done": all_done,
}


def bundle_of(resources: list[JSON]) -> JSON:
    """A transaction Bundle that PUTs each resource by id (so references and prefetch stay stable)."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'fixture:' + r['resourceType'] + '/' + r['id'])}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in resources
        ],
    }


def authored() -> dict[str, tuple[JSON, JSON]]:
    """patient id -> (transaction Bundle, drafts), as the files should hold them."""
    result: dict[str, tuple[JSON, JSON]] = {}
    for pid, author in AUTHORS.items():
        resources, drafts = author()
        if resources[0]["resourceType"] != "Patient" or resources[0]["id"] != pid:
            raise ValueError(f"fixture {author.__name__}: the first resource must be Patient/{pid}")
        result[pid] = (bundle_of(resources), drafts)
    return result


def dump(obj: JSON) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write bundles/ and drafts/ from the stories in author.py.")
    parser.add_argument("--dir", type=Path, default=FIXTURES_DIR)
    args = parser.parse_args(argv)
    for pid, (bundle, drafts) in authored().items():
        for sub, obj in (("bundles", bundle), ("drafts", drafts)):
            (args.dir / sub).mkdir(parents=True, exist_ok=True)
            (args.dir / sub / f"{pid}.json").write_text(dump(obj))
    print(f"wrote {len(AUTHORS)} bundles and draft sets under {args.dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
