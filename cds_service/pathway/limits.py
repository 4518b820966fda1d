"""The numbers the rules use, taken once from `PathwayConfig` (thresholds.toml, overridable per deployment).

Rules read `Limits`, never a number inline. The eGFR threshold is the low end of the configured eGFR range.
"""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.facts.model import LabTest
from cds_service.guideline.config import PathwayConfig

__all__ = ["Limits", "limits_from_config"]

DEFAULT_EGFR_THRESHOLD = 60.0  # mL/min/1.73m2, pathway-spec "eGFR >= 60", when the config has no eGFR range


@dataclass(frozen=True, slots=True)
class Limits:
    imaging_lookback_days: int = 90
    lab_lookback_days: int = 90
    infection_lab_lookback_days: int = 30
    duplicate_lab_window_days: int = 30
    conservative_care_min_weeks: int = 6
    repeat_xr_min_days: int = 14
    repeat_xr_max_days: int = 28
    repeat_xr_max_age_days: int = 90
    dfi_reassess_min_days: int = 2
    dfi_reassess_max_days: int = 4
    egfr_threshold: float = DEFAULT_EGFR_THRESHOLD


def limits_from_config(config: PathwayConfig) -> Limits:
    egfr = config.range_for(LabTest.EGFR)
    limits = Limits(
        imaging_lookback_days=config.imaging_lookback_days,
        lab_lookback_days=config.lab_lookback_days,
        infection_lab_lookback_days=config.infection_lab_lookback_days,
        duplicate_lab_window_days=config.duplicate_lab_window_days,
        conservative_care_min_weeks=config.conservative_care_min_weeks,
        repeat_xr_min_days=config.repeat_xr_min_days,
        repeat_xr_max_days=config.repeat_xr_max_days,
        repeat_xr_max_age_days=config.repeat_xr_max_age_days,
        dfi_reassess_min_days=config.dfi_reassess_min_days,
        dfi_reassess_max_days=config.dfi_reassess_max_days,
        egfr_threshold=egfr.low if egfr is not None and egfr.low is not None else DEFAULT_EGFR_THRESHOLD,
    )
    if limits.repeat_xr_min_days > limits.repeat_xr_max_days or limits.dfi_reassess_min_days > limits.dfi_reassess_max_days:
        raise ValueError(f"pathway config has a window whose minimum exceeds its maximum: {limits}")
    return limits
