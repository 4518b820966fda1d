"""Thresholds and lookbacks of the pathway: defaults from `thresholds.toml`, overridable per deployment.

`load_pathway_config(path)` reads the packaged defaults, then the TOML file at `path` (settings:
CDS_PATHWAY_CONFIG), whose keys must be ones the defaults declare. Each value keeps its source
("spec", "seed 000 ...", "local default") so pages and cards can say where a number comes from.
The same file may hold the pathway owners' local adaptations (`[nodes]`, `[orderables]`,
`[override_reasons]`): see `local_config.py`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from cds_service.guideline.local_config import LOCAL_SECTIONS, LocalConfig, LocalConfigError, parse_local_sections

__all__ = ["DEFAULTS_PATH", "LAB_TESTS", "PathwayConfig", "PathwayConfigError", "Range", "load_pathway_config"]

# The lab tests a range may be given for: the values of `cds_service.facts.model.LabTest` (a StrEnum, so its
# members look these keys up directly). Named here because the guideline package imports nothing above it;
# tests/test_config_thresholds.py checks the two lists stay the same.
LAB_TESTS = ("calcium", "phosphate", "pth", "creatinine", "egfr", "vitamin_d", "esr", "crp", "culture")
DEFAULTS_PATH = Path(__file__).with_name("thresholds.toml")
_RANGE_KEYS = {"low", "high", "unit", "source", "comment"}
_SETTING_KEYS = {"value", "source", "comment"}


class PathwayConfigError(ValueError):
    """A pathway configuration file has an unknown key or a bad value (the message names it)."""


@dataclass(frozen=True, slots=True)
class Range:
    """A normal range in the test's canonical unit; both bounds inclusive, either may be open (None)."""

    low: float | None
    high: float | None
    unit: str
    source: str = "spec"
    comment: str = ""

    def direction(self, value: float) -> str | None:
        """ "low" / "high" when `value` is outside the range, None when inside."""
        if self.low is not None and value < self.low:
            return "low"
        if self.high is not None and value > self.high:
            return "high"
        return None

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low:g}-{self.high:g} {self.unit}"
        if self.low is not None:
            return f">= {self.low:g} {self.unit}"
        return f"<= {self.high:g} {self.unit}"


DEFAULT_EGFR_THRESHOLD = 60.0  # mL/min/1.73m2, pathway-spec "eGFR >= 60", when the config has no eGFR range


@dataclass(frozen=True, slots=True)
class PathwayConfig:
    imaging_lookback_days: int = 90
    imaging_history_days: int = 730
    lab_lookback_days: int = 90
    infection_lab_lookback_days: int = 30
    duplicate_lab_window_days: int = 30
    conservative_care_min_weeks: int = 6
    repeat_xr_min_days: int = 14
    repeat_xr_max_days: int = 28
    repeat_xr_max_age_days: int = 90
    dfi_reassess_min_days: int = 2
    dfi_reassess_max_days: int = 4
    # Days a node stays hidden for a patient after a card of it was overridden with a reason; 0: never.
    snooze_days: int = 30
    # What a deceased patient gets: "no-cards" (nothing) or "no-suggestions" (the cards, without any order).
    deceased_patient: str = "no-cards"
    # At most this many cards in one response (local default 4, thresholds.toml): the rest are folded into
    # the cards they belong to, or into one card (cds_service/pathway/compose.py).
    max_cards: int = 4
    # lab test name (LAB_TESTS; a LabTest member works as the key) -> its normal range
    ranges: dict[str, Range] = field(default_factory=dict)
    # setting name (or "ranges.<test>") -> where the value comes from
    sources: dict[str, str] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    # The pathway owners' local adaptations (nodes off / indicator, local order codes, override reasons).
    local: LocalConfig = field(default_factory=LocalConfig)

    @property
    def egfr_threshold(self) -> float:
        """Below this eGFR (mL/min/1.73m2) renal function is abnormal: the low end of the eGFR range."""
        egfr = self.ranges.get("egfr")
        return egfr.low if egfr is not None and egfr.low is not None else DEFAULT_EGFR_THRESHOLD

    @property
    def lookback_days(self) -> int:
        """The spec's single "lookback" (imaging and labs share 90 days by default)."""
        return self.imaging_lookback_days

    def range_for(self, test: str) -> Range | None:
        return self.ranges.get(test)

    def source_of(self, name: str) -> str:
        return self.sources.get(name, "local default")


# Settings whose value is one of a few words; every other setting is a non-negative integer.
_CHOICE_SETTINGS: dict[str, tuple[str, ...]] = {"deceased_patient": ("no-cards", "no-suggestions")}
_INT_SETTINGS = tuple(
    f.name
    for f in fields(PathwayConfig)
    if f.name not in {"ranges", "sources", "comments", "local", *_CHOICE_SETTINGS}
)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise PathwayConfigError(f"pathway configuration file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise PathwayConfigError(f"pathway configuration file {str(path)!r} is not valid TOML: {exc}") from None


def _apply(document: dict[str, Any], where: str, base: dict[str, Any]) -> None:
    """Merge `document` into `base` (name -> {value, source, comment} / ranges -> test -> {...})."""
    for key, raw in document.items():
        if key in LOCAL_SECTIONS:
            continue  # the local adaptations: parsed by load_pathway_config with local_config
        if key == "ranges":
            if not isinstance(raw, dict):
                raise PathwayConfigError(f"{where}: 'ranges' must be a table of lab tests")
            for test_name, body in raw.items():
                name = f"ranges.{test_name}"
                if test_name not in LAB_TESTS:
                    raise PathwayConfigError(f"{where}: unknown key {name!r}; lab tests are {list(LAB_TESTS)}")
                if not isinstance(body, dict):
                    raise PathwayConfigError(f"{where}: {name!r} must be a table (low, high, unit, source, comment)")
                unknown = set(body) - _RANGE_KEYS
                if unknown:
                    raise PathwayConfigError(f"{where}: unknown key(s) {sorted(unknown)} in {name!r}")
                for bound in ("low", "high"):
                    if bound in body and not isinstance(body[bound], int | float):
                        raise PathwayConfigError(f"{where}: {name}.{bound} must be a number, got {body[bound]!r}")
                merged = dict(base["ranges"].get(test_name, {}))
                merged.update(body)
                if "source" not in body and base["ranges"].get(test_name):
                    merged["source"] = f"deployment override ({where})"
                base["ranges"][test_name] = merged
            continue
        if key not in _INT_SETTINGS and key not in _CHOICE_SETTINGS:
            known = [*_INT_SETTINGS, *_CHOICE_SETTINGS, "ranges", *LOCAL_SECTIONS]
            raise PathwayConfigError(f"{where}: unknown key {key!r}; known keys are {known}")
        body = raw if isinstance(raw, dict) else {"value": raw, "source": f"deployment override ({where})"}
        unknown = set(body) - _SETTING_KEYS
        if unknown:
            raise PathwayConfigError(f"{where}: unknown key(s) {sorted(unknown)} in {key!r}")
        value = body.get("value")
        if key in _CHOICE_SETTINGS:
            if value not in _CHOICE_SETTINGS[key]:
                raise PathwayConfigError(f"{where}: {key} must be one of {list(_CHOICE_SETTINGS[key])}, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PathwayConfigError(f"{where}: {key} must be a non-negative integer, got {value!r}")
        merged = dict(base["settings"].get(key, {}))
        merged.update(body)
        if isinstance(raw, dict) and "source" not in raw and where != DEFAULTS_PATH.name:
            merged["source"] = f"deployment override ({where})"
        base["settings"][key] = merged


def _build(base: dict[str, Any], local: LocalConfig) -> PathwayConfig:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    comments: dict[str, str] = {}
    for name, body in base["settings"].items():
        values[name] = body["value"]
        sources[name] = body.get("source", "local default")
        comments[name] = body.get("comment", "")
    ranges: dict[str, Range] = {}
    for test_name, body in base["ranges"].items():
        name = f"ranges.{test_name}"
        if "unit" not in body:
            raise PathwayConfigError(f"{name} needs a 'unit'")
        low, high = body.get("low"), body.get("high")
        if low is None and high is None:
            raise PathwayConfigError(f"{name} needs 'low', 'high' or both")
        if low is not None and high is not None and low > high:
            raise PathwayConfigError(f"{name}: low {low} is above high {high}")
        ranges[test_name] = Range(
            low=None if low is None else float(low),
            high=None if high is None else float(high),
            unit=body["unit"],
            source=body.get("source", "local default"),
            comment=body.get("comment", ""),
        )
        sources[name] = ranges[test_name].source
    config = replace(PathwayConfig(), **values, ranges=ranges, sources=sources, comments=comments, local=local)
    for low_name, high_name in (
        ("repeat_xr_min_days", "repeat_xr_max_days"),
        ("dfi_reassess_min_days", "dfi_reassess_max_days"),
    ):
        if getattr(config, low_name) > getattr(config, high_name):
            raise PathwayConfigError(
                f"{low_name} ({getattr(config, low_name)}) is above {high_name} ({getattr(config, high_name)})"
            )
    if config.max_cards < 1:
        raise PathwayConfigError(f"max_cards must be at least 1, got {config.max_cards}")
    return config


@lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    base: dict[str, Any] = {"settings": {}, "ranges": {}}
    _apply(_read(DEFAULTS_PATH), DEFAULTS_PATH.name, base)
    return base


def load_pathway_config(path: Path | None = None) -> PathwayConfig:
    """The packaged defaults, overridden by the TOML file at `path` when given."""
    defaults = _defaults()
    base = {
        "settings": {k: dict(v) for k, v in defaults["settings"].items()},
        "ranges": {k: dict(v) for k, v in defaults["ranges"].items()},
    }
    local = LocalConfig()
    if path is not None:
        document = _read(Path(path))
        _apply(document, Path(path).name, base)
        try:
            local = parse_local_sections(document, Path(path).name)
        except LocalConfigError as exc:
            raise PathwayConfigError(str(exc)) from None
    return _build(base, local)
