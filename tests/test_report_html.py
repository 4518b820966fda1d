"""`cds-service feedback report --html FILE`: one self-contained page with charts per node, the override
reasons, snoozed counts, and no patient data."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cds_service.cli import main
from cds_service.store.models import IssuedCard
from cds_service.reports.feedback_html import build_charts
from fhir_fixtures.hook_requests import build_request

PV = "/cds-services/foot-calcification-patient-view"
SECRET_COMMENT = "Mrs Example declined, see note 4711"


def test_the_page_has_charts_reasons_and_no_patient_data(tmp_path: Path, make_client: Callable[..., TestClient],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    database = f"sqlite:///{tmp_path}/report.db"
    client = make_client(database_url=database)
    cards = {}
    for patient in ("fc-tendinitis-no-xr", "fc-xr-ordered", "fc-tendinitis-no-xr"):
        request = build_request(patient, "patient-view", date.today())
        request["hookInstance"] = str(uuid.uuid4())
        response = client.post(PV, json=request).json()
        cards[patient] = {c["source"]["topic"]["code"]: c for c in response["cards"]}
    now = datetime.now(timezone.utc).isoformat()
    radiograph = cards["fc-tendinitis-no-xr"]["initial-radiograph"]
    conservative = cards["fc-xr-ordered"]["conservative-care"]
    feedback = [
        {"card": radiograph["uuid"], "outcome": "overridden", "outcomeTimestamp": now,
         "overrideReason": {"reason": radiograph["overrideReasons"][0], "userComment": SECRET_COMMENT}},
        {"card": conservative["uuid"], "outcome": "accepted", "outcomeTimestamp": now,
         "acceptedSuggestions": [{"id": conservative["suggestions"][0]["uuid"]}]},
    ]
    assert client.post(f"{PV}/feedback", json={"feedback": feedback}).status_code == 200
    # The third chart opening of the same patient: initial-radiograph is now snoozed.
    request = build_request("fc-tendinitis-no-xr", "patient-view", date.today())
    request["hookInstance"] = str(uuid.uuid4())
    assert "initial-radiograph" not in client.post(PV, json=request).text

    client.app.state.snooze.store.flush()  # the snoozed card is written in the background
    out = tmp_path / "report.html"
    assert main(["feedback", "report", "--html", str(out), "--database-url", database]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")

    # Self-contained: no script, no external resource of any kind.
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", page)
    assert "@import" not in page and "url(" not in page
    # No patient data: ids, hashes, card uuids, comments.
    with client.app.state.store.engine.connect() as connection:
        hashes = set(connection.scalars(select(IssuedCard.patient_hash)))
        uuids = set(connection.scalars(select(IssuedCard.uuid)))
    for secret in ("fc-tendinitis-no-xr", "fc-xr-ordered", SECRET_COMMENT, "4711", *hashes, *uuids):
        assert secret not in page
    # The numbers and the charts.
    row = re.search(r"<tr><td><a href=\"#node-initial-radiograph\">initial-radiograph</a></td>(.*?)</tr>", page)
    assert row and re.findall(r"<td>(\d+)</td>", row.group(1)) == ["2", "0", "1", "1", "1"]  # opened twice, then snoozed
    section = page[page.index('id="node-initial-radiograph"'):]
    section = section[: section.index("</section>")]
    assert section.count("<svg") == 1
    for key in ("issued", "accepted", "overridden", "snoozed"):
        assert f'class="series-{key}"' in section
    assert "snoozed: 1" in section and "overridden: 1" in section
    assert "done-elsewhere Radiograph already done elsewhere" in section
    assert page.count("<svg") == 1 + len(re.findall(r'<section class="node"', page))


def test_an_empty_store_writes_a_page_saying_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "empty.html"
    assert main(["feedback", "report", "--html", str(out), "--database-url", f"sqlite:///{tmp_path}/e.db"]) == 0
    assert "No cards issued yet." in out.read_text(encoding="utf-8")


def test_days_become_weeks_over_a_long_span() -> None:
    start = date(2026, 1, 5)  # a Monday
    events = {
        "issued": [("initial-radiograph", start + timedelta(days=d)) for d in (0, 1, 2, 70)],
        "accepted": [("initial-radiograph", start + timedelta(days=1))],
        "overridden": [],
        "snoozed": [("initial-radiograph", start + timedelta(days=71))],
    }
    charts, overall, weekly = build_charts(events)
    assert weekly
    chart = charts[0]
    assert chart.periods[0] == start and chart.periods[1] == start + timedelta(days=7)
    assert chart.counts["issued"][0] == 3 and chart.counts["issued"][10] == 1
    assert chart.counts["snoozed"][10] == 1 and sum(chart.counts["snoozed"]) == 1
    assert overall is not None and overall.counts["accepted"][0] == 1

    short = build_charts({"issued": [("x", start), ("x", start + timedelta(days=3))]})
    assert not short[2] and len(short[0][0].periods) == 4
