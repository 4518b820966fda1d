"""The CPG and CRMI profile rules an artifact claims in `meta.profile`, read from the profile sources kept in
tests/fhir_definitions (CRMI: StructureDefinition JSON, its differential; CPG: the IG's FSH, which is all
CPG publishes as source), and checked on a resource:

- cardinality `min..max` of each constrained element (`1..1` present, `0..0` absent);
- fixed codes (`* type = $plan-definition-type#eca-rule`, `* kind = #ServiceRequest`);
- `definition[x] only Canonical(A or B)`: each definitionCanonical names a resource of the artifact that
  claims profile A or B.

Only the FSH rules above are read (the profiles kept use no others that constrain presence); every other
rule line (Must Support flags, bindings, extension slices, captions) is listed by `unread_rules()`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["Rule", "profile_rules", "check_profiles", "unread_rules"]

JSON = dict[str, Any]
HERE = Path(__file__).resolve().parents[1] / "fhir_definitions"
CPG = "http://hl7.org/fhir/uv/cpg/StructureDefinition/"
_LINE = re.compile(r"^(?P<indent>\s*)\* (?P<path>[A-Za-z][\w.\[\]]*)(?P<rest>.*)$")
_CARD = re.compile(r"^\s*(\d+)\.\.(\d+|\*)")
_FIXED = re.compile(r"^\s*=\s*(?:\$[\w-]+)?#([\w-]+)")
_ONLY = re.compile(r"^\s*only Canonical\((.+)\)")


@dataclass
class Rule:
    path: str  # below the resource, e.g. "action.title"
    min: int | None = None
    max: str | None = None
    fixed_code: str | None = None
    only_profiles: tuple[str, ...] = ()
    source: str = ""


@dataclass
class _Fsh:
    name: str
    id: str
    parent: str
    rules: list[Rule] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def _fsh_profiles() -> dict[str, _Fsh]:
    profiles: dict[str, _Fsh] = {}
    for path in sorted((HERE / "cpg").glob("*.fsh")):
        text = path.read_text(encoding="utf-8")
        head = dict(re.findall(r"^(Profile|Parent|Id): (\S+)", text, re.M))
        if "Profile" not in head:
            continue
        profile = _Fsh(name=head["Profile"], id=head["Id"], parent=head["Parent"])
        stack: list[tuple[int, str]] = []
        for line in text.splitlines():
            match = _LINE.match(line)
            if not match:
                continue
            indent = len(match["indent"])
            while stack and stack[-1][0] >= indent:
                stack.pop()
            element = match["path"]
            full = ".".join([p for _, p in stack] + [element])
            stack.append((indent, element))
            rest = match["rest"]
            rule = Rule(path=full, source=f"{path.name}: {line.strip()}")
            if card := _CARD.match(rest):
                rule.min, rule.max = int(card[1]), card[2]
            elif fixed := _FIXED.match(rest):
                rule.fixed_code = fixed[1]
            elif only := _ONLY.match(rest):
                rule.only_profiles = tuple(name.strip() for name in only[1].split(" or "))
            else:
                profile.unread.append(rule.source)
                continue
            profile.rules.append(rule)
        profiles[profile.id] = profile
    return profiles


@lru_cache(maxsize=1)
def _crmi() -> dict[str, list[Rule]]:
    rules: dict[str, list[Rule]] = {}
    for path in sorted((HERE / "crmi").glob("*.json")):
        sd = json.loads(path.read_text(encoding="utf-8"))
        found = []
        for element in sd["differential"]["element"]:
            parts = element["path"].split(".", 1)
            if len(parts) == 1 or "min" not in element and "max" not in element:
                continue
            if ":" in element["id"]:
                # A slice (an extension by url): optional in every profile kept; a required one would need
                # its url matched, which this reader does not do, so it refuses to pass over one.
                if element.get("min", 0) > 0:
                    raise ValueError(f"{path.name}: {element['id']} is a required slice; extend fhir_profiles.py")
                continue
            found.append(Rule(path=parts[1], min=element.get("min"), max=element.get("max"),
                              source=f"{path.name}: {element['id']}"))
        rules[sd["url"]] = found
    return rules


def profile_rules(url: str) -> list[Rule]:
    """Every rule of a claimed profile, its parents' included; KeyError when its source is not kept."""
    if url in _crmi():
        return _crmi()[url]
    by_id = _fsh_profiles()
    profile = by_id[url.removeprefix(CPG)]
    names = {p.name: p for p in by_id.values()}
    rules = list(profile.rules)
    while profile.parent in names:
        profile = names[profile.parent]
        rules = profile.rules + rules
    return rules


def unread_rules() -> list[str]:
    return [line for profile in _fsh_profiles().values() for line in profile.unread]


def _values(node: Any, path: list[str]) -> list[Any]:
    if not path:
        return [node]
    if not isinstance(node, dict):
        return []
    head = path[0]
    if head.endswith("[x]"):
        keys = [k for k in node if k.startswith(head[:-3]) and k[len(head) - 3:len(head) - 2].isupper()]
    else:
        keys = [head] if head in node else []
    found: list[Any] = []
    for key in keys:
        value = node[key]
        for item in value if isinstance(value, list) else [value]:
            found += _values(item, path[1:])
    return found


def _parents(resource: JSON, path: str) -> list[tuple[Any, str]]:
    """(parent node, last element) for each instance of the path's parent."""
    parts = path.split(".")
    return [(parent, parts[-1]) for parent in _values(resource, parts[:-1])]


def check_profiles(resource: JSON, resolve: Callable[[str], JSON | None]) -> list[str]:
    """Problems of `resource` against every profile its meta.profile claims (empty: it meets them)."""
    problems: list[str] = []
    names = {p.name: f"{CPG}{p.id}" for p in _fsh_profiles().values()}
    label = f"{resource['resourceType']}/{resource['id']}"
    for url in resource.get("meta", {}).get("profile", []):
        try:
            rules = profile_rules(url)
        except KeyError:
            problems.append(f"{label}: claims {url}, whose source is not kept in tests/fhir_definitions")
            continue
        for rule in rules:
            for parent, last in _parents(resource, rule.path):
                values = _values(parent, [last])
                if rule.min is not None and len(values) < rule.min:
                    problems.append(f"{label}: {rule.path} has {len(values)}, {rule.source} needs {rule.min}")
                if rule.max not in (None, "*") and len(values) > int(rule.max):
                    problems.append(f"{label}: {rule.path} has {len(values)}, {rule.source} allows {rule.max}")
                if rule.fixed_code is not None:
                    for value in values:
                        codes = [value] if isinstance(value, str) else [c.get("code") for c in value.get("coding", [])]
                        if rule.fixed_code not in codes:
                            problems.append(f"{label}: {rule.path} is {codes}, {rule.source} fixes {rule.fixed_code}")
                if rule.only_profiles:
                    allowed = {names[n] for n in rule.only_profiles if n in names}
                    for value in _values(parent, [last.replace("[x]", "Canonical")]):
                        target = resolve(value)
                        claimed = set((target or {}).get("meta", {}).get("profile", []))
                        if not claimed & allowed:
                            problems.append(f"{label}: {rule.path} -> {value} is not one of {sorted(allowed)}")
    return problems
