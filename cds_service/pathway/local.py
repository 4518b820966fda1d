"""The pathway owners' node settings, applied to what the rules concluded: a node turned off gives no card,
and a node may carry a local indicator. A separate step after `evaluate`, so the rules stay as reviewed.

Turning a node off hides its card only: the other nodes' rules are unchanged (e.g. conservative care is
still withheld while the surgical-referral rule holds, even when that card is off).
"""

from __future__ import annotations

from dataclasses import replace

from cds_service.guideline.config import PathwayConfig
from cds_service.pathway.evaluate import SEVERITY  # the card order of `evaluate`: critical first
from cds_service.pathway.result import NodeResult

__all__ = ["apply_node_settings"]


def apply_node_settings(results: list[NodeResult], config: PathwayConfig) -> list[NodeResult]:
    local = config.local
    if not local.nodes:
        return results
    kept = [
        replace(result, indicator=local.indicator(result.node_id, result.indicator))  # type: ignore[arg-type]
        for result in results
        if local.enabled(result.node_id)
    ]
    # sorted() is stable: within one indicator the nodes.toml order of `evaluate` is kept.
    return sorted(kept, key=lambda r: SEVERITY[r.indicator])
