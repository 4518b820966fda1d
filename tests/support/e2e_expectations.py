"""What a clinician should see for each fixture patient and hook, written from shared/pathway-spec.md
(not from what the code does). One table: fixture -> hook -> {node id: indicator}; an empty dict means
the response must be exactly `{"cards": []}`.

`DETAILS` adds, per (fixture, hook, node), what the card's suggestions must do. Day offsets are relative
to the evaluation day (`today`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COMPOSED",
    "CT_CODES",
    "DETAILS",
    "EXPECTED",
    "MRI_CODES",
    "SEED_FRAGMENTS",
    "TEST_CODES",
    "US_CODES",
    "XR_CODES",
    "Create",
    "Detail",
    "Update",
]

INFO, WARNING, CRITICAL = "info", "warning", "critical"

EXPECTED: dict[str, dict[str, dict[str, str]]] = {
    "fc-tendinitis-no-xr": {
        "patient-view": {"initial-radiograph": WARNING, "differential-diagnosis": INFO, "conservative-care": INFO},
        "order-select": {"initial-radiograph": WARNING},
        "order-sign": {"initial-radiograph": WARNING},
    },
    "fc-mass-undetermined": {
        "patient-view": {
            "differential-diagnosis": INFO,
            "advanced-imaging": INFO,
            "metabolic-workup": INFO,
            "repeat-radiograph": INFO,
            "conservative-care": INFO,
        },
        "order-select": {},
        # re-offered at order-sign: PTH and renal function (the phosphate is in the draft orders)
        "order-sign": {"metabolic-workup": INFO},
    },
    "fc-ckd-metastatic": {
        "patient-view": {
            "differential-diagnosis": INFO,
            "metabolic-cause": WARNING,
            "repeat-radiograph": INFO,
            "conservative-care": INFO,
        },
        "order-select": {"metabolic-workup": INFO},  # calcium drafted, resulted 5 days ago
        "order-sign": {"metabolic-workup": INFO},
    },
    "fc-diabetic-ulcer": {
        # no conservative care while osteomyelitis is to be ruled out (diabetes with a foot ulcer; the ESR is
        # high): seed 000 keeps conservative care for "asymptomatic or mildly symptomatic" calcifications
        "patient-view": {
            "differential-diagnosis": INFO,
            "osteomyelitis-rule-out": WARNING,
            "repeat-radiograph": INFO,
        },
        "order-select": {"repeat-radiograph": INFO},  # XR drafted 8 days after the last one
        "order-sign": {"repeat-radiograph": INFO, "osteomyelitis-rule-out": WARNING},  # CRP re-offered
    },
    "fc-dfi-osteomyelitis": {
        # osteomyelitis is diagnosed: the diagnosis no longer "remains uncertain", so no advanced-imaging card
        "patient-view": {
            "differential-diagnosis": INFO,
            "infection-management": WARNING,
            "surgical-referral": WARNING,
            "repeat-radiograph": INFO,
            "dfi-reassessment": INFO,
        },
        "order-select": {"advanced-imaging": INFO},  # CT drafted while osteomyelitis is known
        "order-sign": {"advanced-imaging": INFO},
    },
    "fc-eschar-ischemia": {
        "patient-view": {"differential-diagnosis": INFO, "eschar-no-debridement": WARNING, "conservative-care": INFO},
        "order-select": {"eschar-no-debridement": WARNING},
        "order-sign": {"eschar-no-debridement": WARNING},
    },
    "fc-necrotizing": {
        "patient-view": {
            "initial-radiograph": WARNING,
            "differential-diagnosis": INFO,
            "infection-management": WARNING,
            "urgent-surgery": CRITICAL,
        },
        "order-select": {"initial-radiograph": WARNING},  # CT drafted, last radiograph 200 days ago
        "order-sign": {"initial-radiograph": WARNING},
    },
    "fc-fluffy-malignancy": {
        # repeat-radiograph and the (benign) classification yield to the critical malignancy card (nodes.toml
        # yields_to, local default)
        "patient-view": {"malignancy-referral": CRITICAL},
        "order-select": {},
        "order-sign": {},
    },
    "fc-chronic-painful": {
        "patient-view": {"differential-diagnosis": INFO, "surgical-referral": WARNING},
        "order-select": {},
        "order-sign": {},
    },
    "fc-hypervitaminosis": {
        "patient-view": {"differential-diagnosis": INFO, "metabolic-cause": WARNING, "conservative-care": INFO},
        "order-select": {"metabolic-workup": INFO},  # PTH (mol units) drafted, PTH (mass units) 15 days ago
        "order-sign": {"metabolic-workup": INFO},
    },
    "fc-dfi-compartment": {
        "patient-view": {
            "differential-diagnosis": INFO,
            "infection-management": WARNING,
            "urgent-surgery": CRITICAL,
            "surgical-referral": WARNING,
            "osteomyelitis-rule-out": WARNING,
            "dfi-reassessment": INFO,
        },
        "order-select": {},  # the US is selected (a radiograph exists); the CT is drafted but not selected
        "order-sign": {"advanced-imaging": INFO, "osteomyelitis-rule-out": WARNING},
    },
    "fc-lab-flags": {
        "patient-view": {
            "initial-radiograph": WARNING,
            "differential-diagnosis": INFO,
            "metabolic-cause": WARNING,
            "conservative-care": INFO,
        },
        "order-select": {"initial-radiograph": WARNING},
        "order-sign": {"initial-radiograph": WARNING},
    },
    "fc-xr-ordered": {
        # the radiograph is ordered: neither initial- nor repeat-radiograph; dystrophic (trauma): no labs needed
        "patient-view": {"differential-diagnosis": INFO, "conservative-care": INFO},
        "order-select": {},
        "order-sign": {},
    },
    "fc-phlebolith": {
        # entry through an imaging Observation; dystrophic (venous insufficiency); one radiograph
        "patient-view": {"differential-diagnosis": INFO, "repeat-radiograph": INFO, "conservative-care": INFO},
        "order-select": {},  # the drafted radiograph is 33 days after the last one
        "order-sign": {},
    },
    "fc-chondrocalcinosis": {
        # provisional chondrocalcinosis after one radiograph: CT recommended; labs complete and normal
        "patient-view": {
            "differential-diagnosis": INFO,
            "advanced-imaging": INFO,
            "repeat-radiograph": INFO,
            "conservative-care": INFO,
        },
        "order-select": {},  # the drafted CT is what the pathway suggests here
        "order-sign": {},
    },
    "fc-order-only": {
        "patient-view": {},
        "order-select": {"initial-radiograph": WARNING},
        "order-sign": {"initial-radiograph": WARNING},
    },
    "fc-outside": {"patient-view": {}, "order-select": {}, "order-sign": {}},
    "fc-refuted": {"patient-view": {}, "order-select": {}, "order-sign": {}},
    "fc-all-done": {
        "patient-view": {"differential-diagnosis": INFO, "conservative-care": INFO},
        "order-select": {},
        "order-sign": {},
    },
}

# One coherent response (nodes.toml folds_into, [composition]): (fixture, hook) -> {card's own node: the
# nodes folded into it, in the order they join (most urgent first)}. Every node of EXPECTED not named here
# has a card of its own. The classification goes to the card of the management it leads to (seed 000:
# "appropriate management based on the underlying cause"); the routine repeat film and the 2-4 day
# reassessment go to the infection card; the surgical indication to the card that offers the referral.
_CLASS = ("differential-diagnosis",)
COMPOSED: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("fc-tendinitis-no-xr", "patient-view"): {"conservative-care": _CLASS},
    ("fc-mass-undetermined", "patient-view"): {"metabolic-workup": _CLASS},
    ("fc-ckd-metastatic", "patient-view"): {"metabolic-cause": _CLASS},
    ("fc-diabetic-ulcer", "patient-view"): {"osteomyelitis-rule-out": _CLASS},
    ("fc-dfi-osteomyelitis", "patient-view"): {
        "infection-management": ("surgical-referral", "dfi-reassessment", "repeat-radiograph", *_CLASS),
    },
    ("fc-eschar-ischemia", "patient-view"): {"eschar-no-debridement": _CLASS},
    ("fc-necrotizing", "patient-view"): {"infection-management": _CLASS},
    ("fc-chronic-painful", "patient-view"): {"surgical-referral": _CLASS},
    ("fc-hypervitaminosis", "patient-view"): {"metabolic-cause": _CLASS},
    ("fc-dfi-compartment", "patient-view"): {
        "urgent-surgery": ("surgical-referral",),
        "infection-management": ("dfi-reassessment", *_CLASS),
    },
    ("fc-lab-flags", "patient-view"): {"metabolic-cause": _CLASS},
    ("fc-xr-ordered", "patient-view"): {"conservative-care": _CLASS},
    ("fc-phlebolith", "patient-view"): {"conservative-care": _CLASS},
    ("fc-chondrocalcinosis", "patient-view"): {"advanced-imaging": _CLASS},
    ("fc-all-done", "patient-view"): {"conservative-care": _CLASS},
}

# --- code sets (terminology.md) ---
XR_FOOT_RIGHT = {"37699-6", "37697-0"}
XR_FOOT_LEFT = {"36307-7", "38846-2"}
XR_CODES = (
    {"30784-3", "36305-1", "24709-8", "24540-7", "36294-7", "24541-5", "1290452004"} | XR_FOOT_RIGHT | XR_FOOT_LEFT
)
MRI_CODES = {"30681-1", "30682-9", "36179-0", "24707-2", "36471-1", "36469-5", "36346-5", "36344-0", "113109007"}
CT_CODES = {"36466-1", "36470-3", "36468-7", "30625-8", "566321000119100", "702495006"}
US_CODES = {"80861-8", "80855-0", "24693-4", "38051-9", "38040-2", "427072002"}
TEST_CODES = {
    "calcium": {"17861-6", "2000-8"},
    "phosphate": {"2777-1", "14879-1"},
    "pth": {"2731-8", "14866-8"},
    "renal": {"2160-0", "38483-4", "14682-9", "98979-8", "98980-6", "62238-1", "33914-3", "77147-7", "69405-9"},
    "esr": {"4537-7", "30341-2"},
    "crp": {"1988-5", "30522-7"},
    "culture": {"602-3", "43408-4", "627-0", "628-8", "6462-6", "632-0", "633-8", "17909-3", "43407-6"},
}
REFERRAL_SURGEON = "183541002"
REFERRAL_ORTHO_OR_PODIATRY = {"308481009", "308451001"}
REFERRAL_NEPHROLOGY = "306286007"
REFERRAL_ENDOCRINOLOGY = "306278007"
REFERRAL_PHYSIO = "306170007"
FOLLOW_UP_VISIT = "185389009"


@dataclass(frozen=True)
class Create:
    """Some suggestion of the card creates a ServiceRequest with a code in `codes`."""

    codes: frozenset[str]
    reason: str | None = None  # a reasonReference it must carry
    period: tuple[int, int] | None = None  # occurrencePeriod start/end, days from today
    priority: str | None = None
    recommended: bool | None = None  # True: in a suggestion marked isRecommended; False: not marked


@dataclass(frozen=True)
class Update:
    """Some suggestion updates the draft `resource_id` with an occurrencePeriod (days from today)."""

    resource_id: str
    period: tuple[int, int]


@dataclass(frozen=True)
class Detail:
    creates: tuple[Create, ...] = ()
    not_creates: frozenset[str] = frozenset()  # codes no suggestion may create
    replaces: str | None = None  # one suggestion deletes this draft (resourceId) and creates `creates[0]`
    replace_recommended: bool = False  # ... and that suggestion is marked isRecommended
    updates: tuple[Update, ...] = ()
    selection: str | None = None  # selectionBehavior
    no_suggestions: bool = False
    lab_tests: frozenset[str] | None = None  # exactly these TEST_CODES groups are suggested
    override_reasons: bool = False
    detail_mentions: tuple[str, ...] = ()  # one of these strings is in the card detail
    detail_mentions_all: tuple[str, ...] = ()  # each of these strings is in the card detail


def _c(codes: set[str] | str, **kw: object) -> Create:
    return Create(frozenset({codes} if isinstance(codes, str) else codes), **kw)  # type: ignore[arg-type]


DETAILS: dict[tuple[str, str, str], Detail] = {
    # initial-radiograph: sided XR (right) with the calcification as reason; replace an advanced draft
    ("fc-tendinitis-no-xr", "patient-view", "initial-radiograph"): Detail(
        creates=(_c({"37699-6"}, reason="Condition/fc-tendinitis-no-xr-calc"),)
    ),
    ("fc-tendinitis-no-xr", "patient-view", "conservative-care"): Detail(creates=(_c(REFERRAL_PHYSIO),)),
    ("fc-tendinitis-no-xr", "order-select", "initial-radiograph"): Detail(
        creates=(_c({"37699-6"}),),
        replaces="ServiceRequest/fc-tendinitis-no-xr-draft-mri",
        replace_recommended=True,
        selection="at-most-one",
        override_reasons=True,
    ),
    ("fc-tendinitis-no-xr", "order-sign", "initial-radiograph"): Detail(
        creates=(_c({"37699-6"}),),
        replaces="ServiceRequest/fc-tendinitis-no-xr-draft-mri",
        replace_recommended=True,
        selection="at-most-one",
        override_reasons=True,
    ),
    # advanced imaging for a provisional mass: MRI, US, CT offered, at most one; US recommended (palpable mass)
    ("fc-mass-undetermined", "patient-view", "advanced-imaging"): Detail(
        creates=(_c(MRI_CODES), _c(US_CODES, recommended=True), _c(CT_CODES)), selection="at-most-one"
    ),
    ("fc-mass-undetermined", "patient-view", "metabolic-workup"): Detail(
        selection="any", lab_tests=frozenset({"phosphate", "pth", "renal"})
    ),
    ("fc-mass-undetermined", "patient-view", "repeat-radiograph"): Detail(creates=(_c(XR_CODES, period=(4, 18)),)),
    ("fc-mass-undetermined", "order-sign", "metabolic-workup"): Detail(
        selection="any", lab_tests=frozenset({"pth", "renal"})
    ),
    # two classes, and the seed-004 morphology of the film
    ("fc-ckd-metastatic", "patient-view", "differential-diagnosis"): Detail(
        detail_mentions_all=("metastatic", "dystrophic", "Crushing injury of foot", "finely speckled")
    ),
    # metastatic: nephrology for CKD; repeat window already open (day 14 is past) -> from today
    ("fc-ckd-metastatic", "patient-view", "metabolic-cause"): Detail(creates=(_c(REFERRAL_NEPHROLOGY),)),
    ("fc-ckd-metastatic", "patient-view", "repeat-radiograph"): Detail(creates=(_c(XR_CODES, period=(0, 3)),)),
    ("fc-ckd-metastatic", "order-select", "metabolic-workup"): Detail(
        not_creates=frozenset(TEST_CODES["calcium"]), detail_mentions=("2.75", "11.0", "11.02")
    ),
    ("fc-ckd-metastatic", "order-sign", "metabolic-workup"): Detail(
        not_creates=frozenset(TEST_CODES["calcium"]), detail_mentions=("2.75", "11.0", "11.02")
    ),
    # osteomyelitis rule-out: ESR done 10 days ago, CRP missing
    ("fc-diabetic-ulcer", "patient-view", "osteomyelitis-rule-out"): Detail(
        creates=(_c(TEST_CODES["crp"]),), not_creates=frozenset(TEST_CODES["esr"])
    ),
    ("fc-diabetic-ulcer", "patient-view", "repeat-radiograph"): Detail(creates=(_c(XR_CODES, period=(9, 23)),)),
    ("fc-diabetic-ulcer", "order-select", "repeat-radiograph"): Detail(
        updates=(Update("ServiceRequest/fc-diabetic-ulcer-draft-xr", (9, 23)),), not_creates=frozenset(XR_CODES)
    ),
    ("fc-diabetic-ulcer", "order-sign", "repeat-radiograph"): Detail(
        updates=(Update("ServiceRequest/fc-diabetic-ulcer-draft-xr", (9, 23)),), not_creates=frozenset(XR_CODES)
    ),
    ("fc-diabetic-ulcer", "order-sign", "osteomyelitis-rule-out"): Detail(
        creates=(_c(TEST_CODES["crp"]),), not_creates=frozenset(TEST_CODES["esr"])
    ),
    # DFI with osteomyelitis: MRI recommended; culture done; moderate -> consultation suggested, not recommended
    ("fc-dfi-osteomyelitis", "patient-view", "infection-management"): Detail(
        creates=(_c(REFERRAL_SURGEON, recommended=False),), not_creates=frozenset(TEST_CODES["culture"])
    ),
    # one surgical referral per response: the infection card offers the consultation, and carries the
    # surgical indication (folded), so no pointer to another card is needed
    ("fc-dfi-osteomyelitis", "patient-view", "surgical-referral"): Detail(
        creates=(_c(REFERRAL_SURGEON),), not_creates=frozenset(REFERRAL_ORTHO_OR_PODIATRY),
        detail_mentions_all=("Osteomyelitis of the foot with a spreading soft tissue infection",)
    ),
    ("fc-dfi-osteomyelitis", "patient-view", "repeat-radiograph"): Detail(creates=(_c(XR_CODES, period=(7, 21)),)),
    ("fc-dfi-osteomyelitis", "patient-view", "dfi-reassessment"): Detail(creates=(_c(FOLLOW_UP_VISIT, period=(2, 4)),)),
    ("fc-dfi-osteomyelitis", "order-select", "advanced-imaging"): Detail(
        creates=(_c(MRI_CODES),), replaces="ServiceRequest/fc-dfi-osteomyelitis-draft-ct"
    ),
    ("fc-dfi-osteomyelitis", "order-sign", "advanced-imaging"): Detail(
        creates=(_c(MRI_CODES),), replaces="ServiceRequest/fc-dfi-osteomyelitis-draft-ct"
    ),
    # the calcification on the problem list is text-only: the text fallback must see it (spec "Who is in the
    # pathway": text matching is a fallback for data without codes), so the prefetch must fetch it
    ("fc-eschar-ischemia", "patient-view", "differential-diagnosis"): Detail(
        detail_mentions_all=("Calcinosis of the right heel pad",)
    ),
    # eschar in an ischemic foot: advice only
    ("fc-eschar-ischemia", "patient-view", "eschar-no-debridement"): Detail(no_suggestions=True),
    # necrotizing fasciitis: culture, stat surgical referral, radiograph (left) before the drafted CT
    ("fc-necrotizing", "patient-view", "initial-radiograph"): Detail(
        creates=(_c({"36307-7"}, reason="Condition/fc-necrotizing-calc"),)
    ),
    # the negative culture is 40 days old (window 30 days): a culture is still suggested
    ("fc-necrotizing", "patient-view", "infection-management"): Detail(creates=(_c(TEST_CODES["culture"]),)),
    ("fc-necrotizing", "patient-view", "urgent-surgery"): Detail(creates=(_c(REFERRAL_SURGEON, priority="stat"),)),
    ("fc-necrotizing", "order-select", "initial-radiograph"): Detail(
        creates=(_c({"36307-7"}),),
        replaces="ServiceRequest/fc-necrotizing-draft-ct",
        replace_recommended=True,
        selection="at-most-one",
        override_reasons=True,
    ),
    ("fc-necrotizing", "order-sign", "initial-radiograph"): Detail(
        creates=(_c({"36307-7"}),),
        replaces="ServiceRequest/fc-necrotizing-draft-ct",
        replace_recommended=True,
        selection="at-most-one",
        override_reasons=True,
    ),
    ("fc-fluffy-malignancy", "patient-view", "malignancy-referral"): Detail(creates=(_c(MRI_CODES),)),
    ("fc-chronic-painful", "patient-view", "surgical-referral"): Detail(creates=(_c(REFERRAL_ORTHO_OR_PODIATRY),)),
    # hypervitaminosis D: endocrinology, not nephrology
    ("fc-hypervitaminosis", "patient-view", "metabolic-cause"): Detail(
        creates=(_c(REFERRAL_ENDOCRINOLOGY),), not_creates=frozenset({REFERRAL_NEPHROLOGY})
    ),
    ("fc-hypervitaminosis", "patient-view", "differential-diagnosis"): Detail(
        detail_mentions_all=("metastatic", "tumoral calcinosis")
    ),
    ("fc-hypervitaminosis", "order-select", "metabolic-workup"): Detail(not_creates=frozenset(TEST_CODES["pth"])),
    # abscess + compartment syndrome in a diabetic foot: stat surgery; ESR and CRP both missing
    ("fc-dfi-compartment", "patient-view", "urgent-surgery"): Detail(creates=(_c(REFERRAL_SURGEON, priority="stat"),)),
    ("fc-dfi-compartment", "patient-view", "osteomyelitis-rule-out"): Detail(
        creates=(_c(TEST_CODES["esr"]), _c(TEST_CODES["crp"]))
    ),
    ("fc-dfi-compartment", "patient-view", "dfi-reassessment"): Detail(creates=(_c(FOLLOW_UP_VISIT, period=(2, 4)),)),
    ("fc-dfi-compartment", "order-sign", "advanced-imaging"): Detail(
        creates=(_c(MRI_CODES),), replaces="ServiceRequest/fc-dfi-compartment-draft-ct"
    ),
    ("fc-dfi-compartment", "order-sign", "osteomyelitis-rule-out"): Detail(
        creates=(_c(TEST_CODES["esr"]), _c(TEST_CODES["crp"]))
    ),
    # unsided heel mass: XR Foot 3 Views; calcium flagged high -> endocrinology; the cancelled eGFR is ignored
    ("fc-lab-flags", "patient-view", "initial-radiograph"): Detail(
        creates=(_c({"36305-1"}, reason="Condition/fc-lab-flags-mass"),)
    ),
    ("fc-lab-flags", "patient-view", "metabolic-cause"): Detail(
        creates=(_c(REFERRAL_ENDOCRINOLOGY),), not_creates=frozenset({REFERRAL_NEPHROLOGY})
    ),
    ("fc-lab-flags", "order-select", "initial-radiograph"): Detail(
        creates=(_c({"36305-1"}),),
        replaces="ServiceRequest/fc-lab-flags-draft-mri",
        replace_recommended=True,
        selection="at-most-one",
        override_reasons=True,
    ),
    ("fc-xr-ordered", "patient-view", "conservative-care"): Detail(creates=(_c(REFERRAL_PHYSIO),)),
    ("fc-phlebolith", "patient-view", "repeat-radiograph"): Detail(creates=(_c(XR_CODES, period=(2, 16)),)),
    ("fc-phlebolith", "patient-view", "differential-diagnosis"): Detail(detail_mentions=("phlebolith", "Phlebolith")),
    ("fc-chondrocalcinosis", "patient-view", "advanced-imaging"): Detail(
        creates=(_c(MRI_CODES), _c(US_CODES), _c(CT_CODES, recommended=True)), selection="at-most-one"
    ),
    ("fc-chondrocalcinosis", "patient-view", "differential-diagnosis"): Detail(detail_mentions=("CPPD",)),
    ("fc-chondrocalcinosis", "patient-view", "repeat-radiograph"): Detail(creates=(_c(XR_CODES, period=(4, 18)),)),
    ("fc-order-only", "order-select", "initial-radiograph"): Detail(
        detail_mentions_all=("Calcific tendinitis",),  # the order's reason is why the patient is in the pathway
        creates=(_c(XR_CODES),),
        replaces="ServiceRequest/fc-order-only-draft-us",
        replace_recommended=True,
        selection="at-most-one",
        override_reasons=True,
    ),
    ("fc-order-only", "order-sign", "initial-radiograph"): Detail(
        detail_mentions_all=("Calcific tendinitis",),  # the order's reason is why the patient is in the pathway
        creates=(_c(XR_CODES),),
        replaces="ServiceRequest/fc-order-only-draft-us",
        replace_recommended=True,
        selection="at-most-one",
        override_reasons=True,
    ),
    # physiotherapy already referred: conservative care says so but does not suggest it again
    ("fc-all-done", "patient-view", "conservative-care"): Detail(not_creates=frozenset({REFERRAL_PHYSIO})),
}

# A fragment of the seed sentence each node comes from; the card detail must quote one of them.
SEED_FRAGMENTS: dict[str, tuple[str, ...]] = {
    "initial-radiograph": ("first-line imaging modality", "as the initial imaging study"),
    "advanced-imaging": (
        "when diagnosis remains in doubt",
        "most accurate for defining bone infection",
        "useful for superficial or palpable masses",
        "ct may be considered",
    ),
    "differential-diagnosis": (
        "usually caused by one of the following six entities",
        "damaged or abnormal tissue with normal calcium metabolism",
        "normal tissue due to abnormal calcium metabolism",
    ),
    "metabolic-workup": ("calcium, phosphorus, parathyroid hormone, and renal function",),
    "metabolic-cause": ("address the underlying metabolic disorder",),
    "osteomyelitis-rule-out": ("essential to rule out osteomyelitis", "probe-to-bone test, esr, crp"),
    "eschar-no-debridement": ("best to avoid debriding the necrotic tissue",),
    "infection-management": ("antibiotic therapy based on culture results", "surgical consultation in selected cases"),
    "urgent-surgery": ("urgent surgical intervention is necessary for deep abscesses",),
    "surgical-referral": (
        "not responding to conservative measures",
        "osteomyelitis accompanied by spreading",
        "progressive bone destruction on x-ray",
    ),
    "malignancy-referral": ("suspected malignancy", "amorphous, fluffy, confluent"),
    "conservative-care": ("first-line approach for most asymptomatic or mildly symptomatic",),
    "repeat-radiograph": ("repeat radiographs after 2-4 weeks",),
    "dfi-reassessment": ("reassessment within 2-4 days",),
}
