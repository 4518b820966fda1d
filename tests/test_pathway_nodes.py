"""The node contract: every spec node is declared with a seed citation, every question exists and is
exercised, every orderable resolves, and nodes.toml rejects malformed declarations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cds_service.guideline.nodes import parse_pathway_spec, pathway_spec
from cds_service.guideline.valuesets import orderable
from cds_service.pathway.evaluate import BUILDERS, evaluate
from cds_service.pathway.questions import QUESTIONS, answer
from tests.support.pathway_facts import CONFIG, facts

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _spec_node_ids() -> set[str]:
    text = (SHARED / "pathway-spec.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z-]+)` \|", text, flags=re.MULTILINE))


SPEC_IDS = {
    "initial-radiograph", "advanced-imaging", "differential-diagnosis", "metabolic-workup", "metabolic-cause",
    "osteomyelitis-rule-out", "eschar-no-debridement", "infection-management", "urgent-surgery",
    "surgical-referral", "malignancy-referral", "conservative-care", "repeat-radiograph", "dfi-reassessment",
}


def test_every_spec_node_is_declared_and_built() -> None:
    ids = {n.id for n in pathway_spec().nodes}
    assert ids == SPEC_IDS == set(BUILDERS)
    if (SHARED / "pathway-spec.md").exists():
        assert _spec_node_ids() == SPEC_IDS


@pytest.mark.skipif(not (SHARED / "seeds").exists(), reason="shared seeds are not beside the checkout")
def test_every_seed_quote_is_verbatim_in_its_seed() -> None:
    for node in pathway_spec().nodes:
        for seed in node.seeds:
            text = (SHARED / "seeds" / seed.file).read_text(encoding="utf-8")
            assert seed.quote in text, f"{node.id}: quote not in {seed.file}: {seed.quote!r}"
            assert seed.heading in text, f"{node.id}: heading not in {seed.file}"
            if seed.reference:  # the reference numbers follow the quoted line in seed 000
                line = next(line for line in text.splitlines() if seed.quote in line)
                assert line.rstrip().endswith(seed.reference), f"{node.id}: {line!r} does not end with {seed.reference}"


def test_every_question_named_in_a_rule_exists_and_every_question_is_used() -> None:
    used = set()
    for node in pathway_spec().nodes:
        for rule in node.rules:
            for name in (*rule.all, *rule.any):
                key = name.removeprefix("not ")
                assert key in QUESTIONS, f"{node.id}/{rule.name}: unknown question {key!r}"
                used.add(key)
    assert used == set(QUESTIONS)


def test_every_question_answers_a_bool_and_has_a_docstring() -> None:
    limits = CONFIG
    for name, fn in QUESTIONS.items():
        assert fn.__doc__ and len(fn.__doc__) > 20, name
        assert isinstance(fn(facts(), limits), bool), name
    assert answer("not in_pathway", facts(problems=()), limits) is True
    with pytest.raises(KeyError, match="unknown question 'nope'"):
        answer("nope", facts(), limits)


def test_every_orderable_resolves_and_every_node_names_its_local_defaults_as_such() -> None:
    for node in pathway_spec().nodes:
        for name in node.orderables:
            assert orderable(name).text
        for default in node.local_defaults:
            assert default.text.startswith("local default:"), node.id
            if default.config:
                assert hasattr(CONFIG, default.config), f"{node.id}: no setting {default.config!r}"


def test_malformed_declarations_are_refused_with_the_node_named() -> None:
    good = (REPO / "cds_service/guideline/nodes.toml").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="'urgent-surgery' has indicator 'loud'"):
        parse_pathway_spec(good.replace('indicator = "critical"\nhooks = ["patient-view"]\ntemplate = "urgent-surgery',
                                        'indicator = "loud"\nhooks = ["patient-view"]\ntemplate = "urgent-surgery'))
    with pytest.raises(ValueError, match="duplicate node ids"):
        parse_pathway_spec(good.replace('id = "dfi-reassessment"', 'id = "urgent-surgery"'))
    with pytest.raises(ValueError, match="undeclared override reasons"):
        parse_pathway_spec(good.replace('override_reasons = ["mri-contraindicated", "other"]',
                                        'override_reasons = ["made-up"]'))


def test_unknown_hook_gives_no_results() -> None:
    assert evaluate(facts(hook="encounter-start"), CONFIG) == []
