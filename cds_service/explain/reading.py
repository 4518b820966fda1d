"""What each pathway question reads: the facts it looks at and the settings (windows, thresholds) it uses.

This is description, not logic: the answers themselves come from `pathway.questions` during the one
evaluation (`pathway.trace`). The table lets an explanation list the records behind an answer, tell "no
such record" from "present but out of the window / range / not of the foot", and name each setting with
where its value comes from (thresholds.toml `source`: spec, seed or local default). A question missing here
is reported without records (tests/test_explain.py checks that every question is listed).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["READS", "Reads"]


@dataclass(frozen=True, slots=True)
class Reads:
    facts: tuple[str, ...]  # `Facts` fields the question reads
    settings: tuple[str, ...] = ()  # `PathwayConfig` fields (windows, thresholds) it uses
    # What a record that is present but did not count failed: "out-of-window" | "out-of-range" |
    # "not-of-the-foot" | "not-matching" (a kind, class or status other than the one asked).
    present_but: str = "not-matching"


_DRAFTS = ("draft_orders",)
READS: dict[str, Reads] = {
    "in_pathway": Reads(("problems",)),
    "problem_active": Reads(("problems",)),
    "has_recent_foot_radiograph": Reads(("imaging",), ("imaging_lookback_days",), "out-of-window"),
    "radiograph_already_ordered": Reads(("imaging", "draft_orders", "active_orders"), (), "not-matching"),
    "diagnosis_uncertain": Reads(("problems", "classification")),
    "advanced_imaging_done_or_ordered": Reads(("imaging", "draft_orders", "active_orders"),
                                              ("imaging_lookback_days",), "out-of-window"),
    "single_recent_radiograph_since_onset": Reads(("imaging", "problems"), ("repeat_xr_max_age_days",),
                                                  "out-of-window"),
    "drafted_advanced_foot_imaging": Reads(_DRAFTS, (), "not-of-the-foot"),
    "drafted_foot_ct": Reads(_DRAFTS, (), "not-of-the-foot"),
    "drafted_early_repeat_radiograph": Reads(("draft_orders", "imaging"), ("repeat_xr_min_days",), "out-of-window"),
    "metastatic_or_undetermined": Reads(("classification",)),
    "metabolic_lab_missing": Reads(("labs", "draft_orders", "active_orders"), ("lab_lookback_days",), "out-of-window"),
    "drafted_duplicate_lab": Reads(("draft_orders", "labs"), ("duplicate_lab_window_days",), "out-of-window"),
    "metabolic_abnormality": Reads(("metabolic_conditions", "labs"), ("lab_lookback_days", "ranges"), "out-of-range"),
    "has_diabetes": Reads(("diabetes",)),
    "has_foot_ulcer_or_infection": Reads(("foot_ulcer", "infections")),
    "has_osteomyelitis_diagnosis": Reads(("osteomyelitis", "infections")),
    "osteomyelitis_studies_outstanding": Reads(("probe_to_bone_done", "labs", "imaging", "draft_orders",
                                                "active_orders"),
                                               ("infection_lab_lookback_days", "imaging_lookback_days"), "out-of-window"),
    "diabetic_foot_infection": Reads(("diabetic_foot_infection", "diabetes", "infections")),
    "osteomyelitis_or_dfi_suspected": Reads(("osteomyelitis", "diabetic_foot_infection", "diabetes", "foot_ulcer",
                                             "infections")),
    "inflammatory_markers_high": Reads(("labs",), ("infection_lab_lookback_days",), "out-of-range"),
    "infection_related": Reads(("classification",)),
    "urgent_surgical_condition": Reads(("urgent_surgical",)),
    "eschar_in_ischemic_foot": Reads(("eschar", "ischemia", "wet_gangrene", "infections", "urgent_surgical")),
    "drafted_foot_debridement": Reads(_DRAFTS, (), "not-of-the-foot"),
    "not_responding_to_conservative_care": Reads(("foot_pain", "problems"), ("conservative_care_min_weeks",),
                                                 "out-of-window"),
    "osteomyelitis_with_spreading_infection": Reads(("osteomyelitis", "infections")),
    "progressive_bone_destruction": Reads(("bone_destruction",)),
    "surgical_referral_indicated": Reads(("foot_pain", "problems", "osteomyelitis", "infections", "bone_destruction"),
                                         ("conservative_care_min_weeks",)),
    "suspected_malignancy": Reads(("malignancy", "morphology")),
}

# Labs a question reads (facts.labs holds every test): only these are listed as its records.
LAB_TESTS: dict[str, tuple[str, ...]] = {
    "metabolic_lab_missing": ("calcium", "phosphate", "pth", "creatinine", "egfr"),
    "metabolic_abnormality": ("calcium", "phosphate", "pth", "egfr", "vitamin_d"),
    "inflammatory_markers_high": ("esr", "crp"),
    "osteomyelitis_studies_outstanding": ("esr", "crp"),
    "drafted_duplicate_lab": ("calcium", "phosphate", "pth", "creatinine", "egfr", "vitamin_d", "esr", "crp"),
}
