"""Pass 1, one task per export file: every line appended, unparsed, to one of N spill partitions on disk,
chosen by the crc32 of its patient's id. All of a patient's lines meet in one partition whatever file they
came from, without a shuffle of the engine: the partitions are plain files, bounded by N, and a file once
split stays split (its folder is renamed into place when complete: the checkpoint).

Spill record: `<patient id>\\t<file index>\\t<line number>\\t<P a Patient, X a damaged line, else ->\\t<the line>\\n`.

Only lines of types some prefetch query reads are kept (`prefilter.queried_types`); the others are counted.
A Patient line is parsed (one per patient: its id must be exact); any other line only when the byte search
finds no patient reference in it, to tell a line without one from a line the search could not read.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from cds_service.screening.prefilter import fast_path as _fast_path
from cds_service.screening.prefilter import patient_key, patient_key_in, queried_types, resource_type_of, valid_id
from cds_service.screening.prefetch import patient_reference_id
from cds_service.screening.source import ExportFile, ExportSource, read_chunks

__all__ = ["FileReport", "partition_of", "split_file", "spill_dir"]

FLUSH_BYTES = 1 << 20  # per partition buffer: memory stays ~N MiB whatever the file's size
EXAMPLES = 20  # issues of one kind listed with file and line in the summary (all are in data-issues.csv)


@dataclass(slots=True)
class FileReport:
    index: int
    name: str
    resource_type: str | None
    lines: int = 0
    kept: int = 0
    not_read: Counter = field(default_factory=Counter)  # resource type -> lines no query reads
    issues: list[tuple[str, str, int, str]] = field(default_factory=list)  # (kind, file, line, detail)
    error_file: bool = False

    def to_json(self) -> dict:
        return {"index": self.index, "name": self.name, "resource_type": self.resource_type, "lines": self.lines,
                "kept": self.kept, "not_read": dict(self.not_read), "issues": self.issues,
                "error_file": self.error_file}

    @classmethod
    def from_json(cls, data: dict) -> FileReport:
        return cls(index=data["index"], name=data["name"], resource_type=data["resource_type"], lines=data["lines"],
                   kept=data["kept"], not_read=Counter(data["not_read"]),
                   issues=[tuple(i) for i in data["issues"]], error_file=data["error_file"])


def partition_of(patient_id: str, partitions: int) -> int:
    return zlib.crc32(patient_id.encode("ascii")) % partitions


def spill_dir(work: Path, index: int) -> Path:
    return work / "spill" / f"f{index:05d}"


def _parsed_patient(line: bytes) -> tuple[str | None, dict | None]:
    try:
        resource = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, None
    return (resource.get("id") if isinstance(resource, dict) else None), resource if isinstance(resource, dict) else None


def split_file(source: ExportSource, file: ExportFile, work: Path, partitions: int) -> FileReport:
    """Split one file (idempotent: a file already split is not read again)."""
    done = spill_dir(work, file.index)
    if (done / "report.json").exists():
        return FileReport.from_json(json.loads((done / "report.json").read_text()))
    report = FileReport(index=file.index, name=file.name, resource_type=file.resource_type, error_file=file.error_file)
    tmp = done.with_name(done.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    buffers: dict[int, list[bytes]] = {}
    sizes: Counter = Counter()
    handles: dict[int, object] = {}

    def flush(part: int) -> None:
        if part not in handles:
            handles[part] = open(tmp / f"p{part:04d}.ndjson", "ab")  # noqa: SIM115 - closed below
        handles[part].write(b"".join(buffers.pop(part)))  # type: ignore[attr-defined]
        sizes[part] = 0

    def issue(kind: str, line: int, detail: str = "") -> None:
        report.issues.append((kind, file.name, line, detail))

    wanted = queried_types()
    expected = file.resource_type
    fast = _fast_path(expected)
    number = 0

    def one_line(number: int, raw: bytes) -> None:
        line = raw.strip()
        if not line:
            return
        report.lines += 1
        if file.error_file:
            return  # OperationOutcomes of the export: counted as the server's errors
        if not (line.startswith(b"{") and line.endswith(b"}")):
            issue("malformed-line", number, "not one JSON object (truncated?)")
            # Whose line it was, when the bytes still say: that patient is judged without it and
            # reported as not fully evaluable (flag X: the line itself is never used).
            damaged = patient_key(line)
            if damaged is not None:
                part = partition_of(damaged, partitions)
                buffers.setdefault(part, []).append(b"%s\t%d\t%d\tX\t\n" % (damaged.encode("ascii"), file.index, number))
            return
        kind = resource_type_of(line)
        if kind is None:
            issue("malformed-line", number, "no resourceType")
            return
        if expected is not None and kind != expected:
            issue("type-mismatch", number, f"{kind} in a {expected} file")
        if kind not in wanted:
            report.not_read[kind] += 1
            return
        if kind == "Patient":
            key, parsed = _parsed_patient(line)
            if parsed is None:
                issue("malformed-line", number, "not valid JSON")
                return
            if not valid_id(key):
                issue("no-patient-reference", number, "Patient without a valid id")
                return
        else:
            key = patient_key(line)
            if key is None:
                try:
                    parsed = orjson.loads(line)
                except orjson.JSONDecodeError:
                    issue("malformed-line", number, "not valid JSON")
                    return
                key = patient_reference_id(parsed) if isinstance(parsed, dict) else None
                if not valid_id(key):
                    issue("no-patient-reference", number, f"{kind} without a Patient subject")
                    return
        part = partition_of(key, partitions)
        flag = b"P" if kind == "Patient" else b"-"
        record = b"%s\t%d\t%d\t%s\t%s\n" % (key.encode("ascii"), file.index, number, flag, line)
        buffers.setdefault(part, []).append(record)
        sizes[part] += len(record)
        report.kept += 1
        if sizes[part] >= FLUSH_BYTES:
            flush(part)

    try:
        with source.open(file) as stream:
            for first, count, chunk in read_chunks(stream):
                number = first + count - 1
                if fast is not None and not file.error_file and fast.uniform(chunk, count):
                    # Every line is one framed object of the file's type: only lines a query can return
                    # (a byte search over the whole chunk, in C) are looked at one by one.
                    report.lines += count
                    candidates = fast.candidates(chunk)
                    report.not_read[expected] += count - len(candidates)
                    at, line_number = 0, first
                    framed = expected != "Patient"  # a Patient line is parsed: its id must be exact
                    count_lines, line_end, crc32, index = chunk.count, chunk.index, zlib.crc32, file.index
                    for offset in candidates:  # in order: line numbers counted forward, once
                        line_number += count_lines(b"\n", at, offset)
                        at = offset
                        end = line_end(b"\n", offset)
                        # A uniform chunk's line is a framed object of the expected (queried) type: what
                        # `one_line` would check first is known, so only its patient is searched, in place.
                        key = patient_key_in(chunk, offset, end) if framed else None
                        if key is None:
                            one_line(line_number, chunk[offset:end])
                            report.lines -= 1  # counted with the chunk above
                            continue
                        part = crc32(key) % partitions  # = partition_of(key.decode())
                        record = b"%s\t%d\t%d\t-\t%s\n" % (key, index, line_number, chunk[offset:end])
                        kept = buffers.get(part)
                        if kept is None:
                            kept = buffers[part] = []
                        kept.append(record)
                        size = sizes[part] = sizes[part] + len(record)
                        report.kept += 1
                        if size >= FLUSH_BYTES:
                            flush(part)
                    continue
                for i, raw in enumerate(chunk.split(b"\n")[:count]):
                    one_line(first + i, raw)
    except (EOFError, zlib.error, OSError) as exc:  # gzip.BadGzipFile is an OSError
        issue("corrupt-file", number + 1, f"unreadable from here ({type(exc).__name__})")
    for part in list(buffers):
        flush(part)
    for handle in handles.values():
        handle.close()  # type: ignore[attr-defined]
    if report.lines == 0 and not any(i[0] == "corrupt-file" for i in report.issues):
        issue("empty-file", 0, "no lines")
    (tmp / "report.json").write_text(json.dumps(report.to_json()))
    shutil.rmtree(done, ignore_errors=True)
    os.replace(tmp, done)
    return report
