"""differential-diagnosis: classes with evidence, the seed-004 table in prevalence order, morphology, flag."""

from __future__ import annotations

from cds_service.facts.model import CalcificationClass, Evidence, MorphologyHint
from cds_service.guideline.config import load_pathway_config
from cds_service.guideline.nodes import node_spec
from cds_service.pathway.context import NodeContext
from cds_service.pathway.differential import differential_diagnosis
from tests.support.pathway_facts import calcification, classified, evidence, facts, results_by_node

ORDER = ["Dystrophic", "CPPD", "Metastatic calcification", "Tumoral calcinosis", "Metastatic osteosarcoma",
         "Primary soft tissue osteosarcoma"]


def _differential(**kw):  # type: ignore[no-untyped-def]
    return results_by_node(facts(**kw))["differential-diagnosis"]


def test_table_is_in_seed_prevalence_order_with_prevalences() -> None:
    table = _differential().variables["table"]
    assert [row["name"] for row in table] == ORDER
    assert [row["prevalence"] for row in table] == ["95 \u2013 98 %", "1 \u2013 2 %", "1 \u2013 2 %", "<< 1 %",
                                                    "<<< 1 %", "<<<< 1 %"]


def test_dystrophic_supported_by_its_class_evidence() -> None:
    result = _differential()
    supported = {row["name"] for row in result.variables["table"] if row["supported"]}
    assert supported == {"Dystrophic"}
    assert result.variables["classes"][0]["name"] == "dystrophic"
    assert result.variables["malignancy"] is False


def test_several_classes_and_metastatic_support() -> None:
    ckd = evidence("Chronic kidney disease stage 4", "Condition/ckd")
    trauma = evidence("Crushing injury of foot", "Condition/trauma")
    c = classified(CalcificationClass.METASTATIC, CalcificationClass.DYSTROPHIC,
                   evidence_by_class={CalcificationClass.METASTATIC: (ckd,), CalcificationClass.DYSTROPHIC: (trauma,)})
    result = _differential(classification=c)
    assert [row["name"] for row in result.variables["classes"]] == ["metastatic", "dystrophic"]
    rows = {row["name"]: row for row in result.variables["table"]}
    assert rows["Metastatic calcification"]["evidence"][0]["label"] == "Chronic kidney disease stage 4"
    assert rows["Dystrophic"]["supported"] and not rows["CPPD"]["supported"]


def test_morphology_hints_cppd_concept_and_malignancy_flag() -> None:
    fluffy = MorphologyHint("osteosarcoma", Evidence("amorphous, fluffy, confluent calcification", "DiagnosticReport/9"),
                            malignant=True)
    cppd = calcification(label="Other chondrocalcinosis, right ankle and foot", concept="chondrocalcinosis")
    f = facts(morphology=(fluffy,), problems=(cppd,))
    # In a response the class yields to the malignancy card (nodes.toml yields_to): the builder itself still
    # flags the malignancy, for wherever its card is shown.
    assert "malignancy-referral" in results_by_node(f) and "differential-diagnosis" not in results_by_node(f)
    node = node_spec("differential-diagnosis")
    assert node is not None
    result = differential_diagnosis(NodeContext(facts=f, limits=load_pathway_config(), node=node, fired=("patient-view",)))
    assert result is not None
    rows = {row["name"]: row["supported"] for row in result.variables["table"]}
    assert rows["CPPD"] and rows["Metastatic osteosarcoma"] and rows["Primary soft tissue osteosarcoma"]
    assert result.variables["malignancy"] is True
    assert "osteosarcoma" in result.variables["hints"][0]["meaning"]


def test_undetermined_without_classification_falls_back_to_facts() -> None:
    result = _differential(classification=None)
    assert [row["name"] for row in result.variables["classes"]] == ["undetermined"]
    assert not any(row["supported"] for row in result.variables["table"])
