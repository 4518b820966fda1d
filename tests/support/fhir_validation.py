"""A small FHIR R4 validator for the publication tests, driven by the StructureDefinitions kept in
tests/fhir_definitions (not by hand-written rules):

- every element's cardinality (min/max) and unknown elements;
- every `required` binding (code, Coding, CodeableConcept) against the value set's codes;
- every invariant of severity `error` (exp-1, ext-1, pdf-0, rqg-1, dom-2, dom-3, cnl-0...), its FHIRPath
  evaluated with fhirpathpy on each element it is declared on, datatypes included (exp-1 is Expression's).

`Report.skipped` names the invariants that could not be evaluated (an exception from the FHIRPath engine),
so a test can require it to be exactly the known list instead of passing on what was not checked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from fhirpathpy import evaluate
from fhirpathpy.models import models

__all__ = ["DEFINITIONS", "Report", "structure_definitions", "validate"]

JSON = dict[str, Any]
DEFINITIONS = Path(__file__).resolve().parents[1] / "fhir_definitions"
_CODED = ("code", "Coding", "CodeableConcept")
# ele-1 on a JSON primitive is "the value is not empty", checked directly (fhirpathpy needs a node).
_ELE_1 = "ele-1"


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    evaluated: set[str] = field(default_factory=set)  # invariant keys evaluated at least once
    skipped: set[str] = field(default_factory=set)  # invariant keys the engine could not evaluate


@lru_cache(maxsize=1)
def structure_definitions() -> dict[str, JSON]:
    bundle = json.loads((DEFINITIONS / "r4-structuredefinitions.json").read_text(encoding="utf-8"))
    return {entry["resource"]["id"]: entry["resource"] for entry in bundle["entry"]}


@lru_cache(maxsize=1)
def _value_sets() -> dict[str, JSON]:
    return json.loads((DEFINITIONS / "r4-required-valuesets.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _elements(type_name: str) -> dict[str, JSON]:
    return {element["path"]: element for element in structure_definitions()[type_name]["snapshot"]["element"]}


@lru_cache(maxsize=None)
def _children(type_name: str, path: str) -> tuple[JSON, ...]:
    prefix = path + "."
    return tuple(e for p, e in _elements(type_name).items() if p.startswith(prefix) and "." not in p[len(prefix):])


def _keys(element: JSON) -> list[tuple[str, str]]:
    """(JSON key, type code) pairs an element may appear as (`value[x]` -> valueString, ...)."""
    name = element["path"].rsplit(".", 1)[-1]
    types = [t["code"] for t in element.get("type", [])] or ["Element"]
    if name.endswith("[x]"):
        base = name[:-3]
        return [(base + code[0].upper() + code[1:], code) for code in types]
    return [(name, types[0])]


def _is_primitive(code: str) -> bool:
    return code.startswith("http://hl7.org/fhirpath/System.") or code[:1].islower()


def _codes_of(value: Any, code: str) -> list[tuple[str | None, str | None]]:
    if code == "code":
        return [(None, value)]
    if code == "Coding":
        return [(value.get("system"), value.get("code"))]
    return [(c.get("system"), c.get("code")) for c in value.get("coding", [])]


def _in_value_set(url: str, pairs: list[tuple[str | None, str | None]], code: str) -> bool | None:
    vs = _value_sets().get(url.split("|")[0])
    if vs is None or not vs["enumerable"]:
        return None
    allowed = vs["codes"]
    def member(system: str | None, value: str | None) -> bool:
        if system is None:
            return any(value in codes for codes in allowed.values())
        return value in allowed.get(system, [])
    if code == "CodeableConcept":
        return any(member(s, c) for s, c in pairs) if pairs else False
    return all(member(s, c) for s, c in pairs)


class _Validator:
    def __init__(self, root: JSON, report: Report) -> None:
        self.root = root
        self.current = root
        self.report = report

    def error(self, where: str, problem: str) -> None:
        self.report.errors.append(f"{self.current.get('resourceType')}/{self.current.get('id')} {where}: {problem}")

    def invariants(self, node: Any, element: JSON, where: str, base: str | None = None) -> None:
        """`base`: the node's type for the FHIRPath model (a datatype's name), else the element's path."""
        for constraint in element.get("constraint", []):
            if constraint.get("severity") != "error" or "expression" not in constraint:
                continue
            key = constraint["key"]
            if not isinstance(node, dict):
                if key == _ELE_1:
                    self.report.evaluated.add(key)
                    if node == "" or node is None:
                        self.error(where, "ele-1: empty value")
                continue
            expression = constraint["expression"]
            # fhirpathpy 2.2.4 lacks hasValue(): on a JSON object (a complex node) it is false, and a
            # primitive that exists in JSON has a value (empty strings are caught by ele-1 above).
            expression = re.sub(r"^hasValue\(\)", "false", expression).replace(".hasValue()", ".exists()")
            # R4's dom-3 applies as(type) to a collection (descendants()), which FHIRPath N1 engines refuse:
            # ofType(type) is the filter it means.
            expression = expression.replace("descendants().as(", "descendants().ofType(")
            try:
                # The R4 model (with the element's path as base) resolves choice types such as `value`.
                result = evaluate(node, {"base": base or element["path"], "expression": expression},
                                  {"resource": self.current, "rootResource": self.root}, models["r4"])
            except Exception:  # noqa: BLE001 - counted, named in the report, never passed silently
                self.report.skipped.add(key)
                continue
            self.report.evaluated.add(key)
            if result not in ([True], []):  # an empty result is "not false" (FHIR invariant semantics)
                self.error(where, f"{key} violated ({constraint.get('human', '')}): got {result}")

    def resource(self, resource: JSON, where: str) -> None:
        type_name = resource.get("resourceType")
        if type_name not in structure_definitions():
            self.error(where, f"no StructureDefinition kept for {type_name}")
            return
        saved = (self.root, self.current)
        # %resource is the resource itself; %rootResource is the container of a contained resource.
        if not where.rsplit(".", 1)[-1].startswith("contained"):
            self.root = resource
        self.current = resource
        self.complex(resource, type_name, type_name, where or type_name)
        self.root, self.current = saved

    def complex(self, node: JSON, type_name: str, path: str, where: str) -> None:
        element = _elements(type_name)[path]
        self.invariants(node, element, where)
        known = {"resourceType"} if path == type_name else set()
        for child in _children(type_name, path):
            keys = _keys(child)
            values: list[tuple[Any, str]] = []
            for key, code in keys:
                known.update((key, f"_{key}"))
                if key in node:
                    value = node[key]
                    values += [(v, code) for v in (value if isinstance(value, list) else [value])]
            child_where = f"{where}.{keys[0][0].removesuffix('[x]')}"
            if len(values) < child.get("min", 0):
                self.error(child_where, f"min {child['min']}, found {len(values)}")
            if child.get("max") not in ("*", None) and len(values) > int(child["max"]):
                self.error(child_where, f"max {child['max']}, found {len(values)}")
            binding = child.get("binding") or {}
            for index, (value, code) in enumerate(values):
                at = f"{child_where}[{index}]" if len(values) > 1 else child_where
                if binding.get("strength") == "required" and code in _CODED:
                    inside = _in_value_set(binding["valueSet"], _codes_of(value, code), code)
                    if inside is False:
                        self.error(at, f"code {_codes_of(value, code)} not in required value set {binding['valueSet']}")
                self.value(value, code, child, type_name, at)
        unknown = sorted(set(node) - known)
        if unknown:
            self.error(where, f"unknown element(s) {unknown}")

    def value(self, value: Any, code: str, element: JSON, type_name: str, where: str) -> None:
        if "contentReference" in element:
            self.complex(value, type_name, element["contentReference"].lstrip("#"), where)
        elif code == "Resource":
            self.resource(value, where)
        elif code in ("BackboneElement", "Element") and _children(type_name, element["path"]):
            self.complex(value, type_name, element["path"], where)
        elif _is_primitive(code):
            if isinstance(value, dict | list):
                self.error(where, f"a {code} must be a JSON primitive")
            self.invariants(value, element, where)
        elif code in structure_definitions():
            self.invariants(value, element, where, base=code)
            if not isinstance(value, dict):
                self.error(where, f"a {code} must be a JSON object")
            else:
                self.complex(value, code, code, where)
        else:
            self.error(where, f"no StructureDefinition kept for the datatype {code}")


def validate(resource: JSON, report: Report | None = None) -> Report:
    report = report or Report()
    _Validator(resource, report).resource(resource, "")
    report.errors = list(dict.fromkeys(report.errors))  # an element's and its datatype's invariants overlap
    return report
