"""Local configuration for pathway owners: nodes off or re-indicated, local order codes, local override
reasons, the snooze setting; validated with messages that name the key, applied end to end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cds_service.cli import main
from cds_service.guideline.config import PathwayConfigError, load_pathway_config
from cds_service.guideline.nodes import pathway_spec
from fhir_fixtures.hook_requests import build_request
from tests.support.e2e_checks import carried

LOCAL_CATALOG = "http://hospital.example.org/order-catalog"
LOINC = "http://loinc.org"
PV = "/cds-services/foot-calcification-patient-view"
SIGN = "/cds-services/foot-calcification-order-sign"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pathway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def nodes_of(body: dict) -> dict[str, dict]:
    """node -> the card that carries it (its own, or the one it is folded into: pathway/compose.py)."""
    return {node: card for card in body["cards"] for node in carried(card)}


def codings_of(card: dict) -> list[list[tuple[str, str]]]:
    return [
        [(c["system"], c["code"]) for c in action["resource"]["code"].get("coding", [])]
        for suggestion in card.get("suggestions", [])
        for action in suggestion.get("actions", [])
        if action["type"] == "create"
    ]


def test_defaults_have_no_local_changes_and_a_30_day_snooze() -> None:
    config = load_pathway_config()
    assert config.local.is_empty
    assert config.snooze_days == 30
    assert config.source_of("snooze_days") == "local default"
    assert config.local.snoozable("initial-radiograph", "warning")
    assert not config.local.snoozable("urgent-surgery", "critical")  # local default: critical never snoozed


def test_a_full_local_file_is_read(tmp_path: Path) -> None:
    config = load_pathway_config(write(tmp_path, f"""
snooze_days = 7
[nodes.conservative-care]
enabled = false
[nodes.differential-diagnosis]
indicator = "warning"
snooze = false
[nodes.urgent-surgery]
snooze = true
[orderables.xr-foot-3-views]
system = "{LOCAL_CATALOG}"
code = "RAD-0042"
display = "XR foot, 3 views"
[orderables.lab-pth]
system = "{LOCAL_CATALOG}"
code = "LAB 77"
display = "PTH intact"
mode = "replace"
[override_reasons.patient-declined]
display = "Patient declined"
nodes = ["initial-radiograph", "metabolic-workup"]
[override_reasons.seen-by-specialist]
display = "Already under a specialist"
"""))
    local = config.local
    assert config.snooze_days == 7
    assert not local.enabled("conservative-care") and local.enabled("initial-radiograph")
    assert local.indicator("differential-diagnosis", "info") == "warning"
    assert not local.snoozable("differential-diagnosis", "warning")
    assert local.snoozable("urgent-surgery", "critical")
    assert local.orderables["xr-foot-3-views"].mode == "add"
    assert local.orderables["lab-pth"].mode == "replace"
    assert [r.code for r in local.reasons_for("initial-radiograph")] == ["patient-declined", "seen-by-specialist"]
    assert [r.code for r in local.reasons_for("repeat-radiograph")] == ["seen-by-specialist"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[nodes.no-such-node]\nenabled = false\n", r"pathway.toml: nodes.no-such-node: unknown node"),
        ("[nodes.conservative-care]\nenabled = 'no'\n", r"nodes.conservative-care.enabled must be true or false"),
        ("[nodes.conservative-care]\nindicator = 'red'\n", r"nodes.conservative-care.indicator must be one of"),
        ("[nodes.conservative-care]\nhidden = true\n", r"nodes.conservative-care: unknown key\(s\) \['hidden'\]"),
        ("nodes = 3\n", r"'nodes' must be a table"),
        ("[orderables.xr-hand]\nsystem = 'http://x'\ncode = 'a'\ndisplay = 'b'\n", r"orderables.xr-hand: unknown orderable"),
        ("[orderables.lab-pth]\ncode = 'a'\ndisplay = 'b'\n", r"orderables.lab-pth.system must be a non-empty string \(required\)"),
        ("[orderables.lab-pth]\nsystem = 'local'\ncode = 'a'\ndisplay = 'b'\n", r"orderables.lab-pth.system must be an absolute URI"),
        ("[orderables.lab-pth]\nsystem = 'http://x'\ncode = ' a'\ndisplay = 'b'\n", r"orderables.lab-pth.code must be a FHIR code"),
        ("[orderables.lab-pth]\nsystem = 'http://x'\ncode = 'a'\ndisplay = 'b'\nmode = 'swap'\n", r"orderables.lab-pth.mode must be 'add' or 'replace'"),
        ("[orderables.probe-to-bone-test]\nsystem = 'http://x'\ncode = 'a'\ndisplay = 'b'\nmode = 'replace'\n",
         r"orderables.probe-to-bone-test.mode: 'probe-to-bone-test' has no standard code to replace"),
        ("[override_reasons.other]\ndisplay = 'x'\n", r"override_reasons.other: 'other' is already one of the pathway's"),
        ("[override_reasons.Bad_Code]\ndisplay = 'x'\n", r"override_reasons.Bad_Code: a code is lower-case"),
        ("[override_reasons.declined]\n", r"override_reasons.declined.display must be a non-empty string \(required\)"),
        ("[override_reasons.declined]\ndisplay = 'x'\nnodes = ['nope']\n", r"override_reasons.declined.nodes: unknown node\(s\) \['nope'\]"),
        ("snooze_days = -1\n", r"snooze_days must be a non-negative integer"),
        ("snooze = 3\n", r"unknown key 'snooze'"),
    ],
)
def test_mistakes_stop_startup_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PathwayConfigError, match=message):
        load_pathway_config(write(tmp_path, text))


def test_startup_fails_on_a_bad_local_file(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    with pytest.raises(PathwayConfigError, match="nodes.nope: unknown node"):
        make_client(pathway_config=write(tmp_path, "[nodes.nope]\nenabled = false\n"))


def test_node_off_and_local_indicator_change_the_cards(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    today = date.today()
    request = build_request("fc-tendinitis-no-xr", "patient-view", today)
    plain = nodes_of(make_client().post(PV, json=request).json())
    assert {"initial-radiograph", "differential-diagnosis", "conservative-care"} <= set(plain)

    path = write(tmp_path, '[nodes.conservative-care]\nenabled = false\n[nodes.differential-diagnosis]\nindicator = "critical"\n')
    body = make_client(pathway_config=path).post(PV, json=request).json()
    local = nodes_of(body)
    assert "conservative-care" not in local
    assert local["differential-diagnosis"]["indicator"] == "critical"
    # Cards stay ordered critical first.
    assert body["cards"][0]["source"]["topic"]["code"] == "differential-diagnosis"
    # Everything else is as before.
    assert local["initial-radiograph"] == plain["initial-radiograph"]


def test_local_order_codes_are_added_or_replace_the_standard_one(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    request = build_request("fc-mass-undetermined", "patient-view", date.today())
    path = write(tmp_path, f"""
[orderables.lab-phosphate]
system = "{LOCAL_CATALOG}"
code = "LAB-PO4"
display = "Phosphate (local)"
[orderables.lab-pth]
system = "{LOCAL_CATALOG}"
code = "LAB-PTH"
display = "PTH (local)"
mode = "replace"
""")
    card = nodes_of(make_client(pathway_config=path).post(PV, json=request).json())["metabolic-workup"]
    coded = codings_of(card)
    assert [(LOINC, "2777-1"), (LOCAL_CATALOG, "LAB-PO4")] in coded  # phosphate: both
    assert [(LOCAL_CATALOG, "LAB-PTH")] in coded  # PTH: the local code only
    assert not any((LOINC, "2731-8") in codings for codings in coded)
    # The rest of the card is unchanged.
    plain = nodes_of(make_client().post(PV, json=request).json())["metabolic-workup"]
    assert (card["summary"], card["detail"], card["uuid"]) == (plain["summary"], plain["detail"], plain["uuid"])


def test_a_draft_under_a_replaced_local_code_is_recognised(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    """fc-ckd-metastatic drafts a calcium already resulted this week: the duplicate-lab card fires. With the
    draft coded only in the local catalog, the mapping must still recognise it."""
    request = build_request("fc-ckd-metastatic", "order-sign", date.today())
    for entry in request["context"]["draftOrders"]["entry"]:
        code = entry["resource"].get("code", {})
        if any(c.get("code") == "17861-6" for c in code.get("coding", [])):
            entry["resource"]["code"] = {"coding": [{"system": LOCAL_CATALOG, "code": "LAB-CA"}], "text": "Ca"}
            break
    else:
        raise AssertionError("the fixture no longer drafts a calcium")
    assert "metabolic-workup" not in nodes_of(make_client().post(SIGN, json=request).json())
    path = write(tmp_path, f'[orderables.lab-calcium]\nsystem = "{LOCAL_CATALOG}"\ncode = "LAB-CA"\ndisplay = "Ca"\nmode = "replace"\n')
    cards = nodes_of(make_client(pathway_config=path).post(SIGN, json=request).json())
    assert "Duplicate lab" in cards["metabolic-workup"]["summary"]


def test_local_override_reasons_reach_the_cards_and_the_code_system(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    request = build_request("fc-tendinitis-no-xr", "patient-view", date.today())
    path = write(tmp_path, '[override_reasons.patient-declined]\ndisplay = "Patient declined"\nnodes = ["initial-radiograph"]\n')
    client = make_client(pathway_config=path)
    cards = nodes_of(client.post(PV, json=request).json())
    reasons = cards["initial-radiograph"]["overrideReasons"]
    assert reasons[-1] == {"system": "http://testserver/override-reason", "code": "patient-declined", "display": "Patient declined"}
    assert {r["code"] for r in reasons[:-1]} <= {"done-elsewhere", "urgent-clinical-need", "other"} and len(reasons) > 1
    assert "overrideReasons" not in cards["differential-diagnosis"]
    codes = {c["code"]: c["display"] for c in client.get("/override-reason").json()["concept"]}
    assert codes["patient-declined"] == "Patient declined" and "other" in codes


def test_node_page_shows_what_is_locally_changed(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    path = write(tmp_path, f"""
snooze_days = 10
[nodes.initial-radiograph]
indicator = "critical"
comment = "Radiology asked for it"
[orderables.xr-foot-3-views]
system = "{LOCAL_CATALOG}"
code = "RAD-0042"
display = "XR foot, 3 views (local)"
[override_reasons.patient-declined]
display = "Patient declined"
nodes = ["initial-radiograph"]
[nodes.conservative-care]
enabled = false
""")
    client = make_client(pathway_config=path)
    page = client.get("/pathway/initial-radiograph").text
    local = page[page.index('id="local-changes"'):]
    assert "Plain radiographs are the first-line imaging modality" in page  # the seed citation stays
    assert "critical" in local and "warning" in local and "Radiology asked for it" in local
    assert "RAD-0042" in local and "XR foot, 3 views (local)" in local and "beside" in local
    assert "patient-declined" in local and "Patient declined" in local
    assert "never snoozed" in local  # critical now, and critical cards are not snoozed by default
    assert "for 10 days" in client.get("/pathway/repeat-radiograph").text
    off = client.get("/pathway/conservative-care").text
    assert "turned off" in off[off.index('id="local-changes"'):]
    index = client.get("/pathway").text
    assert "turned off" in index
    # Without a local file, pages say so.
    assert "No local changes" in make_client().get("/pathway/initial-radiograph").text


def test_pathway_check_lists_the_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, f"""
imaging_lookback_days = 60
snooze_days = 0
[ranges.calcium]
high = 10.2
[nodes.conservative-care]
enabled = false
[nodes.metabolic-cause]
indicator = "critical"
[orderables.lab-pth]
system = "{LOCAL_CATALOG}"
code = "LAB-PTH"
display = "PTH (local)"
mode = "replace"
[override_reasons.patient-declined]
display = "Patient declined"
""")
    assert main(["pathway", "check", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}: valid; 8 change(s) from the packaged pathway"
    body = "\n".join(out[1:])
    assert "setting imaging_lookback_days = 60 (packaged default 90, spec)" in body
    assert "setting snooze_days = 0 (packaged default 30, local default)" in body
    assert "range calcium: 8.5-10.2 mg/dL (packaged default 8.5-10.5 mg/dL)" in body
    assert "node conservative-care: turned off" in body
    assert "node metabolic-cause: indicator critical (nodes.toml: warning)" in body
    assert f"orderable lab-pth: local code {LOCAL_CATALOG}|LAB-PTH 'PTH (local)' replaces http://loinc.org|2731-8" in body
    assert "override reason patient-declined 'Patient declined': on every node" in body


def test_pathway_check_refuses_a_bad_file_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pathway", "check", str(write(tmp_path, "[nodes.nope]\nenabled = false\n"))]) == 2
    err = capsys.readouterr().err
    assert err == (
        "cds-service pathway check: pathway.toml: nodes.nope: unknown node; the nodes are "
        f"{[n.id for n in pathway_spec().nodes]}\n"
    )
    assert main(["pathway", "check", str(tmp_path / "absent.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["pathway", "check", str(write(tmp_path, "[nodes\n"))]) == 2
    assert "is not valid TOML" in capsys.readouterr().err


def test_serve_refuses_to_start_naming_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from cds_service.settings import get_settings

    monkeypatch.setenv("CDS_AUTH_MODE", "disabled")
    monkeypatch.setenv("CDS_PATHWAY_CONFIG", str(write(tmp_path, "[nodes.conservative-cares]\nenabled = false\n")))
    get_settings.cache_clear()
    try:
        assert main(["serve", "--port", "1"]) == 2
    finally:
        get_settings.cache_clear()
    (line,) = capsys.readouterr().err.splitlines()
    assert "cannot start: CDS_PATHWAY_CONFIG: pathway.toml: nodes.conservative-cares: unknown node" in line
