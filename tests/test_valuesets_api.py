"""The value set API others call: matching by code, by whole-word text, orderables and prefetch codes."""

from __future__ import annotations

import pytest

from cds_service.guideline.valuesets import (
    ValueSet,
    category_tokens,
    load_valuesets,
    normalise_text,
    orderable,
    parse_valuesets,
    prefetch_codings,
)

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def test_family_codes_are_enumerated_and_labelled_by_family() -> None:
    value_set = load_valuesets()["calcification-foot-site"]
    member = value_set.member([(ICD10CM, "M61.472")])
    assert member is not None
    assert member.family == "M61.47x"
    assert member.side == "left"
    assert member.site == "foot"
    assert value_set.member([(ICD10CM, "M61.175")]).side == "left"  # type: ignore[union-attr]
    assert value_set.member([(ICD10CM, "M61.179")]).side is None  # type: ignore[union-attr]
    # the family label itself is not a code
    assert not value_set.matches_codings([(ICD10CM, "M61.47x")])
    assert "M61.47x" in value_set.families
    assert value_set.sources == ("ICDCM",)
    assert load_valuesets()["probe-to-bone"].sources == ("text only",)


def test_codes_match_only_with_their_system() -> None:
    labs = load_valuesets()["lab-calcium"]
    assert labs.matches_codings([(LOINC, "17861-6")])
    assert not labs.matches_codings([(SNOMED, "17861-6")])
    assert not labs.matches_codings([(None, "17861-6")])
    assert labs.lab_test == "calcium"


def test_text_matches_whole_words_case_insensitively() -> None:
    value_set = load_valuesets()["calcification-concept"]
    assert value_set.matches_text("CALCIFIC TENDINITIS of the left Achilles")
    assert value_set.matched_term("Calcific tendinitis") == "calcific tendinitis"  # longest term wins
    assert not value_set.matches_text("decalcification")  # not a whole word
    assert not value_set.matches_text("")
    assert not value_set.matches_text(None)
    assert load_valuesets()["morphology-cysticercosis"].matches_text("Rice-grain opacities in the calf")


def test_value_sets_have_titles_and_sources() -> None:
    valuesets = load_valuesets()
    for value_set in valuesets.sets.values():
        assert value_set.title, value_set.name
        assert value_set.members or value_set.text_terms, value_set.name
        for member in value_set.members:
            assert member.source in valuesets.sources


def test_orderables() -> None:
    xr = orderable("xr-foot-left-3-views")
    assert (xr.system, xr.code) == (LOINC, "36307-7")
    assert orderable("follow-up-visit").code == "185389009"
    probe = orderable("probe-to-bone-test")
    assert probe.system is None and probe.code is None
    assert probe.codeable_concept() == {"text": "Probe-to-bone test"}
    assert orderable("lab-pth").codeable_concept()["coding"][0]["code"] == "2731-8"
    with pytest.raises(KeyError, match="no orderable named 'xr-hand'"):
        orderable("xr-hand")


def test_every_lab_test_has_a_value_set_and_an_orderable() -> None:
    from cds_service.facts.model import LabTest

    valuesets = load_valuesets()
    ordered = {o.lab_test for o in valuesets.orderables.values() if o.lab_test}
    for test in LabTest:
        assert valuesets.for_lab_test(test.value).codings
        assert test.value in ordered


def test_prefetch_codings() -> None:
    labs = prefetch_codings("Observation")
    assert (LOINC, "6462-6") in labs and (LOINC, "17861-6") in labs
    assert len(labs) == len(set(labs))
    reports = prefetch_codings("DiagnosticReport")
    assert (LOINC, "36305-1") in reports
    assert ("http://www.ama-assn.org/go/cpt", "73718") in reports  # lower extremity: read with a foot site
    for resource_type in ("Condition", "ServiceRequest", "Procedure", "Encounter"):  # fetched whatever their code
        with pytest.raises(KeyError, match=resource_type):
            prefetch_codings(resource_type)


def test_categories_search_by_code_and_match_by_system() -> None:
    valuesets = load_valuesets()
    assert category_tokens("report-imaging") == "RAD,RX,CT,NMR,RUS,IMG,LP29684-5"
    assert category_tokens("observation-laboratory") == "laboratory"
    category = "http://terminology.hl7.org/CodeSystem/observation-category"
    assert valuesets.in_category("observation-imaging", [(category, "imaging")])
    assert valuesets.in_category("observation-imaging", [(None, "imaging")])  # a coding sent without its system
    assert not valuesets.in_category("observation-imaging", [("http://hospital.example.org/cat", "imaging")])
    assert not valuesets.in_category("report-imaging", [("http://loinc.org", "RAD")])
    assert {m.source for c in valuesets.categories.values() for m in c.members} <= {"FHIR-CORE", "US-CORE"}
    with pytest.raises(KeyError, match="no category"):
        category_tokens("nope")


def test_bad_documents_are_refused_with_the_bad_input_named() -> None:
    base = {"systems": {"snomed": SNOMED}, "sources": {"IPS": "x"}}
    with pytest.raises(ValueError, match="unknown system alias 'sct'"):
        parse_valuesets(
            {
                **base,
                "valueset": {
                    "a": {"title": "A", "codes": [{"system": "sct", "code": "1", "display": "x", "source": "IPS"}]}
                },
            }
        )
    with pytest.raises(ValueError, match="source 'NOPE'"):
        parse_valuesets(
            {
                **base,
                "valueset": {
                    "a": {"title": "A", "codes": [{"system": "snomed", "code": "1", "display": "x", "source": "NOPE"}]}
                },
            }
        )
    with pytest.raises(ValueError, match=r"unknown value set\(s\) \['b'\]"):
        parse_valuesets({**base, "valueset": {}, "prefetch": {"Condition": ["b"]}})


def test_normalise_text() -> None:
    assert normalise_text("Rice-Grain, calcification!") == " rice grain calcification "
    assert isinstance(load_valuesets()["foot-body-site"], ValueSet)
