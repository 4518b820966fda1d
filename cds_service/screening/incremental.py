"""Incremental screening: a state folder holding the export as of the last run, updated from a `_since`
export (its output[] replaces resources by type and id, its deleted[] removes them), so a run downloads only
what changed and still screens the whole population as a full export would.

    STATE/state.json     {"server": origin and path of the FHIR base, "group": id or null, "transactionTime"}
    STATE/export/        one NDJSON file per type + manifest.json: what FileExport reads

The next `_since` is the manifest's `transactionTime` (the IG: the time the export's data is as of), stored
only once the merged export is in place, so an interrupted merge is redone from the old state.
Memory is the delta's size: an old file is streamed, only lines whose id the delta names are dropped.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from cds_service.screening.source import ExportError, FileExport, read_lines

__all__ = ["StateError", "apply_delta", "last_transaction_time"]


class StateError(ValueError):
    """The state folder is not one this run can use (another server or group, unreadable)."""


def _state_file(state: Path) -> Path:
    return state / "state.json"


def last_transaction_time(state: Path, server: str, group: str | None) -> str | None:
    """The `_since` of the next run: the last merged export's transactionTime; None on a first run."""
    path = _state_file(state)
    if not path.exists():
        return None
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        raise StateError(f"{path.name}: not readable JSON") from None
    if stored.get("server") != server or stored.get("group") != group:
        raise StateError("the state folder belongs to another FHIR server or group")
    if not (state / "export" / "manifest.json").exists():
        return None  # a merge interrupted between its two renames: start again from a full export
    when = stored.get("transactionTime")
    return when if isinstance(when, str) else None


def _id(line: bytes) -> str | None:
    try:
        resource = json.loads(line)
    except ValueError:
        return None
    value = resource.get("id") if isinstance(resource, dict) else None
    return value if isinstance(value, str) else None


def _deleted(folder: Path, manifest: dict[str, Any]) -> set[tuple[str, str]]:
    """(type, id) of every DELETE entry of the deleted[] Bundles."""
    gone: set[tuple[str, str]] = set()
    for entry in manifest.get("deleted") or []:
        with (folder / entry["url"]).open("rb") as handle:
            for _number, line in read_lines(handle):
                if not line.strip():
                    continue
                bundle = json.loads(line)
                for item in bundle.get("entry") or []:
                    request = item.get("request") or {}
                    kind, _, rid = str(request.get("url", "")).partition("/")
                    if request.get("method") == "DELETE" and kind and rid:
                        gone.add((kind, rid.split("/", 1)[0]))
    return gone


def apply_delta(state: Path, delta: Path, manifest: dict[str, Any], server: str, group: str | None) -> FileExport:
    """Merges the downloaded export in `delta` (its local manifest.json names the files) into STATE/export and
    records its transactionTime; returns the merged export."""
    local = json.loads((delta / "manifest.json").read_text())
    old = state / "export"
    new = state / "export.new"
    shutil.rmtree(new, ignore_errors=True)
    new.mkdir(parents=True)
    gone = _deleted(delta, local)
    changed: dict[str, dict[str, bytes]] = {}  # type -> id -> line (the delta's last line for an id wins)
    for entry in local.get("output") or []:
        with (delta / entry["url"]).open("rb") as handle:
            for _number, line in read_lines(handle):
                rid = _id(line) if line.strip() else None
                if rid is not None:
                    changed.setdefault(entry["type"], {})[rid] = line
    types = sorted({p.name.split(".", 1)[0] for p in old.glob("*.ndjson")} | set(changed)) if old.exists() else sorted(changed)
    output = []
    for kind in types:
        fresh = changed.get(kind, {})
        previous = old / f"{kind}.ndjson"
        if not fresh and not any(k == kind for k, _ in gone) and previous.exists():
            shutil.copyfile(previous, new / previous.name)  # untouched type: no line to look at
            with previous.open("rb") as handle:
                count = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
            output.append({"type": kind, "url": previous.name, "count": count})
            continue
        count = 0
        with (new / f"{kind}.ndjson").open("wb") as out:
            if previous.exists():
                with previous.open("rb") as handle:
                    for _number, line in read_lines(handle):
                        rid = _id(line)
                        if rid is None or rid in fresh or (kind, rid) in gone:
                            continue
                        out.write(line + b"\n")
                        count += 1
            for rid, line in fresh.items():
                if (kind, rid) not in gone:
                    out.write(line + b"\n")
                    count += 1
        output.append({"type": kind, "url": f"{kind}.ndjson", "count": count})
    errors = []
    for entry in local.get("error") or []:  # this run's server errors travel with the merged export
        shutil.copyfile(delta / entry["url"], new / entry["url"])
        errors.append(entry)
    (new / "manifest.json").write_text(json.dumps({**{k: v for k, v in manifest.items() if k not in ("output", "error", "deleted")},
                                                   "output": output, "error": errors}, indent=1) + "\n")
    retired = state / "export.old"
    shutil.rmtree(retired, ignore_errors=True)
    if old.exists():
        old.replace(retired)
    new.replace(old)
    state_tmp = state / "state.json.tmp"
    state_tmp.write_text(json.dumps({"server": server, "group": group, "transactionTime": manifest.get("transactionTime")}) + "\n")
    state_tmp.replace(_state_file(state))
    shutil.rmtree(retired, ignore_errors=True)
    try:
        return FileExport([str(old)])
    except ExportError as exc:
        raise StateError(str(exc)) from None
