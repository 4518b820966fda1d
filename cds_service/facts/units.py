"""Lab values into one canonical unit per test (spec "Lab values: units and thresholds").

Canonical units: mg/dL for calcium, phosphate and creatinine; pg/mL for PTH; ng/mL for 25-OH vitamin D;
mL/min/1.73m2 for eGFR; mm/h for ESR; mg/L for CRP. Units are recognised by UCUM code or by the common
printed forms (case, spaces, "µ"/"u" and "hr"/"h" do not matter). An unknown unit gives no canonical value:
the default range then cannot decide, but an interpretation or a referenceRange in the same unit still can.
"""

from __future__ import annotations

from cds_service.facts.model import LabTest

__all__ = ["CANONICAL_UNIT", "FACTORS", "normalise_unit", "to_canonical"]

CANONICAL_UNIT: dict[LabTest, str] = {
    LabTest.CALCIUM: "mg/dL",
    LabTest.PHOSPHATE: "mg/dL",
    LabTest.PTH: "pg/mL",
    LabTest.CREATININE: "mg/dL",
    LabTest.EGFR: "mL/min/1.73m2",
    LabTest.VITAMIN_D: "ng/mL",
    LabTest.ESR: "mm/h",
    LabTest.CRP: "mg/L",
}

# test -> normalised unit -> factor that turns a value in that unit into the canonical unit
FACTORS: dict[LabTest, dict[str, float]] = {
    LabTest.CALCIUM: {"mg/dl": 1.0, "mmol/l": 4.008},
    LabTest.PHOSPHATE: {"mg/dl": 1.0, "mmol/l": 3.097},
    LabTest.PTH: {"pg/ml": 1.0, "ng/l": 1.0, "pmol/l": 9.43},
    LabTest.CREATININE: {"mg/dl": 1.0, "umol/l": 1 / 88.42},
    LabTest.VITAMIN_D: {"ng/ml": 1.0, "ug/l": 1.0, "nmol/l": 1 / 2.496},
    LabTest.EGFR: {"ml/min/1.73m2": 1.0},
    LabTest.ESR: {"mm/h": 1.0},
    LabTest.CRP: {"mg/l": 1.0, "mg/dl": 10.0},
}

# Printed and UCUM spellings that mean the same unit, after lower-casing and removing spaces.
_ALIASES = {
    "ml/min/{1.73_m2}": "ml/min/1.73m2",
    "ml/min/1.73m^2": "ml/min/1.73m2",
    "ml/min/1.73m²": "ml/min/1.73m2",
    "ml/min/1.73sqm": "ml/min/1.73m2",
    "ml/min/1.73_m2": "ml/min/1.73m2",
    "ml/min": "ml/min/1.73m2",  # eGFR reported without the area: still normalised to 1.73 m2 by definition
    "mm/hr": "mm/h",
    "mm[hg]": "",  # never a lab unit here; keeps a typo from matching
    "mg/100ml": "mg/dl",
    "pmol/liter": "pmol/l",
    "mmol/liter": "mmol/l",
}


def normalise_unit(unit: str | None) -> str | None:
    if not unit:
        return None
    key = unit.strip().lower().replace(" ", "").replace("µ", "u").replace("μ", "u")
    return _ALIASES.get(key, key) or None


def to_canonical(test: LabTest, value: float, unit: str | None) -> float | None:
    """`value` in `unit` expressed in the test's canonical unit, or None when the unit is not known (a value
    without a unit is read only for tests reported in a single unit)."""
    factors = FACTORS.get(test)
    if factors is None:
        return None
    normalised = normalise_unit(unit)
    if normalised is None:
        # No unit: only a test that is reported in one unit (eGFR, ESR) can be read without one.
        return value * next(iter(factors.values())) if len(factors) == 1 else None
    factor = factors.get(normalised)
    return None if factor is None else value * factor
