"""`cds-service pathway check FILE`: validate a pathway configuration file without starting the service,
and say what it changes (thresholds, nodes, local order codes, override reasons, snooze)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, TextIO

from cds_service.guideline.config import PathwayConfig, PathwayConfigError, load_pathway_config
from cds_service.guideline.nodes import pathway_spec
from cds_service.guideline.valuesets import orderable

__all__ = ["add_parser", "describe_changes", "run"]

EXIT_INVALID = 2
_NOT_SETTINGS = {"ranges", "sources", "comments", "local"}


def add_parser(commands: Any) -> Any:
    """The `pathway` command group with its `check`; returns the group so other tools add theirs."""
    pathway = commands.add_parser("pathway", help="the pathway configuration (CDS_PATHWAY_CONFIG)")
    pathway_commands = pathway.add_subparsers(dest="pathway_command", required=True)
    check = pathway_commands.add_parser(
        "check", help="validate a pathway configuration file and list what it changes, without starting the service"
    )
    check.add_argument("file", type=Path, help="the TOML file (as CDS_PATHWAY_CONFIG would name it)")
    check.set_defaults(func=run)
    return pathway_commands


def describe_changes(config: PathwayConfig, defaults: PathwayConfig) -> list[str]:
    lines: list[str] = []
    for item in fields(PathwayConfig):
        if item.name in _NOT_SETTINGS:
            continue
        value, default = getattr(config, item.name), getattr(defaults, item.name)
        if value != default:
            lines.append(f"setting {item.name} = {value} (packaged default {default}, {defaults.source_of(item.name)})")
    for test, lab_range in config.ranges.items():
        default_range = defaults.ranges.get(test)
        if default_range is None or (lab_range.low, lab_range.high) != (default_range.low, default_range.high):
            was = default_range.describe() if default_range else "none"
            lines.append(f"range {test}: {lab_range.describe()} (packaged default {was})")
    local = config.local
    for node in pathway_spec().nodes:
        setting = local.node(node.id)
        if not setting.enabled:
            lines.append(f"node {node.id}: turned off (its card is never shown)")
        if setting.indicator and setting.indicator != node.indicator:
            lines.append(f"node {node.id}: indicator {setting.indicator} (nodes.toml: {node.indicator})")
        if setting.snooze is not None:
            lines.append(f"node {node.id}: snooze {'on' if setting.snooze else 'off'}")
    for name, mapped in local.orderables.items():
        standard = orderable(name)
        target = f"{standard.system}|{standard.code}" if standard.code else f"text '{standard.text}'"
        verb = "replaces" if mapped.mode == "replace" else "added beside"
        lines.append(f"orderable {name}: local code {mapped.system}|{mapped.code} '{mapped.display}' {verb} {target}")
        if mapped.mode == "replace":
            lines.append(
                f"  note: orders of the EHR coded only {mapped.system}|{mapped.code} are recognised in draftOrders "
                "and prefetch, but the service's code-filtered prefetch queries do not ask for them"
            )
    for reason in local.override_reasons:
        where = ", ".join(reason.nodes) if reason.nodes else "every node"
        lines.append(f"override reason {reason.code} '{reason.display}': on {where}")
    return lines


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        config = load_pathway_config(args.file)
    except PathwayConfigError as exc:
        print(f"cds-service pathway check: {exc}", file=err)
        return EXIT_INVALID
    changes = describe_changes(config, load_pathway_config())
    print(f"{args.file}: valid; {len(changes) or 'no'} change(s) from the packaged pathway", file=out)
    for line in changes:
        print(f"  {line}", file=out)
    return 0
