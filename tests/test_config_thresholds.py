"""Pathway thresholds: packaged defaults with their sources, and deployment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service.facts.model import LabTest
from cds_service.guideline.config import PathwayConfigError, load_pathway_config


def test_defaults_follow_the_spec_and_seed() -> None:
    config = load_pathway_config()
    assert (config.imaging_lookback_days, config.lab_lookback_days) == (90, 90)
    assert config.infection_lab_lookback_days == 30
    assert config.duplicate_lab_window_days == 30
    assert config.conservative_care_min_weeks == 6
    assert (config.repeat_xr_min_days, config.repeat_xr_max_days) == (14, 28)
    assert (config.dfi_reassess_min_days, config.dfi_reassess_max_days) == (2, 4)
    calcium = config.ranges[LabTest.CALCIUM]
    assert (calcium.low, calcium.high, calcium.unit) == (8.5, 10.5, "mg/dL")
    assert config.ranges[LabTest.EGFR].high is None
    assert config.source_of("ranges.creatinine") == "local default"  # the spec gives none
    assert config.source_of("repeat_xr_min_days").startswith("seed 000")
    assert config.source_of("imaging_lookback_days") == "spec"
    assert "local default" in config.source_of("conservative_care_min_weeks")


def test_range_bounds_are_inclusive() -> None:
    calcium = load_pathway_config().ranges[LabTest.CALCIUM]
    assert calcium.direction(10.5) is None
    assert calcium.direction(8.5) is None
    assert calcium.direction(10.51) == "high"
    assert calcium.direction(8.4) == "low"
    assert calcium.describe() == "8.5-10.5 mg/dL"


def test_a_deployment_file_overrides_values(tmp_path: Path) -> None:
    path = tmp_path / "pathway.toml"
    path.write_text("imaging_lookback_days = 60\n[ranges.calcium]\nhigh = 10.2\n", encoding="utf-8")
    config = load_pathway_config(path)
    assert config.imaging_lookback_days == 60
    assert config.lab_lookback_days == 90
    assert config.ranges[LabTest.CALCIUM].high == 10.2
    assert config.ranges[LabTest.CALCIUM].low == 8.5
    assert "deployment override" in config.source_of("imaging_lookback_days")
    assert "deployment override" in config.source_of("ranges.calcium")
    # the packaged defaults are not changed by an override
    assert load_pathway_config().imaging_lookback_days == 90


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("imaging_lookback = 60\n", "unknown key 'imaging_lookback'"),
        ("[ranges.sodium]\nhigh = 145\n", "unknown key 'ranges.sodium'"),
        ("[ranges.calcium]\nupper = 11\n", r"unknown key\(s\) \['upper'\] in 'ranges.calcium'"),
        ("lab_lookback_days = -1\n", "lab_lookback_days must be a non-negative integer"),
        ("lab_lookback_days = 'ninety'\n", "lab_lookback_days must be a non-negative integer"),
        ("repeat_xr_min_days = 30\n", r"repeat_xr_min_days \(30\) is above repeat_xr_max_days \(28\)"),
        ("[ranges.calcium]\nlow = 11.0\n", "low 11.0 is above high 10.5"),
        ("imaging_lookback_days = [\n", "is not valid TOML"),
    ],
)
def test_bad_overrides_are_refused_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pathway.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PathwayConfigError, match=message):
        load_pathway_config(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PathwayConfigError, match="does not exist"):
        load_pathway_config(tmp_path / "absent.toml")


def test_the_app_reads_the_file_named_by_settings(tmp_path: Path) -> None:
    from cds_service.app import create_app
    from cds_service.settings import Settings

    path = tmp_path / "pathway.toml"
    path.write_text("dfi_reassess_max_days = 3\n", encoding="utf-8")
    app = create_app(Settings(auth_mode="disabled", database_url=f"sqlite:///{tmp_path}/t.db", pathway_config=path))
    assert app.state.pathway.dfi_reassess_max_days == 3


def test_the_guideline_names_the_same_lab_tests_as_the_facts() -> None:
    from cds_service.guideline.config import LAB_TESTS

    assert LAB_TESTS == tuple(test.value for test in LabTest)


def test_max_cards_is_a_local_default_and_configurable(tmp_path: Path) -> None:
    from cds_service.guideline.config import PathwayConfigError

    assert load_pathway_config().max_cards == 4
    assert load_pathway_config().source_of("max_cards") == "local default"
    path = tmp_path / "pathway.toml"
    path.write_text("max_cards = 2\n", encoding="utf-8")
    assert load_pathway_config(path).max_cards == 2
    path.write_text("max_cards = 0\n", encoding="utf-8")
    with pytest.raises(PathwayConfigError, match="max_cards must be at least 1"):
        load_pathway_config(path)


def test_the_guideline_package_imports_nothing_above_it() -> None:
    import ast

    package = Path(__file__).resolve().parents[1] / "cds_service" / "guideline"
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                assert not name.startswith("cds_service.") or name.startswith("cds_service.guideline"), (module.name, name)
