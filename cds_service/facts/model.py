"""The typed record of facts the pathway rules read. Rules never see FHIR JSON.

Built once per call by `cds_service.facts.extract.build_facts` from `ClinicalData`. Every fact keeps the
evidence it came from (a reference, a date, a value) so a card can say why it fired. "Unknown" is kept
distinct from "no": a lab with no result is `None`, not normal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

__all__ = [
    "CalcificationClass",
    "Classification",
    "DraftOrder",
    "Evidence",
    "Facts",
    "ImagingEvent",
    "Infection",
    "LabResult",
    "LabTest",
    "Modality",
    "MorphologyHint",
    "Problem",
    "Side",
]


class Side(StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BILATERAL = "bilateral"


class Modality(StrEnum):
    XR = "XR"  # plain radiograph (DICOM DX / CR)
    MR = "MR"
    CT = "CT"
    US = "US"


class LabTest(StrEnum):
    CALCIUM = "calcium"
    PHOSPHATE = "phosphate"
    PTH = "pth"
    CREATININE = "creatinine"
    EGFR = "egfr"
    VITAMIN_D = "vitamin_d"
    ESR = "esr"
    CRP = "crp"
    CULTURE = "culture"  # wound / tissue / bone culture


# Card words for each test, and the decimals its canonical value is shown with (converted values would
# otherwise print as "9.2585 mg/dL").
LAB_NAMES: dict[str, str] = {
    "calcium": "Calcium",
    "phosphate": "Phosphate",
    "pth": "PTH",
    "creatinine": "Creatinine",
    "egfr": "eGFR",
    "vitamin_d": "25-OH vitamin D",
    "esr": "ESR",
    "crp": "CRP",
    "culture": "Culture",
}
LAB_DECIMALS: dict[str, int] = {"calcium": 1, "phosphate": 1, "creatinine": 2, "crp": 1}


class CalcificationClass(StrEnum):
    INFECTION = "infection-related"
    METASTATIC = "metastatic"
    DYSTROPHIC = "dystrophic"
    IDIOPATHIC = "idiopathic"
    UNDETERMINED = "undetermined"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of the patient's data a conclusion rests on, shown on the card."""

    label: str  # human words: "Calcium 11.2 mg/dL (high)", "Type 2 diabetes mellitus"
    reference: str | None = None  # "Condition/123"
    when: date | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """An in-pathway problem: why the patient is in the pathway."""

    reference: str  # "Condition/123", "Observation/9", "DiagnosticReport/4", "ServiceRequest/7"
    kind: str  # "calcification" | "soft-tissue-mass" | "imaging-finding" | "draft-order-reason"
    label: str
    concept: str | None = None  # value set entry matched, e.g. "calcific-tendinitis"
    side: Side | None = None
    onset: date | None = None
    recorded: date | None = None
    # Condition.verificationStatus code (confirmed, provisional, differential, unconfirmed) when given
    verification: str | None = None
    active: bool = True
    matched_by_text: bool = False
    body_site: str | None = None  # "foot" | "ankle" | "heel" | "toe" when known


@dataclass(frozen=True, slots=True)
class LabResult:
    test: LabTest
    reference: str
    when: date | None
    value: float | None  # in the canonical unit below; None for non-numeric results
    unit: str | None  # canonical: mg/dL (Ca, PO4, creatinine), pg/mL (PTH), ng/mL (25-OH D), mL/min/1.73m2, mm/h, mg/L
    original: str  # "2.9 mmol/L" as received
    # True/False when an interpretation, a reference range or the default range decides; None when unknown
    abnormal: bool | None
    direction: str | None = None  # "high" | "low" | None
    decided_by: str | None = None  # "interpretation" | "referenceRange" | "default range" | "result" (cultures)
    positive: bool | None = None  # cultures: organism grown
    label: str = ""  # the test's name as the data gives it, e.g. "Calcium [Mass/volume] in Serum or Plasma"
    comparator: str | None = None  # "<" | "<=" | ">=" | ">": `value` is a bound, not the value

    def below(self, threshold: float) -> bool | None:
        """Whether the value is below `threshold` (canonical unit); None when unknown (no value, or a
        comparator that leaves it open: "<90" against 60)."""
        if self.value is None:
            return None
        if self.comparator in ("<", "<="):
            return True if self.value < threshold or (self.comparator == "<" and self.value == threshold) else None
        if self.comparator in (">", ">="):
            return False if self.value >= threshold else None
        return self.value < threshold

    def describe(self) -> str:
        """Card words, without the date (Evidence.when carries it): "Calcium 11.6 mg/dL (reported 2.9 mmol/L),
        high by default range"."""
        name = LAB_NAMES[self.test.value]
        if self.test is LabTest.CULTURE:
            grown = {True: "organism grown", False: "no growth", None: "result unclear"}[self.positive]
            return f"{name}: {grown}"
        if self.value is not None and self.unit:
            shown = f"{self.comparator or ''}{self.value:.{LAB_DECIMALS.get(self.test.value, 0)}f} {self.unit}"
        else:
            shown = self.original
        words = f"{name} {shown}"
        if self.original and self.original != shown and self.value is not None:
            words += f" (reported {self.original})"
        if self.abnormal:
            words += f", {self.direction or 'abnormal'}" + (f" by {self.decided_by}" if self.decided_by else "")
        elif self.abnormal is False:
            words += ", normal"
        return words


@dataclass(frozen=True, slots=True)
class ImagingEvent:
    """A foot/ankle imaging study done (ImagingStudy, DiagnosticReport, imaging Observation, Procedure, or a
    completed ServiceRequest that is the only record of its study) or ordered (an active ServiceRequest)."""

    modality: Modality
    reference: str
    when: date | None
    status: str  # "done" | "ordered"
    body_site: str | None = None  # "foot" | "ankle" | "toe" | "heel"
    side: Side | None = None
    text: str | None = None  # report conclusion / description, for morphology hints
    # Other resources describing the same study (same modality and day), e.g. its DiagnosticReport
    also: tuple[str, ...] = ()
    by_text: bool = False  # recognised from text, not from a code


@dataclass(frozen=True, slots=True)
class Infection:
    # "cellulitis" | "abscess" | "deep-abscess" | "osteomyelitis" | "necrotizing" | "diabetic-foot-infection"
    # | "wet-gangrene" | "positive-culture"
    kind: str
    reference: str
    label: str
    when: date | None = None
    severity: str | None = None  # "mild" | "moderate" | "severe" (Condition.severity) when given


@dataclass(frozen=True, slots=True)
class MorphologyHint:
    """A seed-004 morphology seen in imaging text or codes."""

    pattern: str  # "phlebolith" | "cysticercosis" | "dracunculiasis" | "cppd" | "tumoral-calcinosis" | "metastatic" | "osteosarcoma"
    evidence: Evidence
    malignant: bool = False


@dataclass(frozen=True, slots=True)
class Classification:
    classes: frozenset[CalcificationClass]
    # class -> the evidence that put the patient there
    evidence: dict[CalcificationClass, tuple[Evidence, ...]] = field(default_factory=dict)
    workup_complete: bool = False


@dataclass(frozen=True, slots=True)
class DraftOrder:
    """An order in `context.draftOrders`, as the order hooks need it."""

    reference: str  # "ServiceRequest/abc"
    resource_type: str
    category: str  # "imaging" | "lab" | "procedure" | "referral" | "follow-up" | "other"
    label: str
    selected: bool  # in order-select's selections (always True at order-sign)
    modality: Modality | None = None
    # "foot" | "ankle" | "heel" | "toe"; "elsewhere" when its bodySite names another place; None: no site
    body_site: str | None = None
    side: Side | None = None
    # Imaging coded for the lower extremity (CPT 73718...) with no site at all: possibly of the foot, which
    # the order hooks read as the foot for a patient in the pathway, and say so on the card.
    possibly_foot: bool = False
    lab_test: LabTest | None = None
    procedure: str | None = None  # "debridement" | ...
    # "orthopedics" | "podiatry" | "surgery" | "vascular" | "nephrology" | "endocrinology" | "physiotherapy"
    referral: str | None = None
    occurrence: date | None = None
    reason_references: tuple[str, ...] = ()
    status: str | None = None  # ServiceRequest.status ("draft" for draft orders, "active" for active_orders)
    code: tuple[tuple[str, str], ...] = ()  # the order's (system, code) pairs, to tell a suggestion is already there
    # The order as received (JSON), so an `update` suggestion can send back the whole resource (helper D).
    resource: dict | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True, slots=True)
class Facts:
    today: date
    patient_id: str
    hook: str
    problems: tuple[Problem, ...] = ()
    classification: Classification | None = None
    # Latest counting result per test within its lookback (older results are not "done"): lab_lookback_days
    # (90 d) for calcium, phosphate, PTH, creatinine, eGFR, vitamin D; infection_lab_lookback_days (30 d) for
    # ESR, CRP and cultures. Both ends of a window are included.
    labs: dict[LabTest, LabResult] = field(default_factory=dict)
    # Every foot/ankle imaging event, any date (use `imaging_done(..., within_days=...)` for a lookback);
    # one event per study (an ImagingStudy, its report and its Procedure on one day are merged).
    imaging: tuple[ImagingEvent, ...] = ()
    infections: tuple[Infection, ...] = ()
    diabetes: Evidence | None = None
    foot_ulcer: Evidence | None = None
    osteomyelitis: Evidence | None = None
    eschar: Evidence | None = None  # a dry eschar, or gangrene stated dry, of the foot
    wet_gangrene: Evidence | None = None  # wet, gas or infected gangrene or eschar of the foot
    ischemia: Evidence | None = None  # PAD, critical limb ischemia, ischemic ulcer
    urgent_surgical: tuple[Evidence, ...] = ()  # deep abscess, compartment syndrome, necrotizing infection
    # CKD 3-5/ESRD, hyperparathyroidism, hypervitaminosis D, hypercalcemia...
    metabolic_conditions: tuple[Evidence, ...] = ()
    # the kinds among them: "renal" | "parathyroid" | "vitamin-d" | "calcium-phosphate"
    metabolic_kinds: frozenset[str] = frozenset()
    dystrophic_causes: tuple[Evidence, ...] = ()  # trauma, tendinitis, myositis ossificans, seed-004 causes
    malignancy: tuple[Evidence, ...] = ()  # osteosarcoma, malignant soft tissue neoplasm of the lower limb
    foot_pain: Evidence | None = None  # active foot pain (symptomatic)
    bone_destruction: Evidence | None = None  # progressive bone destruction on X-ray
    morphology: tuple[MorphologyHint, ...] = ()
    probe_to_bone_done: Evidence | None = None  # a probe-to-bone test within the infection-lab lookback (30 d)
    draft_orders: tuple[DraftOrder, ...] = ()
    # Active (not draft) ServiceRequests for labs, referrals and procedures, in DraftOrder shape with
    # selected=False: a suggestion is never made for what is already ordered (helper D). Imaging orders
    # are in `imaging` with status "ordered".
    active_orders: tuple[DraftOrder, ...] = ()
    # Diabetes with cellulitis, abscess, necrotizing infection or osteomyelitis of the foot, or SNOMED 200687002
    diabetic_foot_infection: Evidence | None = None
    # Patient.deceasedBoolean true, or Patient.deceasedDateTime on or before `today`
    deceased: Evidence | None = None

    @property
    def in_pathway(self) -> bool:
        return bool(self.problems)

    def imaging_done(self, modalities: Iterable[Modality], within_days: int | None = None) -> tuple[ImagingEvent, ...]:
        """Foot/ankle imaging done with one of `modalities`, newest first; with `within_days`, only studies in
        [today - within_days, today] (both ends included). Future studies never count. An undated study counts
        as recent (local default: better silent than re-order a study that exists) and sorts last."""
        wanted = set(modalities)
        found = [
            event
            for event in self.imaging
            if event.status == "done"
            and event.modality in wanted
            and (
                event.when is None
                or (event.when <= self.today and (within_days is None or (self.today - event.when).days <= within_days))
            )
        ]
        return tuple(sorted(found, key=lambda event: event.when or date.min, reverse=True))

    def imaging_ordered(self, modalities: Iterable[Modality]) -> tuple[ImagingEvent, ...]:
        wanted = set(modalities)
        return tuple(e for e in self.imaging if e.status == "ordered" and e.modality in wanted)

    def lab(self, test: LabTest) -> LabResult | None:
        return self.labs.get(test)
