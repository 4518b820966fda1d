"""Issue 16, classification rules:

- an ulcer (or a dry eschar) is damaged tissue: one at the calcification's site makes it dystrophic (seed 000:
  "Dystrophic calcification - occurs in damaged or abnormal tissue with normal calcium metabolism"), not
  idiopathic; not at another site, and not when the calcification is already infection-related;
- a suspected malignancy is never the benign default: dystrophic only with the suspected tumour named
  first as its cause (seed 004 lists osteosarcoma among the neoplasms behind dystrophic calcification),
  never idiopathic.
"""

from __future__ import annotations

from datetime import date

from cds_service.facts.classification import ESCHAR_AT_SITE, SUSPECTED_MALIGNANCY, ULCER_AT_SITE
from cds_service.facts.model import CalcificationClass as C
from tests.support.e2e_run import run_fixture
from tests.support.facts_builders import ICD10CM, LOINC, SNOMED, condition, days_ago, diagnostic_report, facts_for
from tests.test_facts_classification import workup

ENTRY_RIGHT = condition("entry", (ICD10CM, "M61.471"))  # other calcification of muscle, RIGHT ankle and foot
ENTRY_LEFT = condition("entry", (ICD10CM, "M61.472"))


def ulcer(side: str | None) -> dict:
    words = f"Ulcer of {side} foot" if side else "Ulcer of foot"
    return condition("ulcer", (SNOMED, "95345008", words), text=words)


def classified(*resources: dict):
    classification = facts_for(*resources).classification
    assert classification is not None
    return classification


def test_an_ulcer_at_the_calcifications_site_makes_it_dystrophic_not_idiopathic() -> None:
    without = classified(ENTRY_RIGHT, *workup())
    assert without.classes == {C.IDIOPATHIC}  # the premise: nothing else explains it
    found = classified(ENTRY_RIGHT, ulcer("right"), *workup())
    assert found.classes == {C.DYSTROPHIC}
    (evidence,) = found.evidence[C.DYSTROPHIC]
    assert evidence.reference == "Condition/ulcer" and evidence.label.startswith(ULCER_AT_SITE)


def test_an_ulcer_whose_side_is_not_stated_is_at_the_foot_of_the_calcification() -> None:
    assert classified(ENTRY_RIGHT, ulcer(None), *workup()).classes == {C.DYSTROPHIC}


def test_an_ulcer_of_the_other_foot_is_not_the_calcifications_site() -> None:
    assert classified(ENTRY_LEFT, ulcer("right"), *workup()).classes == {C.IDIOPATHIC}


def test_an_infected_ulcer_is_infection_related_not_also_dystrophic() -> None:
    cellulitis = condition("cell", (SNOMED, "128276007", "Cellulitis of foot"))
    found = classified(ENTRY_RIGHT, ulcer("right"), cellulitis, *workup())
    assert found.classes == {C.INFECTION}


def test_an_ulcer_beside_another_dystrophic_cause_is_listed_after_it() -> None:
    trauma = condition("tendinitis", (ICD10CM, "M65.271"))
    found = classified(ENTRY_RIGHT, trauma, ulcer("right"))
    references = [e.reference for e in found.evidence[C.DYSTROPHIC]]
    assert references == ["Condition/tendinitis", "Condition/ulcer"]


def test_a_malignancy_in_the_record_is_never_idiopathic() -> None:
    sarcoma = condition("sarcoma", (ICD10CM, "C49.21"))
    found = classified(ENTRY_RIGHT, sarcoma, *workup())  # a complete, normal work-up
    assert C.IDIOPATHIC not in found.classes
    assert found.classes == {C.DYSTROPHIC}
    first, *rest = found.evidence[C.DYSTROPHIC]
    assert first.reference == "Condition/sarcoma" and first.label.startswith(SUSPECTED_MALIGNANCY)
    assert all(e.reference != "Condition/sarcoma" for e in rest)  # named once


def test_a_malignant_morphology_comes_before_a_benign_reading_of_the_record() -> None:
    ossification = condition("calc", (ICD10CM, "M61.571"))  # other ossification of muscle: dystrophic
    report = diagnostic_report(
        "xr", (LOINC, "37699-6", "XR Foot - right 3 Views"), effective=days_ago(3),
        conclusion="Amorphous, fluffy, confluent calcified mass in the plantar soft tissues, concerning for osteosarcoma.",
    )
    found = classified(ossification, report)
    assert found.classes == {C.DYSTROPHIC}
    first, second = found.evidence[C.DYSTROPHIC]
    assert first.reference == "DiagnosticReport/xr" and first.label.startswith(SUSPECTED_MALIGNANCY)
    assert second.reference == "Condition/calc"


def test_without_a_malignancy_dystrophic_evidence_is_as_before() -> None:
    found = classified(condition("calc", (ICD10CM, "M61.571")))
    assert [e.label for e in found.evidence[C.DYSTROPHIC]] == [found.evidence[C.DYSTROPHIC][0].label]
    assert not found.evidence[C.DYSTROPHIC][0].label.startswith(SUSPECTED_MALIGNANCY)


def test_the_fixture_patients_read_as_the_rules_say() -> None:
    today = date(2028, 3, 1)
    _, malignancy = run_fixture("fc-fluffy-malignancy", "patient-view", today)
    _, ulcerated = run_fixture("fc-diabetic-ulcer", "patient-view", today)

    def detail(response: dict) -> str:
        return "\n".join(card["detail"] for card in response["cards"])

    # The class that names the tumour stays in the facts (tested above); the response shows no class beside the
    # malignancy card (nodes.toml: differential-diagnosis yields_to malignancy-referral), so no "dystrophic".
    assert [c["source"]["topic"]["code"] for c in malignancy["cards"]] == ["malignancy-referral"]
    assert "dystrophic" not in detail(malignancy)
    assert "idiopathic" not in detail(ulcerated)
    assert ULCER_AT_SITE.replace("'", "") in detail(ulcerated).replace("\\", "").replace("'", "").replace("’", "")


def test_a_dry_eschar_over_the_calcification_is_damaged_tissue() -> None:
    eschar = condition("eschar", None, text="Dry necrotic eschar of right heel")
    found = classified(ENTRY_RIGHT, eschar, *workup())
    assert found.classes == {C.DYSTROPHIC}
    (evidence,) = found.evidence[C.DYSTROPHIC]
    assert evidence.reference == "Condition/eschar" and evidence.label.startswith(ESCHAR_AT_SITE)
    assert classified(ENTRY_LEFT, eschar, *workup()).classes == {C.IDIOPATHIC}  # the other foot


def test_the_eschar_fixture_is_not_idiopathic() -> None:
    _, response = run_fixture("fc-eschar-ischemia", "patient-view", date(2028, 3, 1))
    text = "\n".join(card["detail"] for card in response["cards"]).replace("\\", "")
    assert "idiopathic" not in text and "necrotic tissue at the calcification" in text


def test_an_ulcer_of_another_part_of_the_foot_is_not_the_site() -> None:
    heel = condition("calc", None, text="Soft tissue calcification of the right heel")
    forefoot = condition("ulcer", None, text="Plantar ulcer, right forefoot")
    assert C.DYSTROPHIC not in classified(heel, forefoot).classes
    under = condition("ulcer", None, text="Plantar ulcer of the right heel")
    assert classified(heel, under).classes == {C.DYSTROPHIC}
    # "ankle and foot" (an ICD-10-CM display) names no part: the foot of the ulcer
    assert classified(ENTRY_RIGHT, forefoot, *workup()).classes == {C.DYSTROPHIC}
