"""Where the fixture files are and how to read them (with their date tokens still in place)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["FIXTURES_DIR", "HOOKS", "PATIENTS", "bundle", "drafts", "resources"]

JSON = dict[str, Any]

FIXTURES_DIR = Path(__file__).resolve().parent
HOOKS = ("patient-view", "order-select", "order-sign")

# In the order the README tells them; the files under bundles/ must match (checked by the tests).
PATIENTS = (
    "fc-tendinitis-no-xr",
    "fc-mass-undetermined",
    "fc-ckd-metastatic",
    "fc-diabetic-ulcer",
    "fc-dfi-osteomyelitis",
    "fc-eschar-ischemia",
    "fc-necrotizing",
    "fc-fluffy-malignancy",
    "fc-chronic-painful",
    "fc-hypervitaminosis",
    "fc-dfi-compartment",
    "fc-lab-flags",
    "fc-xr-ordered",
    "fc-phlebolith",
    "fc-chondrocalcinosis",
    "fc-order-only",
    "fc-outside",
    "fc-refuted",
    "fc-all-done",
)


def _read(sub: str, patient: str) -> JSON:
    if patient not in PATIENTS:
        raise KeyError(f"no fixture patient {patient!r}; known: {', '.join(PATIENTS)}")
    return json.loads((FIXTURES_DIR / sub / f"{patient}.json").read_text())


@cache
def _cached(sub: str, patient: str) -> str:
    return json.dumps(_read(sub, patient))


def bundle(patient: str) -> JSON:
    """The patient's transaction Bundle (a fresh copy; date tokens not rendered)."""
    return json.loads(_cached("bundles", patient))


def drafts(patient: str) -> JSON:
    """`{"order-select": {"selections": [...], "draftOrders": [...]}, "order-sign": {"draftOrders": [...]}}`."""
    return json.loads(_cached("drafts", patient))


def resources(patient: str) -> list[JSON]:
    return [entry["resource"] for entry in bundle(patient)["entry"]]
