"""The screen's output folder, built in a temporary folder beside it and renamed into place when complete.

    DetectedIssue.ndjson, GuidanceResponse.ndjson   one pair per gap (FHIR R4, importable)
    gaps.csv, gaps.parquet                          the flat gap list
    findings.ndjson                                 per judged patient: the cards' nodes and suggestions
    data-issues.csv                                 every input problem with its file and line
    summary.json, report.html                       the counts, and the same with plots
    manifest.json                                   the files above, with their sizes and sha256
Everything here is a function of the export, the date and the configuration: two engines give the same
bytes. How the run went (engine, seconds) is printed and kept in the work folder, not here.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from cds_service.screening.gaps import PATHWAY_ID, pathway_version
from cds_service.screening.split import EXAMPLES, FileReport

__all__ = ["GAP_COLUMNS", "write_outputs", "one_screen"]

JSON = dict[str, Any]
GAP_COLUMNS = ("patient", "node", "kind", "status", "evidence", "reason", "codes", "due", "overdue_days",
               "evidence_ids")
PARQUET_BATCH = 5000  # gap rows per Parquet row group: the driver holds at most this many
OVERDUE_BUCKETS = ((30, "0-30 days"), (90, "31-90 days"), (180, "91-180 days"), (365, "181-365 days"))


def _overdue_bucket(days: int | None) -> str:
    if days is None:
        return "undated"
    for limit, label in OVERDUE_BUCKETS:
        if days <= limit:
            return label
    return "over 1 year"


def _gap_row(gap: JSON) -> list[Any]:
    return [gap["patient"], gap["node"], gap["kind"], gap["status"], gap["evidence"], gap["reason"],
            ";".join(gap["codes"]), gap["due"], gap["overdue_days"], ";".join(gap["evidence_ids"])]


def write_outputs(out: Path, reports: list[FileReport], results: list[Path], *, today: str) -> JSON:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = out.resolve()
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    counts: Counter = Counter()
    issue_kinds: Counter = Counter()
    examples: dict[str, list[JSON]] = {}
    why: Counter = Counter()
    per_node: Counter = Counter()
    per_status: dict[str, Counter] = {}
    open_by_kind: Counter = Counter()
    open_by_evidence: Counter = Counter()
    overdue: Counter = Counter()
    fhir_counts: Counter = Counter()
    schema = pa.schema([(name, pa.int64() if name == "overdue_days" else pa.string()) for name in GAP_COLUMNS])

    def add_issue(kind: str, name: str, line: int, detail: str, writer: Any) -> None:
        issue_kinds[kind] += 1
        if len(examples.setdefault(kind, [])) < EXAMPLES:
            examples[kind].append({"file": name, "line": line, "detail": detail})
        writer.writerow([kind, name, line, detail])

    with (open(tmp / "DetectedIssue.ndjson", "wb") as detected, open(tmp / "GuidanceResponse.ndjson", "wb") as guidance,
          open(tmp / "gaps.csv", "w", newline="") as gaps_csv, open(tmp / "findings.ndjson", "wb") as findings,
          open(tmp / "data-issues.csv", "w", newline="") as issues_csv,
          pq.ParquetWriter(tmp / "gaps.parquet", schema) as parquet):
        rows: list[list[Any]] = []

        def write_rows() -> None:
            if rows:
                parquet.write_table(pa.Table.from_pylist([dict(zip(GAP_COLUMNS, r)) for r in rows], schema=schema))
                rows.clear()

        gap_writer = csv.writer(gaps_csv)
        gap_writer.writerow(GAP_COLUMNS)
        issue_writer = csv.writer(issues_csv)
        issue_writer.writerow(["kind", "file", "line", "detail"])
        for report in reports:
            for kind, name, line, detail in report.issues:
                add_issue(kind, name, line, detail, issue_writer)
        for path in results:
            part = orjson.loads(path.read_bytes())
            counts.update(part["counts"])
            for kind, name, line, detail in part["issues"]:
                add_issue(kind, name, line, detail, issue_writer)
            stem = path.name.removesuffix(".json")
            with open(path.with_name(stem + ".fhir.ndjson"), "rb") as fhir:
                for i, line in enumerate(fhir):  # DetectedIssue, GuidanceResponse, in turn
                    (detected if i % 2 == 0 else guidance).write(line)
                    fhir_counts["DetectedIssue" if i % 2 == 0 else "GuidanceResponse"] += 1
            with open(path.with_name(stem + ".patients.ndjson"), "rb") as patient_lines:
                for raw in patient_lines:  # one judged patient at a time
                    patient = orjson.loads(raw)
                    findings.write(orjson.dumps({k: patient[k] for k in ("patient", "status", "why", "findings")}) + b"\n")
                    why.update(patient["why"])
                    for finding in patient["findings"]:
                        per_node[finding["node"]] += 1
                    for gap in patient["gaps"]:
                        per_status.setdefault(gap["node"], Counter())[gap["status"]] += 1
                        if gap["status"] == "open-gap":
                            open_by_kind[gap["kind"]] += 1
                            open_by_evidence[gap["evidence"]] += 1
                            overdue[_overdue_bucket(gap["overdue_days"])] += 1
                        row = _gap_row(gap)
                        gap_writer.writerow(row)
                        rows.append(row)
                    if len(rows) >= PARQUET_BATCH:
                        write_rows()
        write_rows()
    screened = counts["outside"] + counts["in-pathway"] + counts["not-evaluable"]
    summary: JSON = {
        "pathway": {"id": PATHWAY_ID, "version": pathway_version()},
        "evaluated_on": today,
        "patients": {
            "screened": screened,
            "in_pathway": counts["in-pathway"],
            "outside_pathway": counts["outside"],
            "not_evaluable": counts["not-evaluable"] + counts["unknown-patient"],
            "not_fully_evaluable": counts["not-fully-evaluable"],
            "unknown_patient_references": counts["unknown-patient"],
            "why_not_fully_evaluable": dict(sorted(why.items())),
        },
        "findings_per_node": dict(sorted(per_node.items())),
        "gaps_per_node": {node: dict(sorted(c.items())) for node, c in sorted(per_status.items())},
        "open_gaps_by_kind": dict(sorted(open_by_kind.items())),
        "open_gaps_by_evidence": dict(sorted(open_by_evidence.items())),
        "open_gaps_overdue": {label: overdue[label] for _, label in OVERDUE_BUCKETS} | {
            "over 1 year": overdue["over 1 year"], "undated": overdue["undated"]},
        "data_quality": {
            "files": len([r for r in reports if not r.error_file]),
            "lines": sum(r.lines for r in reports if not r.error_file),
            "lines_kept": sum(r.kept for r in reports),
            "lines_not_read_by_the_pathway": dict(sorted(sum((r.not_read for r in reports), Counter()).items())),
            "error_files": len([r for r in reports if r.error_file]),
            "error_file_entries": sum(r.lines for r in reports if r.error_file),
            "issues": dict(sorted(issue_kinds.items())),
            "examples": {k: v for k, v in sorted(examples.items())},
        },
        "fhir_resources": dict(sorted(fhir_counts.items())),
    }
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (tmp / "report.html").write_text(report_html(summary))
    manifest = {
        "pathway": summary["pathway"],
        "evaluated_on": today,
        "output": [{"type": kind, "url": f"{kind}.ndjson", "count": fhir_counts[kind]}
                   for kind in ("DetectedIssue", "GuidanceResponse")],
        "files": [
            {"name": p.name, "bytes": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
            for p in sorted(tmp.iterdir())
        ],
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)
    return summary


def _bars(title: str, items: dict[str, int]) -> str:
    """A horizontal bar chart as inline SVG (no script, no external file)."""
    items = {k: v for k, v in items.items()}
    if not items:
        return f"<h3>{html.escape(title)}</h3><p>none</p>"
    top = max(items.values()) or 1
    height = 22 * len(items) + 10
    rows = []
    for i, (label, value) in enumerate(items.items()):
        width = int(360 * value / top)
        y = 5 + 22 * i
        rows.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(str(label))}</text>'
                    f'<rect x="230" y="{y}" width="{width}" height="16" fill="#3b6ea8"/>'
                    f'<text x="{236 + width}" y="{y + 13}" font-size="12">{value}</text>')
    return (f"<h3>{html.escape(title)}</h3><svg xmlns='http://www.w3.org/2000/svg' width='680' height='{height}' "
            f"role='img' aria-label='{html.escape(title)}'>{''.join(rows)}</svg>")


def report_html(summary: JSON) -> str:
    patients = summary["patients"]
    quality = summary["data_quality"]
    statuses: Counter = Counter()
    for counts in summary["gaps_per_node"].values():
        statuses.update(counts)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Population screening</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:2px 8px;text-align:left}</style>",
        "</head><body>",
        f"<h1>Population screening: {html.escape(summary['pathway']['id'])} {html.escape(summary['pathway']['version'])}</h1>",
        f"<p>Evaluated on {html.escape(summary['evaluated_on'])}.</p>",
        _bars("Patients", {"screened": patients["screened"], "in the pathway": patients["in_pathway"],
                           "outside the pathway": patients["outside_pathway"],
                           "not evaluable": patients["not_evaluable"],
                           "not fully evaluable": patients["not_fully_evaluable"]}),
        _bars("Cards per node (what patient-view would show)", summary["findings_per_node"]),
        _bars("Gaps by status", dict(sorted(statuses.items()))),
        _bars("Open gaps by kind", summary["open_gaps_by_kind"]),
        _bars("Open gaps: what the export shows", summary["open_gaps_by_evidence"]),
        _bars("Open gaps: days since the in-pathway problem was recorded", summary["open_gaps_overdue"]),
        _bars("Data quality: input problems", quality["issues"]),
        _bars("Why patients are not fully evaluable", patients["why_not_fully_evaluable"]),
        "<h3>Data quality</h3><table>",
        *(f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>{html.escape(str(v))}</td></tr>"
          for k, v in quality.items() if k != "examples"),
        "</table><h3>Examples (file and line)</h3><table><tr><th>kind</th><th>file</th><th>line</th><th>detail</th></tr>",
        *(f"<tr><td>{html.escape(kind)}</td><td>{html.escape(e['file'])}</td><td>{e['line']}</td>"
          f"<td>{html.escape(e['detail'])}</td></tr>" for kind, items in quality["examples"].items() for e in items[:5]),
        "</table></body></html>\n",
    ]
    return "\n".join(parts)


def one_screen(summary: JSON, *, out: Path, seconds: float, engine: str) -> str:
    p, q = summary["patients"], summary["data_quality"]
    buffer = io.StringIO()
    w = buffer.write
    w(f"screened {p['screened']} patients in {seconds:.1f} s ({engine}): {p['in_pathway']} in the pathway, "
      f"{p['outside_pathway']} outside, {p['not_evaluable']} not evaluable, {p['not_fully_evaluable']} not fully evaluable\n")
    for node, counts in summary["gaps_per_node"].items():
        w(f"  {node:<24} " + ", ".join(f"{k} {v}" for k, v in counts.items()) + "\n")
    others = {n: c for n, c in summary["findings_per_node"].items() if n not in summary["gaps_per_node"]}
    if others:
        w("  other cards: " + ", ".join(f"{n} {c}" for n, c in others.items()) + "\n")
    w(f"open gaps by evidence: {summary['open_gaps_by_evidence'] or 'none'}\n")
    w(f"input: {q['files']} files, {q['lines']} lines, {q['error_files']} error files; problems: "
      f"{q['issues'] or 'none'} (data-issues.csv lists each with its file and line)\n")
    w(f"outputs in {out}: DetectedIssue/GuidanceResponse NDJSON, gaps.csv, gaps.parquet, summary.json, report.html\n")
    return buffer.getvalue()
