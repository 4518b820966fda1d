"""The sandbox page in a real headless Chromium (Debian's /usr/bin/chromium, driven by npm playwright-core):
a real `cds-service serve` on a free port; open the page, pick a fixture, see its cards the way an EHR
shows them, dismiss one with a reason, and find the feedback stored (`cds-service feedback report --json`).

Skips locally without chromium or playwright-core; FAILS under CI=true, so CI cannot pass untested.
Install both with `make test-deps` (tests/browser/ensure-chromium.sh, `npm ci --prefix tests/browser`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.serve_process import Served, served

FIXTURE_PATIENTS = "fhir_fixtures.sandbox:PATIENTS"  # what `make serve` offers (CDS_SANDBOX_PATIENTS)

BROWSER_DIR = Path(__file__).resolve().parent / "browser"
CHROMIUM = Path("/usr/bin/chromium")
# README: initial-radiograph (warning), conservative-care (info, carrying differential-diagnosis)
FIXTURE = "fc-tendinitis-no-xr"
DISMISS = "initial-radiograph"


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (Debian package 'chromium'; bash tests/browser/ensure-chromium.sh)"
    if shutil.which("node") is None:
        return "node is missing"
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is missing (npm ci --prefix tests/browser)"
    return None


@pytest.fixture(scope="module", autouse=True)
def _browser_available() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the sandbox browser test cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def served_sandbox() -> Iterator[Served]:
    """A real `cds-service serve`, auth disabled (so the sandbox is on by default)."""
    with served(log_level="warning", CDS_SANDBOX_PATIENTS=FIXTURE_PATIENTS) as server:
        yield server


def report(database: str) -> dict[str, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "cds_service", "feedback", "report", "--json", "--database-url", database],
        capture_output=True, text=True, timeout=120, check=True,
    )
    return {node["node_id"]: node for node in json.loads(result.stdout)["nodes"]}


def test_pick_a_fixture_see_its_cards_dismiss_one_and_find_the_feedback_stored(
    served_sandbox: Served, tmp_path: Path
) -> None:
    base, database = served_sandbox.base, served_sandbox.database_url
    result = subprocess.run(
        ["node", str(BROWSER_DIR / "sandbox.mjs"), base, FIXTURE, DISMISS, str(tmp_path / "sandbox.png")],
        capture_output=True, text=True, timeout=180, cwd=BROWSER_DIR,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout)

    # Nothing but the service itself was asked for (no CDN), and the page ran without errors.
    assert seen["external"] == []
    assert seen["errors"] == []
    assert "Calcific tendinitis" in seen["story"]

    cards = {card["node"]: card for card in seen["cards"]}
    assert {"initial-radiograph", "conservative-care"} <= set(cards)
    radiograph = cards[DISMISS]
    # As an EHR shows it: indicator and its colour, markdown rendered, the source link, suggestions, reasons.
    assert radiograph["indicator"] == "warning" and radiograph["colour"] == "rgb(230, 149, 0)"
    assert cards["conservative-care"]["colour"] == "rgb(31, 111, 178)"  # info
    assert radiograph["summary"].startswith("No foot radiograph in the last 90 days")
    assert "<p>" in radiograph["detailHtml"] and "**" not in radiograph["detailText"]
    assert "Plain radiographs are the first-line imaging modality" in radiograph["detailText"]
    assert radiograph["sourceHref"] == f"{base}/pathway/initial-radiograph"
    assert radiograph["suggestions"] and "CREATE" in radiograph["suggestions"][0].upper()
    assert "creates ServiceRequest/" in radiograph["suggestions"][0]
    assert radiograph["reasons"][0] == "Radiograph already done elsewhere"
    # The "Why?" view: every node listed, fired first, the fired ones exactly the nodes on the cards; one
    # that did not fire opens to its conditions, each answered (the failing one among them).
    why = seen["why"]
    carried = {node for card in json.loads(seen["rawResponse"])["cards"]
               for node in (card.get("extension") or {}).get("org.foot-calcification-cds.nodes", [card["source"]["topic"]["code"]])}
    fired = [n["node"] for n in why if n["outcome"] == "fired"]
    assert set(fired) == carried and why[: len(fired)] == [n for n in why if n["outcome"] == "fired"]
    assert len(why) == 14 and not any(n["open"] for n in why)
    opened = seen["whyOpened"]
    assert opened["open"] and opened["conditions"] and all(c["visible"] for c in opened["conditions"])
    assert any(not c["holds"] for c in opened["conditions"])
    assert all(": yes" in c["text"] or ": no" in c["text"] or ": unknown" in c["text"] for c in opened["conditions"])

    # Raw request and response are on the page.
    assert json.loads(seen["rawRequest"])["context"]["patientId"] == FIXTURE
    assert [c["uuid"] for c in json.loads(seen["rawResponse"])["cards"]] == [c["uuid"] for c in seen["cards"]]

    # Dismissed with a reason: the real feedback endpoint stored it.
    assert seen["dismissedWith"] == "Radiograph already done elsewhere"
    assert seen["feedbackStatus"].startswith("Feedback stored: dismissed (Radiograph already done elsewhere)")
    stored = report(database)[DISMISS]
    assert (stored["issued"], stored["overridden"]) == (1, 1)
    assert [(r["code"], r["cards"]) for r in stored["override_reasons"]] == [("done-elsewhere", 1)]

    # Run again: the dismissed node is snoozed for this patient, and the report counts it.
    assert DISMISS not in seen["cardsAfter"] and "conservative-care" in seen["cardsAfter"]
    deadline = time.monotonic() + 10  # the server records a snoozed card off the answer's path
    while report(database)[DISMISS]["snoozed"] != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert report(database)[DISMISS]["snoozed"] == 1
