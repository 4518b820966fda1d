"""Clinical context facts from Conditions: diabetes, ulcer, infection and severity, urgent surgical
conditions, metabolic and dystrophic causes, malignancy, foot pain, eschar and ischemia."""

from __future__ import annotations

from tests.support.facts_builders import ICD10CM, SNOMED, condition, facts_for

FOOT = (SNOMED, "56459004", "Foot structure")
ENTRY = condition("entry", (ICD10CM, "M65.271"))


def test_diabetes_ulcer_and_diabetic_foot_infection() -> None:
    facts = facts_for(
        ENTRY,
        condition("dm", (SNOMED, "44054006", "Diabetes mellitus type 2")),
        condition("u", (SNOMED, "95345008", "Ulcer of foot")),
    )
    assert facts.diabetes.reference == "Condition/dm"
    assert facts.foot_ulcer.reference == "Condition/u"
    assert facts.infections == () and facts.diabetic_foot_infection is None  # an ulcer is not an infection

    with_cellulitis = facts_for(
        ENTRY, condition("dm", (ICD10CM, "E11.621")), condition("cel", (SNOMED, "128276007", "Cellulitis of foot"))
    )
    assert [i.kind for i in with_cellulitis.infections] == ["cellulitis"]
    assert with_cellulitis.diabetic_foot_infection.reference == "Condition/cel"
    assert with_cellulitis.foot_ulcer.reference == "Condition/dm"  # E11.621 is diabetes with foot ulcer

    proxy = facts_for(ENTRY, condition("dfi", (SNOMED, "200687002", "Cellulitis in diabetic foot")))
    assert {"cellulitis", "diabetic-foot-infection"} <= {i.kind for i in proxy.infections}
    assert proxy.diabetes is not None and proxy.diabetic_foot_infection is not None


def test_infection_severity_from_condition_severity() -> None:
    facts = facts_for(ENTRY, condition("a", (ICD10CM, "L02.612"), severity=(SNOMED, "6736007", "Moderate")))
    (infection,) = facts.infections
    assert (infection.kind, infection.severity) == ("abscess", "moderate")


def test_generic_osteomyelitis_needs_a_foot_site() -> None:
    assert facts_for(ENTRY, condition("o", (SNOMED, "60168000", "Osteomyelitis"))).osteomyelitis is None
    facts = facts_for(ENTRY, condition("o", (SNOMED, "60168000", "Osteomyelitis"), body_site=FOOT))
    assert facts.osteomyelitis.reference == "Condition/o"
    assert [i.kind for i in facts.infections] == ["osteomyelitis"]
    assert facts_for(ENTRY, condition("o", (ICD10CM, "M86.172"))).osteomyelitis is not None


def test_urgent_surgical_conditions() -> None:
    assert facts_for(ENTRY, condition("n", (SNOMED, "52486002", "Necrotizing fasciitis"))).urgent_surgical
    assert facts_for(ENTRY, condition("cs", (ICD10CM, "M79.A22"))).urgent_surgical
    deep = facts_for(
        ENTRY, condition("a", (SNOMED, "301706005", "Abscess of foot"), text="Deep abscess of the plantar space")
    )
    assert {"abscess", "deep-abscess"} <= {i.kind for i in deep.infections}
    assert deep.urgent_surgical
    assert not facts_for(ENTRY, condition("a", (SNOMED, "301706005", "Abscess of foot"))).urgent_surgical


def test_metabolic_conditions() -> None:
    for code in [
        (SNOMED, "433146000"),
        (ICD10CM, "N18.6"),
        (ICD10CM, "E21.0"),
        (ICD10CM, "E67.3"),
        (ICD10CM, "E83.52"),
    ]:
        assert facts_for(ENTRY, condition("m", code)).metabolic_conditions, code
    # CKD stage 2 is not a metastatic cause
    assert not facts_for(ENTRY, condition("m", (ICD10CM, "N18.2"))).metabolic_conditions
    assert facts_for(ENTRY, condition("m", text="Hypervitaminosis D")).metabolic_conditions


def test_dystrophic_causes_include_the_problem_itself() -> None:
    facts = facts_for(
        condition("ct", (ICD10CM, "M65.272")),
        condition("tr", (SNOMED, "125604000", "Injury of foot")),
        condition("vi", (ICD10CM, "I87.2")),
        condition("sc", (SNOMED, "89155008", "Systemic sclerosis")),
    )
    assert [e.reference for e in facts.dystrophic_causes] == [
        "Condition/ct",
        "Condition/tr",
        "Condition/vi",
        "Condition/sc",
    ]
    assert not facts_for(condition("x", (ICD10CM, "M61.471"))).dystrophic_causes  # "other calcification": unknown


def test_malignancy_pain_eschar_ischemia() -> None:
    facts = facts_for(
        ENTRY,
        condition("s", (ICD10CM, "C49.21")),
        condition("p", (ICD10CM, "M79.671")),
        condition("e", (SNOMED, "421306004", "Necrotic eschar"), body_site=FOOT),
        condition("pad", (SNOMED, "840580004", "Peripheral arterial disease")),
    )
    assert [e.reference for e in facts.malignancy] == ["Condition/s"]
    assert facts.foot_pain.reference == "Condition/p"
    assert facts.eschar.reference == "Condition/e"
    assert facts.ischemia.reference == "Condition/pad"
    # an eschar elsewhere is not the foot's
    assert facts_for(ENTRY, condition("e", (SNOMED, "421306004", "Necrotic eschar"))).eschar is None
    assert facts_for(ENTRY, condition("g", text="Dry gangrene of the left second toe")).eschar is not None


def test_resolved_context_conditions_do_not_count() -> None:
    facts = facts_for(
        ENTRY,
        condition("cel", (SNOMED, "128276007"), clinical="resolved"),
        condition("dm", (SNOMED, "44054006"), verification="refuted"),
    )
    assert facts.infections == () and facts.diabetes is None
