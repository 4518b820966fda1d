"""Record text on cards: semantic tags, whitespace, length caps, repeats and block separation."""

from __future__ import annotations

from datetime import date

from cds_service.render.text import (
    MAX_EVIDENCE_LINES,
    MAX_TEXT_CHARS,
    evidence_line,
    evidence_list,
    record_text,
    record_values,
    separate_blocks,
)

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)


def test_semantic_tags_go_and_other_parentheses_stay() -> None:
    assert record_text("Cellulitis of foot (disorder)") == "Cellulitis of foot"
    assert record_text("Pathologic calcification (Morphologic abnormality); soft tissue") == (
        "Pathologic calcification; soft tissue"
    )
    assert record_text("Venous insufficiency (chronic) (peripheral)") == "Venous insufficiency (chronic) (peripheral)"
    assert record_text("Calcific tendinitis (finding) (moderate)") == "Calcific tendinitis (moderate)"


def test_line_breaks_collapse_and_long_text_is_capped() -> None:
    assert record_text("Calcinosis\nof the\r\n  heel |pad|") == "Calcinosis of the heel |pad|"
    huge = "calcification " * 300_000  # ~4 MB
    shown = record_text(huge)
    # No sentence end in 4 MB: cut at a word, within the cap, marked.
    assert len(shown) <= MAX_TEXT_CHARS and shown.endswith("\u2026") and shown[:-1].endswith("calcification")
    assert record_text("x" * MAX_TEXT_CHARS) == "x" * MAX_TEXT_CHARS


def test_record_values_cleans_every_string_in_template_variables() -> None:
    variables = {"drafts": ["MRI foot (procedure)", "y" * 5000], "n": 3, "when": D1, "rows": [{"label": "A (finding)"}]}
    cleaned = record_values(variables)
    assert cleaned["drafts"][0] == "MRI foot" and len(cleaned["drafts"][1]) == MAX_TEXT_CHARS
    assert cleaned["n"] == 3 and cleaned["when"] == D1 and cleaned["rows"] == [{"label": "A"}]


def test_evidence_line_shows_each_record_once_and_caps_the_count() -> None:
    rows = [
        {"label": "Cellulitis in diabetic foot (disorder)", "when": D1, "reference": "Condition/a"},
        {"label": "Cellulitis in diabetic foot", "when": D1, "reference": "Condition/a"},  # same record
        {"label": "Cellulitis in diabetic foot (moderate)", "when": D1, "reference": "Condition/a"},  # same record
        {"label": "Osteomyelitis of foot", "when": D2, "reference": "Condition/b"},
        {"label": "Osteomyelitis of foot", "when": D2, "reference": None},  # same words
    ]
    assert evidence_line(rows) == "Cellulitis in diabetic foot (2026-11-01); Osteomyelitis of foot (2026-11-02)"
    many = [{"label": f"Problem {i}", "when": None, "reference": f"Condition/{i}"} for i in range(9)]
    assert evidence_line(many, 3) == "Problem 0; Problem 1; Problem 2; and 6 more"
    assert evidence_line(rows, dated=False) == "Cellulitis in diabetic foot; Osteomyelitis of foot"


def test_evidence_list_drops_repeats_and_lines_shown_whole_inside_another() -> None:
    finding = "Round dense lamellated calcifications, consistent with phleboliths."
    rows = [
        {"label": f"Radiograph of the foot (done): XR Foot 3 Views; {finding}", "when": D1},
        {"label": finding, "when": D1},  # shown whole in the radiograph line
        {"label": finding, "when": D2},  # another day: another fact
        {"label": "Diabetes (disorder)", "when": D2},
        {"label": "Diabetes", "when": D2},  # the same line once the tag is gone
    ]
    lines, more = evidence_list(rows)
    assert lines == [
        f"Radiograph of the foot (done): XR Foot 3 Views; {finding} (2026-11-01)",
        f"{finding} (2026-11-02)",
        "Diabetes (2026-11-02)",
    ]
    assert more == 0
    long_line = {"label": "Radiograph: " + "x" * MAX_TEXT_CHARS + finding, "when": D1}
    lines, _ = evidence_list([long_line, {"label": finding, "when": D1}])
    assert len(lines) == 2  # the long line is cut before the finding: the finding keeps its own line


def test_evidence_list_caps_the_number_of_lines() -> None:
    rows = [{"label": f"Problem {i}", "when": None} for i in range(MAX_EVIDENCE_LINES + 7)]
    lines, more = evidence_list(rows)
    assert len(lines) == MAX_EVIDENCE_LINES and more == 7


def test_separate_blocks_gives_each_paragraph_its_own_lines() -> None:
    text = "**Heading**\n- a\n\n- b\n**Next heading**\nText\n| x |\n|---|\n| 1 |\n> quote\n(source)\n"
    assert separate_blocks(text) == (
        "**Heading**\n\n- a\n- b\n\n**Next heading**\n\nText\n\n| x |\n|---|\n| 1 |\n\n> quote\n\n(source)\n"
    )


def test_clean_short_labels_come_back_unchanged_and_untidy_ones_tidied() -> None:
    for text in ("Calcium 11.2 mg/dL, high", "", "Pain in right foot"):
        assert record_text(text) == text
    for text, tidy in ((" a", "a"), ("a ", "a"), ("a  b", "a b"), ("a\tb", "a b"), ("x\u00a0y", "x y")):
        assert record_text(text) == tidy


def test_a_condition_is_listed_once_a_draft_and_its_reason_twice() -> None:
    rows = [
        {"label": "Cutaneous abscess of right foot with Diabetes mellitus type 2", "when": D1,
         "reference": "Condition/abscess"},
        {"label": "Diabetes mellitus type 2", "when": D2, "reference": "Condition/dm"},
        {"label": "Cutaneous abscess of right foot (severe)", "when": D1, "reference": "Condition/abscess"},
        {"label": "Draft order: US Lower extremity - right", "when": D2, "reference": "ServiceRequest/us"},
        {"label": "Calcific tendinitis, right ankle and foot", "when": D1, "reference": "ServiceRequest/us"},
    ]
    lines, _ = evidence_list(rows)
    assert lines == [
        "Cutaneous abscess of right foot with Diabetes mellitus type 2 (2026-11-01)",
        "Diabetes mellitus type 2 (2026-11-02)",
        "Draft order: US Lower extremity - right (2026-11-02)",
        "Calcific tendinitis, right ankle and foot (2026-11-01)",
    ]
