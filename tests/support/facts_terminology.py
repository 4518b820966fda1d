"""Reads reference/terminology.md into {(system label, code)} so tests can check no code is invented.

Rows marked NOT VERIFIED / NOT FOUND are skipped (their prose mentions codes that must not be used).
Shorthand is expanded: "M61.071 / .072 / .079" -> M61.072, M61.079; "M61.171–M61.173" -> .171..173.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["SHARED_TERMINOLOGY", "SYSTEM_LABELS", "codings", "verified_codes"]

SHARED_TERMINOLOGY = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "terminology.md"

# value set system URI -> the label terminology.md uses in its "system" column
SYSTEM_LABELS = {
    "http://snomed.info/sct": "SNOMED",
    "http://loinc.org": "LOINC",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://hl7.org/fhir/sid/icd-10": "ICD-10 (WHO)",
    "http://www.ama-assn.org/go/cpt": "CPT",
    "http://dicom.nema.org/resources/ontology/DCM": "DCM",
}

_CODE = re.compile(r"(?<![\w.])([A-Z]\d{2}(?:\.[0-9A-Z]{1,4})?|\d{1,5}-\d|\d{5,18}|[A-Z]{2})(?![\w-])")
_SHORT = re.compile(r"(?<![\w.])/\s*(\.[0-9A-Z]{1,4})")
_RANGE = re.compile(r"([A-Z]\d{2}\.)(\d{3})\s*[–-]\s*\1(\d{3})")


def _system_label(cell: str) -> str:
    cell = cell.strip()
    if "dicom" in cell.lower() or cell == "DCM":
        return "DCM"
    return cell


def verified_codes(path: Path = SHARED_TERMINOLOGY) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|") or line.startswith("|---") or "NOT VERIFIED" in line or "NOT FOUND" in line:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in {"code"}:
            continue
        system = _system_label(cells[1])
        text = " ".join(cells[:1] + cells[2:4])  # code, display and "verified?" notes (not the sources)
        codes = set(_CODE.findall(text))
        # ".072" after "M61.071 /": the stem is the code before the dot
        for match in re.finditer(r"([A-Z]\d{2})\.[0-9A-Z]{1,4}((?:\s*/\s*\.[0-9A-Z]{1,4})+)", text):
            for short in _SHORT.findall(match.group(2)):
                codes.add(match.group(1) + short)
        for stem, first, last in _RANGE.findall(text):
            for n in range(int(first), int(last) + 1):
                codes.add(f"{stem}{n:03d}")
        for code in codes:
            found.add((system, code))
    return found


def codings(value: Any) -> Iterator[dict[str, Any]]:
    """Every coding (a dict with a system and a code) anywhere in a JSON value, however deep."""
    if isinstance(value, dict):
        if "system" in value and "code" in value:
            yield value
        for item in value.values():
            yield from codings(item)
    elif isinstance(value, list):
        for item in value:
            yield from codings(item)
