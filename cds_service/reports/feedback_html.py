"""`cds-service feedback report --html FILE`: one self-contained page for the pathway owners.

Per pathway node: cards issued, accepted, overridden and snoozed over time (inline SVG line charts, by day,
or by ISO week when the data spans more than `DAILY_MAX_DAYS`), the totals, and the override reasons with
how many cards each. No patient data: no patient hash, no card uuid, no user comment (free text may name
the patient); only node ids, counts, dates and the reason codes. No script, no external resource.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from cds_service.render.templates import page_env
from cds_service.settings import Settings
from cds_service.store.models import FeedbackRecord, IssuedCard
from cds_service.store.report import NO_NODE, NodeReport
from cds_service.store.snooze_report import snoozed_times
from cds_service.store.store import open_store

__all__ = ["DAILY_MAX_DAYS", "SERIES", "Chart", "build_charts", "render_html_report", "write_html_report"]

DAILY_MAX_DAYS = 62
SERIES = (  # (key, label, colour): colours that stay apart for colour-blind readers (Okabe-Ito)
    ("issued", "issued", "#0072B2"),
    ("accepted", "accepted", "#009E73"),
    ("overridden", "overridden", "#D55E00"),
    ("snoozed", "snoozed", "#CC79A7"),
)
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 220, 44, 40, 12, 40  # right: room for the last date


@dataclass
class Chart:
    """One node's counts per period, and the SVG geometry the template draws."""

    node_id: str
    periods: list[date]
    counts: dict[str, list[int]]
    lines: list[dict[str, Any]] = field(default_factory=list)
    y_ticks: list[dict[str, Any]] = field(default_factory=list)
    x_ticks: list[dict[str, Any]] = field(default_factory=list)


def _day(value: datetime) -> date:
    if value.tzinfo is None:  # SQLite returns naive datetimes; the store writes UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).date()


def _events(connection: Connection, service_id: str | None) -> dict[str, list[tuple[str, date]]]:
    """series -> (node, day) of each event. A card counts once per outcome, on its first such feedback."""
    node = func.coalesce(IssuedCard.node_id, NO_NODE)
    card_filter = [IssuedCard.service_id == service_id] if service_id else []
    events: dict[str, list[tuple[str, date]]] = {}
    events["issued"] = [(n, _day(t)) for n, t in connection.execute(select(node, IssuedCard.issued_at).where(*card_filter))]
    for outcome in ("accepted", "overridden"):
        query = (
            select(node, func.min(FeedbackRecord.outcome_timestamp))
            .join(IssuedCard, IssuedCard.uuid == FeedbackRecord.card_uuid)
            .where(FeedbackRecord.outcome == outcome, *card_filter)
            .group_by(node, FeedbackRecord.card_uuid)
        )
        events[outcome] = [(n, _day(t)) for n, t in connection.execute(query)]
    events["snoozed"] = [(n, _day(t)) for n, t in snoozed_times(connection, service_id=service_id)]
    return events


def _period_start(day: date, weekly: bool) -> date:
    return day - timedelta(days=day.weekday()) if weekly else day


def build_charts(events: dict[str, list[tuple[str, date]]]) -> tuple[list[Chart], Chart | None, bool]:
    """(a chart per node, the all-nodes chart, weekly?) over one shared time axis."""
    days = [day for series in events.values() for _, day in series]
    if not days:
        return [], None, False
    first, last = min(days), max(days)
    weekly = (last - first).days > DAILY_MAX_DAYS
    step = timedelta(days=7 if weekly else 1)
    periods = []
    current = _period_start(first, weekly)
    while current <= last:
        periods.append(current)
        current += step
    index = {period: i for i, period in enumerate(periods)}
    per_node: dict[str, dict[str, list[int]]] = defaultdict(lambda: {key: [0] * len(periods) for key, _, _ in SERIES})
    total = {key: [0] * len(periods) for key, _, _ in SERIES}
    for key, series in events.items():
        for node_id, day in series:
            slot = index[_period_start(day, weekly)]
            per_node[node_id][key][slot] += 1
            total[key][slot] += 1
    charts = [_geometry(Chart(node_id, periods, per_node[node_id])) for node_id in sorted(per_node)]
    return charts, _geometry(Chart("all nodes", periods, total)), weekly


def _geometry(chart: Chart) -> Chart:
    top = max([1, *(max(values) for values in chart.counts.values())])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(chart.periods)

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: int) -> float:
        return TOP + plot_h * (1 - v / top)

    for key, label, colour in SERIES:
        values = chart.counts[key]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        dots = [{"x": f"{x(i):.1f}", "y": f"{y(v):.1f}", "title": f"{chart.periods[i].isoformat()}: {v} {label}"}
                for i, v in enumerate(values) if v]
        chart.lines.append({"key": key, "label": label, "colour": colour, "points": points, "dots": dots,
                            "total": sum(values)})
    steps = sorted({0, top, *(round(top * k / 4) for k in range(1, 4))})
    chart.y_ticks = [{"y": f"{y(v):.1f}", "label": v} for v in steps]
    every = max(1, n // 8)
    chart.x_ticks = [{"x": f"{x(i):.1f}", "label": chart.periods[i].isoformat()} for i in range(0, n, every)]
    return chart


def render_html_report(connection: Connection, report: list[NodeReport], *, service_id: str | None,
                       generated: datetime | None = None) -> str:
    charts, overall, weekly = build_charts(_events(connection, service_id))
    by_node = {r.node_id: r for r in report}
    reasons = Counter()
    for r in report:
        for reason in r.override_reasons:
            reasons[reason.label()] += reason.cards
    return page_env().get_template("pages/feedback_report.html.j2").render(
        report=report,
        by_node=by_node,
        charts=charts,
        overall=overall,
        weekly=weekly,
        series=SERIES,
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        bottom=HEIGHT - BOTTOM,
        right=WIDTH - RIGHT,
        service_id=service_id,
        generated=(generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"),
        totals={key: sum(getattr(r, attr) for r in report) for key, attr in
                (("issued", "issued"), ("accepted", "accepted"), ("overridden", "overridden"),
                 ("snoozed", "snoozed"), ("without_feedback", "without_feedback"))},
        reasons=reasons.most_common(),
    )


def write_html_report(settings: Settings, path: Path, *, service_id: str | None = None) -> int:
    store = open_store(settings)
    try:
        report = store.feedback_report(service_id=service_id)
        with store.engine.connect() as connection:
            page = render_html_report(connection, report, service_id=service_id)
    finally:
        store.close()
    path.write_text(page, encoding="utf-8")
    print(f"wrote {path} ({len(report)} node(s))")
    return 0
