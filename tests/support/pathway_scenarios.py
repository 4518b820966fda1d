"""Facts for whole patients that, together, make every node fire in every hook it serves (render and
page tests walk them)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from cds_service.facts.model import CalcificationClass, Evidence, Facts, LabTest, Modality, MorphologyHint
from tests.support.pathway_facts import (
    TODAY,
    calcification,
    classified,
    draft,
    evidence,
    facts,
    infection,
    lab,
    xr,
)

__all__ = ["SCENARIOS"]

DIABETES = evidence("Type 2 diabetes mellitus", "Condition/dm", 400)


def _scenarios() -> dict[str, Facts]:
    undetermined = classified(CalcificationClass.UNDETERMINED)
    xr_resource = {"resourceType": "ServiceRequest", "id": "xr-early", "status": "draft", "intent": "order",
                   "subject": {"reference": "Patient/pat-1"},
                   "code": {"coding": [{"system": "http://loinc.org", "code": "36305-1", "display": "XR Foot 3 Views"}]},
                   "occurrenceDateTime": TODAY.isoformat()}
    return {
        "no-xr": facts(),
        "uncertain-after-xr": facts(classification=undetermined, labs={}, imaging=(xr(20),)),
        "metabolic": facts(
            classification=classified(CalcificationClass.METASTATIC,
                                      evidence_by_class={CalcificationClass.METASTATIC: (
                                          evidence("Chronic kidney disease stage 4", "Condition/ckd"),)}),
            metabolic_conditions=(evidence("Chronic kidney disease stage 4", "Condition/ckd"),),
            metabolic_kinds=frozenset({"renal"}),
            labs={LabTest.PTH: lab(LabTest.PTH, 180, "pg/mL", abnormal=True, direction="high")},
            imaging=(xr(20),),
        ),
        "diabetic-ulcer-eschar": facts(diabetes=DIABETES, foot_ulcer=evidence("Diabetic foot ulcer", "Condition/u", 10),
                                       eschar=evidence("Necrotic eschar", "Condition/es", 10),
                                       ischemia=evidence("Peripheral arterial disease", "Condition/pad", 300),
                                       imaging=(xr(5),)),
        "dfi-severe-urgent": facts(
            classification=classified(CalcificationClass.INFECTION),
            diabetes=DIABETES,
            infections=(infection("abscess", severity="severe"), infection("osteomyelitis")),
            osteomyelitis=evidence("Osteomyelitis of foot", "Condition/osteomyelitis", 7),
            urgent_surgical=(evidence("Deep abscess of foot", "Condition/abscess", 2),),
            imaging=(xr(7),),
        ),
        "malignant-painful": facts(
            problems=(calcification(onset_days=120),), foot_pain=evidence("Pain in right foot", "Condition/pain", 3),
            malignancy=(evidence("Primary osteosarcoma", "Condition/os", 2),),
            morphology=(MorphologyHint("osteosarcoma", Evidence("amorphous, fluffy, confluent", "DiagnosticReport/r1",
                                                                TODAY - timedelta(days=4)), malignant=True),),
            imaging=(xr(4, text="amorphous, fluffy, confluent calcification"),),
        ),
        "order-select": facts(
            hook="order-select",
            diabetes=DIABETES, osteomyelitis=evidence("Osteomyelitis of foot", "Condition/osteomyelitis", 7),
            eschar=evidence("Necrotic eschar", "Condition/es", 10),
            ischemia=evidence("Peripheral arterial disease", "Condition/pad", 300),
            labs={LabTest.CALCIUM: lab(LabTest.CALCIUM, 9.2, "mg/dL", days_ago=3)},
            draft_orders=(
                draft("ServiceRequest/ct", "imaging", modality=Modality.CT, label="CT foot"),
                draft("ServiceRequest/deb", "procedure", procedure="debridement", label="Debridement of ulcer"),
                draft("ServiceRequest/ca", "lab", lab_test=LabTest.CALCIUM, label="Calcium"),
            ),
        ),
        "order-sign": facts(
            hook="order-sign", classification=undetermined, labs={}, diabetes=DIABETES,
            foot_ulcer=evidence("Diabetic foot ulcer", "Condition/u", 10),
            imaging=(xr(6),),
            draft_orders=(
                draft("ServiceRequest/xr-early", "imaging", modality=Modality.XR, occurrence=TODAY,
                      resource=xr_resource, label="XR foot 3 views"),
            ),
        ),
        "order-sign-mri-no-xr": facts(
            hook="order-sign",
            draft_orders=(draft("ServiceRequest/mr", "imaging", modality=Modality.MR, label="MR foot"),),
        ),
    }


def _with_other_order_hook(scenarios: dict[str, Facts]) -> dict[str, Facts]:
    """Each order-hook patient again under the other order hook (every draft is selected in both)."""
    other = {"order-select": "order-sign", "order-sign": "order-select"}
    extra = {f"{name}-as-{other[f.hook]}": replace(f, hook=other[f.hook])
             for name, f in scenarios.items() if f.hook in other}
    return {**scenarios, **extra}


SCENARIOS = _with_other_order_hook(_scenarios())
