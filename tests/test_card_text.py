"""The text a clinician reads, as rules across all cards (issue 16): record text cut only between
sentences, no sentence twice in a card, what was found named (not a list of what might have been), a
draft named once, citations by document title and section, and quotes that support the card's advice.

The fixture-wide checks run every patient of both fixture sets on every hook (prefetch mode, in process)."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any

import pytest

from cds_service.guideline.nodes import SeedCitation, parse_pathway_spec, pathway_spec
from cds_service.render.pages import node_page
from cds_service.render.text import MAX_SENTENCE_CHARS, MAX_TEXT_CHARS, evidence_list, record_text
from fhir_fixtures.catalog import HOOKS, PATIENTS
from fhir_fixtures.ehr import catalog as ehr
from fhir_fixtures.table import cards_for

TODAY = date(2026, 11, 21)
D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
EHR_PATIENTS = tuple(ehr._AUTHORS)
CASES = [("fc", p, h) for p in PATIENTS for h in HOOKS] + [("ehr", p, h) for p in EHR_PATIENTS for h in HOOKS]
ELLIPSIS = "\u2026"

REPORT = ("Soft tissue calcification along the plantar aspect of the right forefoot beneath the first metatarsal head. "
          "No soft tissue gas. Osseous structures intact.")


# --- record text: whole sentences ------------------------------------------------------------------

def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?;])\s+", text.replace(ELLIPSIS, " ")) if s.strip()]


def test_a_long_report_is_cut_between_sentences_keeping_the_finding_and_the_negations() -> None:
    filler = " ".join(f"Comparison with the prior study number {i} was reviewed." for i in range(6))
    label = f"Radiograph of the right foot (done): {filler} {REPORT}"
    shown = record_text(label)
    assert len(shown) <= MAX_TEXT_CHARS
    assert "No soft tissue gas." in shown and "Osseous structures intact." in shown
    assert shown.startswith("Radiograph of the right foot (done): ")
    whole = set(_sentences(label.split(": ", 1)[1]))
    for sentence in _sentences(shown.split(": ", 1)[1]):  # every sentence shown is one of the record's, whole
        assert sentence in whole, sentence
    assert ELLIPSIS in shown  # and the reader sees that some were left out


def test_a_sentence_cut_upstream_is_left_out_rather_than_shown_cut() -> None:
    shown = record_text("Soft tissue calcification of the heel. No soft tissue gas. Osseous\u2026")
    assert shown == "Soft tissue calcification of the heel. No soft tissue gas."


def test_one_sentence_longer_than_the_cap_is_shown_whole_up_to_its_own_bound() -> None:
    sentence = "Amorphous, fluffy, confluent calcified mass " + "with lobulated margins " * 8 + "concerning for osteosarcoma."
    assert MAX_TEXT_CHARS < len(sentence) < MAX_SENTENCE_CHARS
    assert record_text(sentence) == sentence
    endless = "calcified " * 1000
    assert len(record_text(endless)) <= MAX_TEXT_CHARS and record_text(endless).endswith(ELLIPSIS)


def test_a_short_line_keeps_its_words_when_the_long_line_cannot_show_them_whole() -> None:
    # The radiograph line (214 characters) quotes the coded finding that is also its own line: the coded
    # finding leaves the long line, which then keeps every sentence of the report and its negations.
    rows = [
        {"label": f"Radiograph of the right foot (done): Pathologic calcification; {REPORT}", "when": D1,
         "reference": "ImagingStudy/1"},
        {"label": "Pathologic calcification", "when": D1, "reference": "Condition/2"},
    ]
    lines, more = evidence_list(rows)
    assert lines == [f"Radiograph of the right foot (done): {REPORT} (2026-11-01)",
                     "Pathologic calcification (2026-11-01)"]
    assert more == 0


def test_a_report_sentence_is_shown_once_however_many_records_carry_it() -> None:
    finding = ("Several round, dense, lamellated soft tissue calcifications along the course of the great saphenous"
               " vein at the medial ankle, consistent with phleboliths.")
    rows = [
        {"label": f"Radiograph of the foot (done): XR Foot 3 Views; {finding}", "when": D1, "reference": "ImagingStudy/1"},
        {"label": finding, "when": D1, "reference": "Observation/2"},
        {"label": f"Pathologic calcification; {finding}", "when": D1, "reference": "DiagnosticReport/3"},
        {"label": finding, "when": D1, "reference": "Observation/2"},
    ]
    lines, _ = evidence_list(rows)
    assert sum(line.count("great saphenous vein") for line in lines) == 1, lines


def test_the_same_words_on_many_dates_are_one_line_with_a_count() -> None:
    rows = [{"label": "ESRD on hemodialysis", "when": d, "reference": f"Condition/{i}"}
            for i, d in enumerate((D1, D3, D2))]
    assert evidence_list(rows) == (["ESRD on hemodialysis (2026-11-03; 3 entries since 2026-11-01)"], 0)


# --- citations and quotes --------------------------------------------------------------------------

def test_a_citation_names_the_document_and_its_section_as_a_person_would() -> None:
    node = pathway_spec().node("advanced-imaging")
    assert node is not None
    ct = next(s for s in node.seeds if s.quote.startswith("CT may be considered"))
    assert ct.source == ('Treatment Approach for Soft Tissue Calcifications in the Foot, '
                         '"Advanced Imaging (when diagnosis remains uncertain)" (ref. 2)')
    differential = pathway_spec().node("differential-diagnosis")
    assert differential is not None
    assert differential.seeds[0].source == "Soft Tissue Calcifications (radiology differential)"
    for n in pathway_spec().nodes:
        for seed in n.seeds:
            assert "seed 0" not in seed.source and "\u00a7" not in seed.source and seed.document


def test_a_quote_is_shown_for_its_rules_and_when_its_condition_holds() -> None:
    seed = SeedCitation(file="f", heading="h", quote="q", reference="", rules=("patient-view",), when="scenarios=x")
    assert seed.applies("patient-view", {"scenarios": ["x", "y"]})
    assert not seed.applies("patient-view", {"scenarios": ["y"]})
    assert not seed.applies("draft-ct", {"scenarios": ["x"]})
    assert seed.applies("draft-ct,patient-view", {"scenarios": ["x"]})
    assert SeedCitation(file="f", heading="h", quote="q", reference="", when="severity").applies("r", {"severity": "mild"})
    assert not SeedCitation(file="f", heading="h", quote="q", reference="", when="severity").applies("r", {})


NODE_TOML = '''
pathway_label = "t"
[seed_document."000_x.txt"]
title = "Doc"
[[node]]
id = "n"
title = "N"
indicator = "info"
hooks = ["patient-view"]
template = "t.md.j2"
[[node.seed]]
file = "000_x.txt"
heading = "H"
quote = "q"
reference = ""
{extra}
[[node.rule]]
name = "patient-view"
hooks = ["patient-view"]
trigger = "t"
all = ["in_pathway"]
'''


@pytest.mark.parametrize(("extra", "message"), [
    ('when = "severity"', "no unconditional seed quote"),
    ('rules = ["draft-ct"]', "names rules"),
])
def test_the_node_file_refuses_a_rule_without_a_quote_it_always_shows(extra: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_pathway_spec(NODE_TOML.format(extra=extra))
    assert parse_pathway_spec(NODE_TOML.format(extra="")).nodes[0].seeds[0].source == 'Doc, "H"'


def test_a_seed_file_without_a_title_is_refused() -> None:
    with pytest.raises(ValueError, match="seed_document"):
        parse_pathway_spec(NODE_TOML.format(extra="").replace('[seed_document."000_x.txt"]\ntitle = "Doc"', ""))


def test_node_pages_cite_by_title_and_say_which_cards_quote_what() -> None:
    page = node_page("advanced-imaging", "https://cds.example.org")
    assert page is not None
    assert "Treatment Approach for Soft Tissue Calcifications in the Foot, &#34;Advanced Imaging" in page
    assert "seed 000" not in page and "\u00a7" not in page
    assert "quoted on the cards of rule <code>patient-view</code>" in page


# --- every fixture patient, every hook --------------------------------------------------------------

@lru_cache(maxsize=None)
def _cards(fixture_set: str, patient: str, hook: str) -> tuple[dict[str, Any], ...]:
    return tuple(cards_for(patient, hook, TODAY, fixture_set=fixture_set))


def _node(card: dict[str, Any]) -> str:
    return card["source"]["topic"]["code"]


def _card_sentences(detail: str) -> list[str]:
    """The card's sentences outside tables (the seed-004 table repeats its appearances by design)."""
    out = []
    for line in detail.splitlines():
        line = line.strip()
        if not line or line.startswith("|") or line == ">":
            continue
        line = re.sub(r"^(?:[-*>]\s+)", "", line)
        for part in re.split(r"(?<=[.!?;])\s+(?=[A-Z(])", line):
            part = part.strip(" *.;")
            if len(part) >= 20:
                out.append(part)
    return out


@pytest.mark.parametrize(("fixture_set", "patient", "hook"), CASES, ids=[f"{p}-{h}" for _, p, h in CASES])
def test_every_card_reads_as_one_clinician_text(fixture_set: str, patient: str, hook: str) -> None:
    for card in _cards(fixture_set, patient, hook):
        where = f"{patient} {hook} {_node(card)}"
        detail, summary = card["detail"], card["summary"]
        assert len(summary) < 140, where
        sentences = _card_sentences(detail)
        repeated = sorted({s for s in sentences if sentences.count(s) > 1})
        assert not repeated, f"{where}: repeated {repeated}"
        # Record text is never cut inside a sentence or a word: a left-out part is a free-standing "…".
        assert not re.search(r"\w" + ELLIPSIS, detail), f"{where}: cut mid-sentence"
        for internal in ("seed 0", "\u00a7", "one offer per order", "(no dated entry"):
            assert internal not in detail, f"{where}: {internal!r}"


def _all_cards(node_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, h, c) for s, p, h in CASES for c in _cards(s, p, h) if _node(c) == node_id]


def test_the_mri_over_ct_card_quotes_what_supports_it_and_not_the_ct_sentence() -> None:
    found = [(p, h, c) for p, h, c in _all_cards("advanced-imaging") if h != "patient-view"]
    assert found
    for _, _, card in found:
        assert "> MRI is the preferred advanced imaging when diagnosis remains in doubt" in card["detail"]
        assert "> Most accurate for defining bone infection and deep soft tissue involvement" in card["detail"]
        assert "CT may be considered" not in card["detail"]
        assert "Ultrasound is useful" not in card["detail"]


def test_a_surgical_referral_quotes_only_the_scenarios_that_hold() -> None:
    found = _all_cards("surgical-referral")
    assert found
    for _, _, card in found:
        detail = card["detail"]
        assert ("> Progressive bone destruction on X-ray" in detail) == ("progressive bone destruction" in detail.split("**What in the record")[0])
        assert ("> Symptomatic calcifications not responding" in detail) == ("Not responding to conservative care" in detail)


def test_the_malignancy_card_names_what_was_found_not_what_might_have_been() -> None:
    found = _all_cards("malignancy-referral")
    assert found
    for patient, _, card in found:
        detail = card["detail"]
        assert "an osteosarcoma, a malignant soft tissue neoplasm" not in detail.lower()
        words = " ".join(e.get("conclusion", "") for e in _resources(patient) if e.get("resourceType") == "DiagnosticReport")
        assert "Amorphous, fluffy, confluent calcified mass" in words and "Amorphous, fluffy, confluent calcified mass" in detail


def _resources(patient: str) -> list[dict[str, Any]]:
    from fhir_fixtures.catalog import resources

    return resources(patient)


def test_a_drafted_study_is_named_once_on_its_card() -> None:
    cards = [c for c in _cards("ehr", "ehr-lower-extremity-draft", "order-sign") if _node(c) == "initial-radiograph"]
    assert cards
    detail = cards[0]["detail"]
    assert detail.count("Magnetic resonance imaging, lower extremity other than joint") == 1
    assert detail.count("Ultrasound, limited, joint or focal evaluation") == 1
    assert "They are coded for the lower extremity without a site" in detail


def test_a_cross_reference_says_where_to_order_in_words_a_clinician_reads() -> None:
    found = [c for s, p, h in CASES for c in _cards(s, p, h) if "offered on the card" in c["detail"]]
    assert found
    titles = {n.title for n in pathway_spec().nodes}
    for card in found:
        named = re.findall(r'offered on the card "([^"]+)", not repeated here\.', card["detail"])
        assert named and set(named) <= titles


def test_the_malignancy_card_says_which_kind_of_finding_when_the_pathway_tells_it() -> None:
    # pathway/surgery.py may pass `diagnosed` / `morphology` (booleans); the wording follows, and without
    # them the card still names the finding through its evidence.
    from cds_service.facts.model import Evidence
    from cds_service.pathway.result import NodeResult
    from cds_service.render.cards import RenderContext, render_card
    from tests.support.pathway_facts import facts

    finding = Evidence("Amorphous, fluffy, confluent calcified mass of the midfoot.", "DiagnosticReport/1", D1)
    context = RenderContext(base_url="https://x", service_id="s", hook_instance="h")
    for variables, says in (({"morphology": True}, "Imaging describes an amorphous, fluffy, confluent calcification"),
                            ({"diagnosed": True}, "A malignant tumour is recorded as a diagnosis"),
                            ({}, "because of the finding below.")):
        result = NodeResult("malignancy-referral", "critical", (finding,), variables=variables, rule="patient-view")
        detail = render_card(result, facts(), context)["detail"]
        assert says in detail and "Amorphous, fluffy, confluent calcified mass of the midfoot." in detail
        assert "an osteosarcoma, a malignant soft tissue neoplasm" not in detail
