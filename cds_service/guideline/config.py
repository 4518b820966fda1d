"""PLACEHOLDER (helper C replaces): thresholds and lookbacks."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PathwayConfig:
    lookback_days: int = 90


def load_pathway_config(path: Path | None = None) -> PathwayConfig:
    return PathwayConfig()
