"""The "as EHRs send it" patients, one function each; the docstring is the story. Expected cards are in
tests/support/ehr_expectations.py, written from the seeds and pathway-spec.md.

Each returns (resources, drafts): the patient's record with date tokens, and the draft orders of the order
hooks ({"order-select": {"selections", "draftOrders"}, "order-sign": {"draftOrders"}}).
"""

from __future__ import annotations

from typing import Any

from fhir_fixtures.ehr.builders import (
    CPT,
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

JSON = dict[str, Any]
Story = tuple[list[JSON], JSON]

SEVERE = (SNOMED, "24484000", "Severe")
PAD = (SNOMED, "840580004", "Peripheral arterial disease")
DIABETES_T2 = (SNOMED, "44054006")  # no display: the service names it from its value set
XR_FOOT_LEFT = (LOINC, "36307-7", "XR Foot - left 3 Views")
XR_FOOT_RIGHT = (LOINC, "37699-6", "XR Foot - right 3 Views")
MRI_FOOT_LEFT = (LOINC, "36469-5", "MR Foot - left WO contrast")
DEBRIDEMENT = (SNOMED, "312775003", "Debridement of ulcer")


def drafts_for(select: list[JSON], selected: list[JSON], sign: list[JSON]) -> JSON:
    return {
        "order-select": {"selections": [f"{r['resourceType']}/{r['id']}" for r in selected], "draftOrders": select},
        "order-sign": {"draftOrders": sign},
    }


def mixed_coding() -> Story:
    """Calcific tendinitis of the left ankle as an encounter diagnosis (the hospital's code first, ICD-10-CM
    second, no clinicalStatus, onset as a period); ankle pain under a local code only; the radiograph 10 days
    ago is a RAD report under a local code (finding in the conclusion) and a study with its modality at study
    level only, both timed in another zone; labs under local codes in SI units, eGFR as ">60", and a newer
    ionized calcium that is not total calcium. A PTH under a local code is drafted."""
    pid = "ehr-mixed-coding"
    calc = problem(pid, "calc", local("problems", "PRB-1182", "Calcific tendinitis L ankle"),
                   (ICD10CM, "M65.272", "Calcific tendinitis, left ankle and foot"), onset={"start": "{{today-3w}}"})
    pain = problem(pid, "pain", local("problems", "SYM-77", "Left ankle pain"), onset="{{today-3w}}")
    xr_study = study(pid, "xr-study", started="{{today-10d}}T22:40:00-05:00", modality="CR",
                     description="XR FOOT LT 3V")
    xr = report(pid, "xr", local("rad", "XRFTL3", "XR FOOT LEFT 3 VIEWS"), when="{{today-10d}}T23:10:00-05:00",
                conclusion="Calcific density along the peroneal tendon at the lateral left ankle, consistent with "
                "calcific tendinitis. No fracture.")
    labs = [
        observation(pid, "ca", local("lab", "CA", "CALCIUM, SERUM"), when="{{today-12d}}T07:05:00+01:00",
                    value=(2.35, "mmol/L")),
        observation(pid, "ica", local("lab", "ICA", "CALCIUM, IONIZED"), when="{{today-2d}}T07:05:00+01:00",
                    value=(1.18, "mmol/L")),
        observation(pid, "phos", local("lab", "PHOS", "PHOSPHORUS, SERUM"), when="{{today-12d}}T07:05:00+01:00",
                    value=(1.10, "mmol/L")),
        observation(pid, "pth", local("lab", "PTHI", "PTH, INTACT"), when="{{today-12d}}T07:05:00+01:00",
                    value=(4.2, "pmol/L")),
        observation(pid, "creat", local("lab", "CREA", "CREATININE, SERUM"), when="{{today-12d}}T07:05:00+01:00",
                    value=(80, "umol/L")),
        observation(pid, "egfr", local("lab", "EGFR", "eGFR (CKD-EPI)"), when="{{today-12d}}T07:05:00+01:00",
                    value_string=">60"),
    ]
    pth = order(pid, "draft-pth", local("orders", "LAB-PTHI", "PTH INTACT"))
    pt = patient(pid, gender="female", birth_date="1971-06-02")
    return [pt, calc, pain, xr_study, xr, *labs], drafts_for([pth], [pth], [pth])


def text_only() -> Story:
    """Everything in words: a soft tissue calcification of the right heel (no clinicalStatus), type 2
    diabetes, a plantar ulcer, "History of cellulitis" and "No evidence of osteomyelitis" (neither is a current
    problem), and a text-only radiograph procedure 5 days ago over a period. No labs. A CT under a local code
    is drafted."""
    pid = "ehr-text-only"
    calc = problem(pid, "calc", text="Soft tissue calcification of the right heel", onset={"start": "{{today-4w}}"})
    dm = problem(pid, "dm", text="Type 2 diabetes mellitus, on insulin", category="problem-list-item",
                 clinical="active", onset="{{today-300w}}")
    ulcer = problem(pid, "ulcer", text="Plantar ulcer, right forefoot", onset="{{today-5w}}")
    old_cellulitis = problem(pid, "cellulitis", text="History of cellulitis of the right foot", clinical="active")
    no_osteo = problem(pid, "no-osteo", text="No evidence of osteomyelitis of the right foot")
    xr = procedure(pid, "xr", text="XR right foot 3 views",
                   when={"start": "{{today-5d}}T14:00:00Z", "end": "{{today-5d}}T14:20:00Z"})
    ct = order(pid, "draft-ct", local("orders", "CT-FT-R", "CT right foot without contrast"))
    pt = patient(pid, gender="male", birth_date="1958-02-17")
    return [pt, calc, dm, ulcer, old_cellulitis, no_osteo, xr], drafts_for([ct], [ct], [ct])


def laterality_conflict() -> Story:
    """Calcific tendinitis coded for the RIGHT ankle and foot with a bodySite saying LEFT foot: the side is
    unknown, so the radiograph suggested is unsided. Never X-rayed; a left-foot MRI is drafted."""
    pid = "ehr-laterality-conflict"
    calc = problem(pid, "calc", (ICD10CM, "M65.271", "Calcific tendinitis, right ankle and foot"),
                   clinical="active", category="problem-list-item", body_site=concept(text="Left foot"),
                   onset="{{today-2w}}")
    mri = order(pid, "draft-mri", MRI_FOOT_LEFT, reasons=(calc,))
    pt = patient(pid, gender="female", birth_date="1984-11-30")
    return [pt, calc], drafts_for([mri], [mri], [mri])


def wet_gangrene() -> Story:
    """Type 2 diabetes and peripheral arterial disease; wet gangrene of the left great toe (an infected wound)
    beside a dry necrotic eschar of the left heel; soft tissue calcification of the heel fat pad on a
    radiograph 15 days ago. Debriding must not be discouraged: a debridement of the left heel is drafted."""
    pid = "ehr-wet-gangrene"
    dm = problem(pid, "dm", DIABETES_T2, clinical="active", category="problem-list-item")
    pad = problem(pid, "pad", PAD, clinical="active", category="problem-list-item")
    gangrene = problem(pid, "gangrene", (SNOMED, "195303005", "Gangrene of foot"),
                       text="Wet gangrene of the left great toe", clinical="active", onset="{{today-6d}}")
    eschar = problem(pid, "eschar", (SNOMED, "421306004", "Necrotic eschar"), clinical="active",
                     body_site=concept((SNOMED, "76853006", "Heel structure"), text="Left heel"), onset="{{today-20d}}")
    xr = report(pid, "xr", XR_FOOT_LEFT, when="{{today-15d}}T09:00:00Z",
                conclusion="Vascular calcification of the dorsalis pedis artery. Soft tissue calcification in the "
                "plantar fat pad of the left heel.")
    debride = order(pid, "draft-debride", DEBRIDEMENT, body_site=concept(text="Left heel"))
    pt = patient(pid, gender="male", birth_date="1949-08-08")
    return [pt, dm, pad, gangrene, eschar, xr], drafts_for([debride], [debride], [debride])


def necrotizing_eschar() -> Story:
    """A calcium deposit in the left ankle bursa, peripheral arterial disease and a dry eschar of the left heel,
    and now necrotizing fasciitis of the same foot: operate urgently, and never "avoid debridement" in the
    same answer. Never X-rayed; a debridement without a site is drafted."""
    pid = "ehr-necrotizing-eschar"
    calc = problem(pid, "calc", (ICD10CM, "M71.472", "Calcium deposit in bursa, left ankle and foot"),
                   clinical="active", category="problem-list-item", onset="{{today-5w}}")
    pad = problem(pid, "pad", PAD, clinical="active", category="problem-list-item")
    eschar = problem(pid, "eschar", text="Dry eschar, left heel", clinical="active", onset="{{today-3w}}")
    nf = problem(pid, "nf", (SNOMED, "52486002", "Necrotizing fasciitis"), text="Necrotizing fasciitis, left foot",
                 severity=SEVERE, onset="{{today-1d}}")
    debride = order(pid, "draft-debride", DEBRIDEMENT)
    pt = patient(pid, gender="female", birth_date="1960-03-14")
    return [pt, calc, pad, eschar, nf], drafts_for([debride], [debride], [debride])


def outside_sites() -> Story:
    """Nothing here is a current foot calcification: a calcification of the right thigh, calcific tendinitis
    coded for the ankle but sited at the left shoulder, "History of calcific tendinitis of the left foot",
    "No evidence of soft tissue calcification of the heel", a lower-limb cellulitis and a lower-leg mass with no
    foot evidence, a foot radiograph whose calcification "has resolved". An MRI of the lower extremity without
    a site is drafted for an unsited calcification."""
    pid = "ehr-outside-sites"
    thigh = problem(pid, "thigh", (SNOMED, "18115005", "Pathologic calcification"), clinical="active",
                    body_site=concept(text="Right thigh"))
    shoulder = problem(pid, "shoulder", (ICD10CM, "M65.272"), clinical="active",
                       body_site=concept(text="Left shoulder region"))
    history = problem(pid, "history", text="History of calcific tendinitis of the left foot", clinical="active")
    negated = problem(pid, "negated", text="No evidence of soft tissue calcification of the heel")
    dm = problem(pid, "dm", DIABETES_T2, clinical="active", category="problem-list-item")
    cellulitis = problem(pid, "cellulitis", (ICD10CM, "L03.116", "Cellulitis of left lower limb"), clinical="active")
    mass = problem(pid, "mass", (ICD10CM, "R22.41", "Localized swelling, mass and lump, right lower limb"),
                   clinical="active", body_site=concept(text="Right lower leg"))
    xr = report(pid, "xr", XR_FOOT_LEFT, when="{{today-30d}}T10:00:00Z",
                conclusion="Soft tissue calcification seen on the prior study has resolved. No acute findings.")
    mri = order(pid, "draft-mri", (CPT, "73718"),
                reason_codes=(concept((SNOMED, "18115005", "Pathologic calcification")),))
    pt = patient(pid, gender="male", birth_date="1977-09-09")
    return [pt, thigh, shoulder, history, negated, dm, cellulitis, mass, xr], drafts_for([mri], [mri], [mri])


def lower_extremity_draft() -> Story:
    """Calcific tendinitis of the right ankle and foot for 2 weeks, never X-rayed. What the Sandbox's PAMA screen
    sends: an MRI of the lower extremity (CPT 73718) and, at signing, an extremity ultrasound (CPT 76882), both
    without a site: possibly of the foot, and the card says so."""
    pid = "ehr-lower-extremity-draft"
    calc = problem(pid, "calc", (ICD10CM, "M65.271", "Calcific tendinitis, right ankle and foot"),
                   clinical="active", category="problem-list-item", onset="{{today-2w}}")
    mri = order(pid, "draft-mri", (CPT, "73718"))
    us = order(pid, "draft-us", (CPT, "76882"))
    pt = patient(pid, gender="female", birth_date="1990-01-25")
    return [pt, calc], drafts_for([mri], [mri], [mri, us])


def deceased() -> Story:
    """Calcific tendinitis of the right foot, never X-rayed, and the patient died 3 days ago: no order
    suggestion (local default: no card at all)."""
    pid = "ehr-deceased"
    calc = problem(pid, "calc", (ICD10CM, "M65.271"), clinical="active", category="problem-list-item",
                   onset="{{today-5w}}")
    mri = order(pid, "draft-mri", (LOINC, "30681-1", "MR Foot WO contrast"), reasons=(calc,))
    pt = patient(pid, gender="male", birth_date="1938-04-04", deceasedDateTime="{{today-3d}}T04:30:00Z")
    return [pt, calc], drafts_for([mri], [mri], [mri])


def statuses() -> Story:
    """Every status and date form: a calcification of the right foot muscle (onset known to the month); the
    radiograph report 3 days ago was entered in error, the real one (20 days ago, amended, timed +14:00)
    stands; a cancelled high calcium and an erroneous creatinine do not count; phosphate corrected, PTH
    preliminary, eGFR ">60"; a cancelled radiograph order is not an order. A calcium is drafted."""
    pid = "ehr-statuses"
    calc = problem(pid, "calc", (ICD10CM, "M61.471", "Other calcification of muscle, right ankle and foot"),
                   clinical="active", verification="confirmed", category="problem-list-item",
                   onset="{{today-8w:month}}")
    wrong = report(pid, "xr-wrong", XR_FOOT_RIGHT, when="{{today-3d}}T10:00:00Z", status="entered-in-error",
                   conclusion="Soft tissue calcification of the right foot.")
    xr = report(pid, "xr", XR_FOOT_RIGHT, when="{{today-20d}}T08:00:00+14:00", status="amended",
                conclusion="Calcification in the soft tissue of the right midfoot, unchanged wording amended.")
    labs = [
        observation(pid, "ca", (LOINC, "17861-6"), when="{{today-20d}}T06:00:00Z", value=(9.4, "mg/dL")),
        observation(pid, "ca-cancelled", (LOINC, "17861-6"), when="{{today-3d}}T06:00:00Z",
                    value=(12.9, "mg/dL"), status="cancelled"),
        observation(pid, "phos", (LOINC, "2777-1"), when="{{today-18d}}T06:00:00Z", value=(3.5, "mg/dL"),
                    status="corrected"),
        observation(pid, "pth", (LOINC, "2731-8"), when="{{today-18d}}T06:00:00Z", value=(40, "pg/mL"),
                    status="preliminary"),
        observation(pid, "creat-error", (LOINC, "2160-0"), when="{{today-2d}}T06:00:00Z", value=(3.0, "mg/dL"),
                    status="entered-in-error"),
        observation(pid, "egfr", (LOINC, "98979-8"), when="{{today-18d}}T06:00:00Z", value_string=">60"),
        observation(pid, "pth-absent", (LOINC, "2731-8"), when="{{today-1d}}T06:00:00Z", absent="not-performed"),
    ]
    cancelled = order(pid, "xr-order", XR_FOOT_RIGHT, status="revoked", authored="{{today-2d}}")
    calcium = order(pid, "draft-ca", (LOINC, "17861-6", "Calcium [Mass/volume] in Serum or Plasma"))
    pt = patient(pid, gender="female", birth_date="1966-12-12")
    return [pt, calc, wrong, xr, *labs, cancelled], drafts_for([calcium], [calcium], [calcium])


STORIES = {
    "ehr-mixed-coding": mixed_coding,
    "ehr-text-only": text_only,
    "ehr-laterality-conflict": laterality_conflict,
    "ehr-wet-gangrene": wet_gangrene,
    "ehr-necrotizing-eschar": necrotizing_eschar,
    "ehr-outside-sites": outside_sites,
    "ehr-lower-extremity-draft": lower_extremity_draft,
    "ehr-deceased": deceased,
    "ehr-statuses": statuses,
}
