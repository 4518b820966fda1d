"""Local adaptations of the pathway by its owners: the `[nodes]`, `[orderables]` and `[override_reasons]`
tables of the pathway configuration file (CDS_PATHWAY_CONFIG), parsed and checked here.

    [nodes.conservative-care]
    enabled = false                   # the node's card is never shown
    [nodes.differential-diagnosis]
    indicator = "warning"             # info | warning | critical
    snooze = false                    # never snoozed after an override (critical nodes default to false)

    [orderables.xr-foot-3-views]      # an orderable of valuesets.toml, mapped to the local order catalog
    system = "http://hospital.example.org/order-catalog"
    code = "RAD-0042"
    display = "XR foot, 3 views"
    mode = "add"                      # add: beside the standard code (default); replace: instead of it

    [override_reasons.patient-declined]
    display = "Patient declined"
    nodes = ["initial-radiograph"]    # optional: the nodes whose cards offer it (default: every node)

Every message names the file and the key. Nothing here reads patient data; the steps that apply these
settings are `cds_service.pathway.local` (nodes), `cds_service.render.local` (cards) and
`cds_service.snooze` (snooze).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from cds_service.guideline.nodes import INDICATORS, pathway_spec
from cds_service.guideline.valuesets import load_valuesets

__all__ = [
    "LOCAL_SECTIONS",
    "LocalConfig",
    "LocalConfigError",
    "LocalOrderCode",
    "LocalOverrideReason",
    "NodeSetting",
    "parse_local_sections",
]

LOCAL_SECTIONS = ("nodes", "orderables", "override_reasons")
_NODE_KEYS = {"enabled", "indicator", "snooze", "comment"}
_ORDERABLE_KEYS = {"system", "code", "display", "mode", "comment"}
_REASON_KEYS = {"display", "nodes", "comment"}
_REASON_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# A FHIR code has no leading/trailing whitespace and no runs of inner whitespace (R4 `code` datatype).
_FHIR_CODE = re.compile(r"^[^\s]+( [^\s]+)*$")


class LocalConfigError(ValueError):
    """A local section of the pathway configuration file is wrong (the message names the key)."""


@dataclass(frozen=True, slots=True)
class NodeSetting:
    enabled: bool = True
    indicator: str | None = None  # None: the indicator of nodes.toml
    snooze: bool | None = None  # None: snoozed unless the card is critical (local default)
    comment: str = ""


@dataclass(frozen=True, slots=True)
class LocalOrderCode:
    orderable: str
    system: str
    code: str
    display: str
    mode: Literal["add", "replace"] = "add"
    comment: str = ""

    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True, slots=True)
class LocalOverrideReason:
    code: str
    display: str
    nodes: tuple[str, ...] | None = None  # None: every node
    comment: str = ""

    def applies_to(self, node_id: str) -> bool:
        return self.nodes is None or node_id in self.nodes


@dataclass(frozen=True, slots=True)
class LocalConfig:
    nodes: dict[str, NodeSetting] = field(default_factory=dict)
    orderables: dict[str, LocalOrderCode] = field(default_factory=dict)
    override_reasons: tuple[LocalOverrideReason, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.nodes or self.orderables or self.override_reasons)

    def node(self, node_id: str) -> NodeSetting:
        return self.nodes.get(node_id, NodeSetting())

    def enabled(self, node_id: str) -> bool:
        return self.node(node_id).enabled

    def indicator(self, node_id: str, default: str) -> str:
        return self.node(node_id).indicator or default

    def snoozable(self, node_id: str, indicator: str) -> bool:
        """Whether an override may snooze this node. Local default: critical cards never are, unless the
        owners say so (`snooze = true`)."""
        setting = self.node(node_id).snooze
        return setting if setting is not None else indicator != "critical"

    def reasons_for(self, node_id: str) -> tuple[LocalOverrideReason, ...]:
        return tuple(reason for reason in self.override_reasons if reason.applies_to(node_id))


def _table(value: Any, where: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise LocalConfigError(f"{where} must be a table ({', '.join(sorted(keys))})")
    unknown = set(value) - keys
    if unknown:
        raise LocalConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(keys)}")
    return value


def _text(body: dict[str, Any], key: str, where: str, *, required: bool) -> str:
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise LocalConfigError(f"{where}.{key} must be a non-empty string" + (" (required)" if required else ""))
    return value.strip()


def _nodes(section: Any, where: str) -> dict[str, NodeSetting]:
    known = [node.id for node in pathway_spec().nodes]
    if not isinstance(section, dict):
        raise LocalConfigError(f"{where}: 'nodes' must be a table of node ids, e.g. [nodes.conservative-care]")
    settings: dict[str, NodeSetting] = {}
    for node_id, raw in section.items():
        key = f"{where}: nodes.{node_id}"
        if node_id not in known:
            raise LocalConfigError(f"{key}: unknown node; the nodes are {known}")
        body = _table(raw, key, _NODE_KEYS)
        for flag in ("enabled", "snooze"):
            if flag in body and not isinstance(body[flag], bool):
                raise LocalConfigError(f"{key}.{flag} must be true or false, got {body[flag]!r}")
        indicator = body.get("indicator")
        if indicator is not None and indicator not in INDICATORS:
            raise LocalConfigError(f"{key}.indicator must be one of {list(INDICATORS)}, got {indicator!r}")
        settings[node_id] = NodeSetting(
            enabled=body.get("enabled", True),
            indicator=indicator,
            snooze=body.get("snooze"),
            comment=_text(body, "comment", key, required=False),
        )
    return settings


def _orderables(section: Any, where: str) -> dict[str, LocalOrderCode]:
    known = sorted(load_valuesets().orderables)
    if not isinstance(section, dict):
        raise LocalConfigError(f"{where}: 'orderables' must be a table of orderable names, e.g. [orderables.lab-pth]")
    codes: dict[str, LocalOrderCode] = {}
    for name, raw in section.items():
        key = f"{where}: orderables.{name}"
        if name not in known:
            raise LocalConfigError(f"{key}: unknown orderable; valuesets.toml declares {known}")
        body = _table(raw, key, _ORDERABLE_KEYS)
        system = _text(body, "system", key, required=True)
        if not system.startswith(("http://", "https://", "urn:oid:", "urn:uuid:")):
            raise LocalConfigError(f"{key}.system must be an absolute URI (http(s)://, urn:oid: or urn:uuid:), got {system!r}")
        code = _text(body, "code", key, required=True)
        if not _FHIR_CODE.match(body["code"]):
            raise LocalConfigError(f"{key}.code must be a FHIR code (no leading, trailing or repeated spaces), got {code!r}")
        mode = body.get("mode", "add")
        if mode not in ("add", "replace"):
            raise LocalConfigError(f"{key}.mode must be 'add' or 'replace', got {mode!r}")
        standard = load_valuesets().orderables[name]
        if mode == "replace" and standard.system is None:
            # A text-only orderable has no standard code to replace: adding is the same thing, said plainly.
            raise LocalConfigError(f"{key}.mode: '{name}' has no standard code to replace; use mode = 'add'")
        codes[name] = LocalOrderCode(
            orderable=name,
            system=system,
            code=code,
            display=_text(body, "display", key, required=True),
            mode=mode,
            comment=_text(body, "comment", key, required=False),
        )
    return codes


def _override_reasons(section: Any, where: str) -> tuple[LocalOverrideReason, ...]:
    spec = pathway_spec()
    known = [node.id for node in spec.nodes]
    if not isinstance(section, dict):
        raise LocalConfigError(f"{where}: 'override_reasons' must be a table of codes, e.g. [override_reasons.patient-declined]")
    reasons: list[LocalOverrideReason] = []
    for code, raw in section.items():
        key = f"{where}: override_reasons.{code}"
        if not _REASON_CODE.match(code):
            raise LocalConfigError(f"{key}: a code is lower-case letters, digits and '-' (at most 64)")
        if code in spec.override_reasons:
            raise LocalConfigError(f"{key}: '{code}' is already one of the pathway's override reasons; pick another code")
        body = _table(raw, key, _REASON_KEYS)
        nodes = body.get("nodes")
        if nodes is not None:
            if not isinstance(nodes, list) or not nodes or not all(isinstance(n, str) for n in nodes):
                raise LocalConfigError(f"{key}.nodes must be a non-empty list of node ids")
            unknown = [n for n in nodes if n not in known]
            if unknown:
                raise LocalConfigError(f"{key}.nodes: unknown node(s) {unknown}; the nodes are {known}")
        reasons.append(
            LocalOverrideReason(
                code=code,
                display=_text(body, "display", key, required=True),
                nodes=tuple(nodes) if nodes is not None else None,
                comment=_text(body, "comment", key, required=False),
            )
        )
    return tuple(reasons)


def parse_local_sections(document: dict[str, Any], where: str) -> LocalConfig:
    """The local sections of one configuration document (other keys are the caller's)."""
    return LocalConfig(
        nodes=_nodes(document["nodes"], where) if "nodes" in document else {},
        orderables=_orderables(document["orderables"], where) if "orderables" in document else {},
        override_reasons=_override_reasons(document["override_reasons"], where) if "override_reasons" in document else (),
    )
