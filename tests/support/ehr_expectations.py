"""What a clinician should see for each "as EHRs send it" patient (fhir_fixtures/ehr), written from
shared/pathway-spec.md and the seeds, not from what the code does. fixture -> hook -> {node: indicator};
an empty dict means exactly `{"cards": []}`. The reasons are in the comments.
"""

from __future__ import annotations

__all__ = ["COMPOSED", "EXPECTED"]

INFO, WARNING, CRITICAL = "info", "warning", "critical"

EXPECTED: dict[str, dict[str, dict[str, str]]] = {
    # In the pathway by the encounter diagnosis (no clinicalStatus counts) and the report's conclusion;
    # dystrophic (calcific tendinitis), so no metabolic work-up; one radiograph 10 days ago -> repeat; the
    # ionized calcium is not total calcium (else a low calcium would make it metastatic).
    "ehr-mixed-coding": {
        "patient-view": {"differential-diagnosis": INFO, "repeat-radiograph": INFO, "conservative-care": INFO},
        # the drafted PTH (local code, read by its words) was resulted 12 days ago
        "order-select": {"metabolic-workup": INFO},
        "order-sign": {"metabolic-workup": INFO},
    },
    # Text only: a heel calcification; diabetes with a plantar ulcer -> rule out osteomyelitis (the negated
    # osteomyelitis is no diagnosis); the past cellulitis is no infection, so the class is undetermined ->
    # metabolic work-up and advanced imaging after the (text-only) radiograph 5 days ago; repeat radiograph.
    # No conservative care while osteomyelitis is to be ruled out (seed 000: conservative care is for
    # "asymptomatic or mildly symptomatic" calcifications).
    "ehr-text-only": {
        "patient-view": {
            "differential-diagnosis": INFO,
            "advanced-imaging": INFO,
            "metabolic-workup": INFO,
            "osteomyelitis-rule-out": WARNING,
            "repeat-radiograph": INFO,
        },
        "order-select": {"advanced-imaging": INFO},  # a CT drafted while osteomyelitis must be ruled out
        "order-sign": {"advanced-imaging": INFO, "metabolic-workup": INFO, "osteomyelitis-rule-out": WARNING},
    },
    # Never X-rayed: plain radiographs first (unsided: the record contradicts itself on the side).
    "ehr-laterality-conflict": {
        "patient-view": {"initial-radiograph": WARNING, "differential-diagnosis": INFO, "conservative-care": INFO},
        "order-select": {"initial-radiograph": WARNING},
        "order-sign": {"initial-radiograph": WARNING},
    },
    # Wet gangrene is an infected wound: infection-related (culture-guided antibiotics), diabetes with a foot
    # infection -> rule out osteomyelitis; never "avoid debridement" (the dry heel eschar is on an infected
    # foot), so the drafted debridement gets no card.
    "ehr-wet-gangrene": {
        "patient-view": {
            "differential-diagnosis": INFO,
            "infection-management": WARNING,
            "osteomyelitis-rule-out": WARNING,
            "repeat-radiograph": INFO,
        },
        "order-select": {},
        "order-sign": {"osteomyelitis-rule-out": WARNING},
    },
    # Necrotizing fasciitis: urgent surgery; never also "avoid debridement" for that foot.
    "ehr-necrotizing-eschar": {
        "patient-view": {
            "initial-radiograph": WARNING,
            "differential-diagnosis": INFO,
            "infection-management": WARNING,
            "urgent-surgery": CRITICAL,
        },
        "order-select": {},
        "order-sign": {},
    },
    # Another site, wider regions without foot evidence, past and negated text, a resolved finding, and an
    # unsited MRI whose reason names no foot: not in the pathway.
    "ehr-outside-sites": {"patient-view": {}, "order-select": {}, "order-sign": {}},
    # The unsited lower-extremity MRI / US of a patient in the pathway is possibly of the foot.
    "ehr-lower-extremity-draft": {
        "patient-view": {"initial-radiograph": WARNING, "differential-diagnosis": INFO, "conservative-care": INFO},
        "order-select": {"initial-radiograph": WARNING},
        "order-sign": {"initial-radiograph": WARNING},
    },
    # Deceased 3 days ago: local default "no-cards".
    "ehr-deceased": {"patient-view": {}, "order-select": {}, "order-sign": {}},
    # The entered-in-error report, the cancelled calcium, the erroneous creatinine, the absent PTH and the
    # revoked order do not count; the work-up is complete and normal (eGFR ">60"), the class idiopathic ->
    # no metabolic card; one radiograph (amended, 20 days ago) -> repeat.
    "ehr-statuses": {
        "patient-view": {"differential-diagnosis": INFO, "repeat-radiograph": INFO, "conservative-care": INFO},
        "order-select": {"metabolic-workup": INFO},  # calcium drafted, resulted 20 days ago
        "order-sign": {"metabolic-workup": INFO},
    },
    # ESRD with high phosphate and PTH (the latest results): metastatic, treat the disorder; work-up
    # complete; one foot radiograph 20 days ago -> repeat; the phosphate drafted was resulted 3 days ago.
    "ehr-big-dialysis": {
        "patient-view": {
            "differential-diagnosis": INFO,
            "metabolic-cause": WARNING,
            "repeat-radiograph": INFO,
            "conservative-care": INFO,
        },
        "order-select": {"metabolic-workup": INFO},
        "order-sign": {"metabolic-workup": INFO},
    },
    # The last foot radiograph is 100 days old (outside the lookback): radiographs first; no labs ->
    # undetermined -> metabolic work-up (re-offered at signing).
    "ehr-big-history": {
        "patient-view": {
            "initial-radiograph": WARNING,
            "differential-diagnosis": INFO,
            "metabolic-workup": INFO,
            "conservative-care": INFO,
        },
        "order-select": {"initial-radiograph": WARNING},
        "order-sign": {"initial-radiograph": WARNING, "metabolic-workup": INFO},
    },
}

# One coherent response (nodes.toml folds_into): (fixture, hook) -> {card's own node: the nodes folded into it,
# in the order they join}; every other node has a card of its own. The classification goes to the card of
# the management it leads to; the routine repeat film to the infection card.
_CLASS = ("differential-diagnosis",)
COMPOSED: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("ehr-mixed-coding", "patient-view"): {"conservative-care": _CLASS},
    ("ehr-text-only", "patient-view"): {"metabolic-workup": _CLASS},
    ("ehr-laterality-conflict", "patient-view"): {"conservative-care": _CLASS},
    ("ehr-wet-gangrene", "patient-view"): {"infection-management": ("repeat-radiograph", *_CLASS)},
    ("ehr-necrotizing-eschar", "patient-view"): {"infection-management": _CLASS},
    ("ehr-lower-extremity-draft", "patient-view"): {"conservative-care": _CLASS},
    ("ehr-statuses", "patient-view"): {"conservative-care": _CLASS},
    ("ehr-big-dialysis", "patient-view"): {"metabolic-cause": _CLASS},
    ("ehr-big-history", "patient-view"): {"metabolic-workup": _CLASS},
}
