"""What a resource is, in the pathway's terms: which lab test, which foot imaging, which order.

Used twice: on raw JSON to select what is worth validating, and on validated models to build facts, so
the two steps never disagree. Codes are tried first; text only when no code of the value set matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cds_service.facts.access import codings, concept_texts, concepts, get, items, strings
from cds_service.facts.model import LabTest, Modality
from cds_service.facts.text import Match, match_concepts, side_in_text
from cds_service.guideline.valuesets import ValueSets, load_valuesets, normalise_text, system_uri

__all__ = [
    "CONDITION_SETS",
    "IMAGING_TEXT_SETS",
    "LAB_SETS",
    "ImagingKind",
    "body_site_elsewhere",
    "body_site_place",
    "body_site_side",
    "display_of",
    "foot_site",
    "imaging_kind",
    "imaging_texts",
    "in_category",
    "is_imaging_category",
    "lab_code_table",
    "lab_test_of",
    "one_side",
    "reason_place",
]

# Value sets a Condition is read against (anything else is not the pathway's business).
CONDITION_SETS = (
    "calcification-foot-site",
    "calcification-concept",
    "soft-tissue-mass-foot",
    "soft-tissue-mass",
    "diabetes",
    "foot-ulcer",
    "diabetic-foot-infection",
    "osteomyelitis-foot",
    "osteomyelitis",
    "cellulitis-foot",
    "cellulitis-lower-limb",
    "abscess-foot",
    "deep-abscess",
    "necrotizing-infection",
    "compartment-syndrome",
    "ckd-stage-3-5",
    "hyperparathyroidism",
    "hypervitaminosis-d",
    "calcium-phosphate-disorder",
    "foot-trauma",
    "venous-insufficiency",
    "parasitic-infestation",
    "dermatomyositis",
    "scleroderma",
    "injection-granuloma",
    "malignancy",
    "foot-pain",
    "eschar",
    "gangrene-foot",
    "gangrene",
    "ischemia",
)
LAB_SETS: dict[LabTest, str] = {
    LabTest.CALCIUM: "lab-calcium",
    LabTest.PHOSPHATE: "lab-phosphate",
    LabTest.PTH: "lab-pth",
    LabTest.CREATININE: "lab-creatinine",
    LabTest.EGFR: "lab-egfr",
    LabTest.VITAMIN_D: "lab-vitamin-d",
    LabTest.ESR: "lab-esr",
    LabTest.CRP: "lab-crp",
    LabTest.CULTURE: "lab-culture",
}
_IMAGING_SETS: tuple[tuple[str, Modality], ...] = (
    ("imaging-xr-foot", Modality.XR),
    ("imaging-mr-foot", Modality.MR),
    ("imaging-ct-foot", Modality.CT),
    ("imaging-us-foot", Modality.US),
)
# Free-text value sets worth reading in imaging reports.
IMAGING_TEXT_SETS = (
    "imaging-calcification-finding",
    "bone-destruction",
    "probe-to-bone",
    "morphology-phlebolith",
    "morphology-cysticercosis",
    "morphology-dracunculiasis",
    "morphology-cppd",
    "morphology-tumoral-calcinosis",
    "morphology-metastatic",
    "morphology-osteosarcoma",
)
# The category that makes a result an imaging one, per resource type (valuesets.toml [category.*]).
_IMAGING_CATEGORY = {"Observation": "observation-imaging", "DiagnosticReport": "report-imaging"}
_SIDE_WORDS = re.compile(r"\b(?:left|right|bilateral|lt|rt)\b", re.IGNORECASE)


_LOINC = system_uri("loinc")


_LAB_CODES: dict[int, dict[tuple[str, str], LabTest]] = {}


def lab_code_table(valuesets: ValueSets) -> dict[tuple[str, str], LabTest]:
    """(system, code) -> the LabTest it names, for every lab code of the value sets."""
    table = _LAB_CODES.get(id(valuesets))
    if table is None:
        table = {coding: test for test, name in LAB_SETS.items() for coding in valuesets[name].codings}
        _LAB_CODES[id(valuesets)] = table
    return table


def lab_test_of(observation: Any, valuesets: ValueSets | None = None) -> LabTest | None:
    """The LabTest an Observation (or ServiceRequest) reports, by LOINC code; by text only when it has no
    LOINC coding at all (a LOINC code we do not list, e.g. ionized calcium, is a different test)."""
    return lab_test_and_coding(observation, valuesets or load_valuesets())[0]


def lab_test_and_coding(observation: Any, valuesets: ValueSets) -> tuple[LabTest | None, bool]:
    """(`lab_test_of`, whether one of the pathway's lab codes decided it), from one read of the codings."""
    code = get(observation, "code")
    table = lab_code_table(valuesets)
    loinc = False
    for pair in codings(code):
        test = table.get(pair)  # type: ignore[arg-type]
        if test is not None:
            return test, True
        loinc = loinc or pair[0] == _LOINC
    if loinc:
        return None, False
    texts = concept_texts(code)
    if texts:
        for test, name in LAB_SETS.items():
            if any(valuesets[name].matches_text(text) for text in texts):
                return test, False
    return None, False


def in_category(resource: Any, name: str, valuesets: ValueSets | None = None) -> bool:
    """Whether one of the resource's category codings is in category `name` (valuesets.toml [category.*])."""
    valuesets = valuesets or load_valuesets()
    return any(valuesets.in_category(name, codings(concept)) for concept in concepts(resource, "category"))


def is_imaging_category(resource: Any, valuesets: ValueSets | None = None) -> bool:
    """An imaging category: `imaging` on an Observation, an HL7 v2-0074 imaging section or LOINC
    LP29684-5 on a DiagnosticReport. By code only: a category text alone is not searchable."""
    if isinstance(resource, dict):
        resource_type = resource.get("resourceType")
    else:
        resource_type = resource.get_resource_type()
    name = _IMAGING_CATEGORY.get(resource_type)  # type: ignore[arg-type]
    return name is not None and in_category(resource, name, valuesets)


@dataclass(frozen=True, slots=True)
class ImagingKind:
    modality: Modality
    body_site: str | None  # "foot" | "ankle" | "heel" | "toe"; None only when `possibly_foot`
    side: str | None
    by_text: bool
    # Coded for the lower extremity (or an extremity) with no site at all: read only for draft orders.
    possibly_foot: bool = False


# Words that say where a bodySite is without naming a place the foot is not in: regions containing the foot
# ("lower limb", "leg"), tissues without a place ("skin", "tendon"), sides and fillers. What is left of a
# bodySite's words once these are removed names another place ("thigh", "hand", "shoulder", "knee").
_PLACELESS_PHRASES = ("lower limb", "lower limbs", "lower extremity", "lower extremities", "lower leg", "soft tissue",
                      "body structure", "entire")
_PLACELESS_WORDS = frozenset(
    "leg legs limb limbs extremity extremities skin subcutaneous tissue tissues tendon tendons muscle muscles "
    "fascia bone bones joint joints wound wounds structure structures region area site part of the and or "
    "left right bilateral both lt rt lower side surface".split()
)


def _body_sites(resource: Any) -> list[Any]:
    """The resource's bodySite concepts, then those of its series (an ImagingStudy's)."""
    body_sites = concepts(resource, "bodySite")
    for series in items(resource, "series"):
        body_sites.extend(items(series, "bodySite"))
    return body_sites


def foot_site(
    resource: Any, *, extra_texts: tuple[str | None, ...] = (), valuesets: ValueSets | None = None
) -> str | None:
    """ "foot" / "ankle" / "heel" / "toe" when the resource's bodySite (or the given texts) names it."""
    valuesets = valuesets or load_valuesets()
    sites = valuesets["foot-body-site"]
    found = match_concepts(sites, _body_sites(resource))
    if found is not None:
        return _site_word(found)
    for text in extra_texts:
        term = sites.matched_term(text)
        if term is not None:
            return _site_word(Match(sites.name, None, term, text))
    return None


def body_site_place(concept: Any, valuesets: ValueSets) -> str | None:
    """Where one bodySite concept is: "foot" (foot/ankle/heel/toe), "region" (a lower-limb region that may
    hold the foot: needs foot evidence), "elsewhere" (another place), or None (no place said).

    Words first: a foot word is the foot, a word naming another place ("thigh", "hand", "knee") is elsewhere,
    a region or a tissue without a place ("lower leg", "skin") is no answer by itself. Then the code: a known
    foot or lower-limb code says so; any other code without words names another place. A coded-only bodySite
    of a hand or a knee is therefore elsewhere, never "lower extremity, possibly the foot"."""
    pairs = [(system, code) for system, code in codings(concept) if system and code]
    foot = valuesets["foot-body-site"]
    if foot.member(pairs) is not None:
        return "foot"
    texts = concept_texts(concept)
    region = False
    for words in texts:
        if foot.matched_term(words) is not None:
            return "foot"
        if _names_other_place(words):
            return "elsewhere"
        region = region or valuesets["lower-limb-body-site"].matched_term(words) is not None
    if region or valuesets["lower-limb-body-site"].member(pairs) is not None:
        return "region"
    # Coded without words: a code that is neither the foot nor a lower-limb region is another place. Words
    # that name no place ("Left", "Skin") over an unknown code say nothing either way.
    return "elsewhere" if pairs and not texts else None


def _names_other_place(words: str) -> bool:
    """Whether a bodySite's words, once regions, tissues, sides and fillers are removed, name a place."""
    normalised = normalise_text(words)
    for phrase in _PLACELESS_PHRASES:
        normalised = normalised.replace(f" {phrase} ", " ")
    return any(word not in _PLACELESS_WORDS and not word.isdigit() for word in normalised.split())


def body_site_side(resource: Any, valuesets: ValueSets) -> str | None:
    """The side a coded foot bodySite carries ("Left foot" 22335008), else None."""
    member = valuesets["foot-body-site"].member(codings(*_body_sites(resource)))
    return member.side if member is not None else None


def body_site_elsewhere(resource: Any, valuesets: ValueSets | None = None) -> bool:
    """Whether the resource's bodySite names a place other than the foot (thigh, hand, shoulder, or a code
    that is neither a foot nor a lower-limb structure) and none of its bodySites names the foot. A region
    that contains the foot ("lower leg"), a tissue without a place ("skin") or no bodySite at all is not
    "elsewhere": no site given is not another site."""
    body_sites = _body_sites(resource)
    if not body_sites:
        return False  # the common case: no site given
    valuesets = valuesets or load_valuesets()
    places = [body_site_place(concept, valuesets) for concept in body_sites]
    return "foot" not in places and "elsewhere" in places


def reason_place(concept_list: list[Any], valuesets: ValueSets | None = None) -> str | None:
    """ "foot" or "elsewhere" when an order's reasons (reasonCode concepts, or a referenced Condition's code)
    name a site, else None. Codes first (ICD-10-CM S90-S99 ankle/foot, S00-S89 elsewhere), words as
    fallback ("Injury of knee"). Foot evidence wins over another site: "knee and foot" may be the foot."""
    valuesets = valuesets or load_valuesets()
    foot_codes, other_codes = valuesets["reason-site-foot"], valuesets["reason-site-elsewhere"]
    foot_words = valuesets["foot-body-site"]
    elsewhere = False
    for concept in concept_list:
        if concept is None:
            continue
        pairs = [(system, code) for system, code in codings(concept) if system and code]
        texts = concept_texts(concept)
        if foot_codes.member(pairs) is not None or any(foot_words.matched_term(t) for t in texts):
            return "foot"
        elsewhere = elsewhere or other_codes.member(pairs) is not None or any(
            other_codes.matched_term(t) is not None for t in texts
        )
    return "elsewhere" if elsewhere else None


_DISPLAYS: dict[int, dict[tuple[str, str], str]] = {}


def display_of(concept_list: list[Any], valuesets: ValueSets | None = None) -> str | None:
    """The value set's display of the first coding it knows: names a record whose coding has no display."""
    valuesets = valuesets or load_valuesets()
    table = _DISPLAYS.get(id(valuesets))
    if table is None:
        table = {}
        for value_set in (*valuesets.sets.values(), *valuesets.categories.values()):
            for member in value_set.members:
                table.setdefault((member.system, member.code), member.display)
        _DISPLAYS[id(valuesets)] = table
    for system, code in codings(*concept_list):
        if system and code and (system, code) in table:
            return table[(system, code)]
    # A code of a family (E11.9 of "E08-E13"): the family's words and the code itself.
    for system, code in codings(*concept_list):
        if system and code:
            for value_set in valuesets.sets.values():
                member = value_set.member([(system, code)])
                if member is not None and member.prefix:
                    return f"{member.display} ({code})"
    return None


def one_side(coded: str | None, written: str | None) -> str | None:
    """The side the code gives, else the words; None when the two disagree (a laterality conflict)."""
    if coded and written and coded != written:
        return None
    return coded or written


def _site_word(found: Match) -> str:
    if found.member is not None:
        return found.member.concept or "foot"
    term = found.term or "foot"
    for word in ("ankle", "heel", "toe"):
        if word in term:
            return word
    return "foot"


def imaging_texts(resource: Any) -> list[str]:
    """Every human text of an imaging resource: code, conclusion, description, values, notes."""
    texts = concept_texts(
        get(resource, "code"), *concepts(resource, "conclusionCode", "procedureCode", "valueCodeableConcept")
    )
    texts += strings(*(get(resource, name) for name in ("conclusion", "description", "valueString")))
    for series in items(resource, "series"):
        texts += strings(get(series, "description"))
        texts.extend(concept_texts(get(series, "bodySite")))
    texts += strings(*(get(note, "text") for note in items(resource, "note")))
    return texts


def imaging_kind(
    resource: Any, resource_type: str, valuesets: ValueSets | None = None, *, unsited: bool = False
) -> ImagingKind | None:
    """Foot/ankle imaging of a resource (ImagingStudy, DiagnosticReport, Observation, Procedure,
    ServiceRequest), or None when it is not foot imaging. A bodySite elsewhere is never the foot.

    `unsited`: a lower-extremity code with no site at all is returned as `possibly_foot` (draft orders: the
    order hooks say so on the card); otherwise it needs foot evidence."""
    valuesets = valuesets or load_valuesets()
    if body_site_elsewhere(resource, valuesets):
        return None
    code_concepts = concepts(resource, "code", "procedureCode")

    def side(coded: str | None) -> str | None:
        # The side the record states where it names the study (code words, bodySite); a report's free text
        # often mentions the other side for comparison, so it gives a side only when nothing else does.
        # (Read only once the resource is known to be foot imaging: most resources are not.)
        stated = side_in_text(*concept_texts(*code_concepts, *concepts(resource, "bodySite")))
        site_side = body_site_side(resource, valuesets)  # a coded "Left foot" bodySite
        stated = one_side(site_side, stated) if stated and site_side else stated or site_side
        return one_side(coded, stated) if coded else stated or side_in_text(*imaging_texts(resource))

    # 1. a foot imaging code (the code names site and modality)
    for name, modality in _IMAGING_SETS:
        member = valuesets[name].member(codings(*code_concepts))
        if member is not None:
            return ImagingKind(modality, member.concept or "foot", side(member.side), by_text=False)
    # 2. a modality (DICOM on ImagingStudy) or a whole-lower-extremity code, plus a foot site
    found = _modality(resource, resource_type, valuesets, code_concepts)
    if found is not None:
        modality, coded_side = found
        site = foot_site(resource, extra_texts=tuple(imaging_texts(resource)), valuesets=valuesets)
        if site is None:
            if not unsited or resource_type == "ImagingStudy":
                return None
            return ImagingKind(modality, None, side(coded_side), by_text=False, possibly_foot=True)
        return ImagingKind(modality, site, side(coded_side), by_text=False)
    # 3. text alone ("XR left foot 3 views"): side words are read for the side, then dropped for matching
    code_texts = concept_texts(*code_concepts)
    sideless = [_SIDE_WORDS.sub(" ", text) for text in code_texts]
    for name, modality in _IMAGING_SETS:
        if any(valuesets[name].matches_text(text) for text in sideless):
            site = foot_site(resource, extra_texts=tuple(code_texts), valuesets=valuesets) or "foot"
            return ImagingKind(modality, site, side_in_text(*code_texts), by_text=True)
    return None


def _modality(
    resource: Any, resource_type: str, valuesets: ValueSets, code_concepts: list[Any]
) -> tuple[Modality, str | None] | None:
    """(modality, side the code gives) of a DICOM modality (ImagingStudy) or a lower-extremity code."""
    dicom = valuesets["imaging-modality"]
    if resource_type == "ImagingStudy":
        found = dicom.member(codings(*items(resource, "modality")))
        if found is None:
            for series in items(resource, "series"):
                found = dicom.member(codings(get(series, "modality")))
                if found is not None:
                    break
        return (Modality(found.concept), None) if found is not None and found.concept else None
    member = valuesets["imaging-lower-extremity"].member(codings(*code_concepts))
    return (Modality(member.concept), member.side) if member is not None and member.concept else None
