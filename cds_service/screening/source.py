"""Where an export's NDJSON comes from: a folder, or a list of paths/URLs (anything fsspec opens).

`ExportSource` is the interface the screen reads through: a list of `ExportFile`s and a way to open one as
decompressed bytes. `FileExport` implements it over files; a Bulk Data client (issue 18) can implement it
over a server's complete-status manifest without the rest of the screen changing. Everything here is
picklable: the Dask and process-pool workers open the files themselves.

The resource type of a file comes from the export's manifest when the folder has one (the complete-status
JSON: `output[].type`), else from the file name as Bulk Data servers and clients write it
(`Observation.ndjson`, `Observation.003.ndjson.gz`, `1.Observation.ndjson`). Files listed under the
manifest's `error[]` (or in an `error/` folder) are OperationOutcomes: counted, never screened.
"""

from __future__ import annotations

import json
import posixpath
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

import fsspec

__all__ = ["ExportError", "ExportFile", "ExportSource", "FileExport", "read_chunks", "read_lines"]

NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
MANIFEST_NAMES = ("manifest.json", "export-manifest.json", "status.json")
# A FHIR resource type in a file name: a capitalised word among the dot-separated parts.
_TYPE_IN_NAME = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
# 256 KiB reads: a chunk's few C scans hit the CPU cache (4 MiB chunks were read from memory 4-5 times).
CHUNK = 1 << 18


class ExportError(ValueError):
    """The export cannot be read at all (no such folder, no NDJSON in it, a manifest that is not one)."""


@dataclass(frozen=True, slots=True)
class ExportFile:
    index: int  # stable position in the export (sorted by name): line provenance and spill file names
    url: str  # what fsspec opens
    name: str  # shown in reports: the file name, never a credential-bearing URL
    resource_type: str | None  # from the manifest or the file name; None when neither says
    error_file: bool = False  # an OperationOutcome file of the manifest's error[]
    size: int | None = None  # bytes as stored (compressed when gzipped), when the file system says


class ExportSource(Protocol):
    def files(self) -> list[ExportFile]: ...

    def open(self, file: ExportFile) -> BinaryIO: ...


def _type_from_name(name: str) -> str | None:
    for part in name.split("."):
        if _TYPE_IN_NAME.match(part):
            return part
    return None


def _is_ndjson(name: str) -> bool:
    return name.endswith(NDJSON_SUFFIXES)


def _size(url: str) -> int | None:
    try:
        fs, path = fsspec.core.url_to_fs(url)
        return int(fs.size(path))
    except (OSError, TypeError, ValueError):
        return None


def _display_name(url: str) -> str:
    return posixpath.basename(url.split("?", 1)[0].rstrip("/"))


class FileExport:
    """An export on a file system fsspec knows (local, s3://, gs://, http(s)://, memory://...)."""

    def __init__(self, paths: list[str]) -> None:
        if not paths:
            raise ExportError("no export given: name a folder or NDJSON files")
        self._files = self._list(paths)
        if not [f for f in self._files if not f.error_file]:
            raise ExportError("the export has no NDJSON files (*.ndjson, *.ndjson.gz)")
        self.manifest: dict | None = getattr(self, "_manifest", None)

    def files(self) -> list[ExportFile]:
        return list(self._files)

    def open(self, file: ExportFile) -> BinaryIO:
        return fsspec.open(file.url, "rb", compression="infer").open()

    def _list(self, paths: list[str]) -> list[ExportFile]:
        found: list[tuple[str, str | None, bool]] = []  # (url, type, error file)
        for path in paths:
            fs, root = fsspec.core.url_to_fs(path)
            protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
            unstrip = (lambda p: p) if protocol in ("file", "local") else (lambda p: fs.unstrip_protocol(p))
            if not fs.exists(root):
                raise ExportError(f"{_display_name(path) or path}: no such file or folder")
            if fs.isdir(root):
                found += self._from_folder(fs, root, unstrip)
            else:
                found.append((unstrip(root), _type_from_name(_display_name(root)), False))
        found.sort(key=lambda item: (item[2], _display_name(item[0]), item[0]))
        return [
            ExportFile(index=i, url=url, name=_display_name(url), resource_type=kind, error_file=error,
                       size=_size(url))
            for i, (url, kind, error) in enumerate(found)
        ]

    def _from_folder(self, fs, root: str, unstrip) -> list[tuple[str, str | None, bool]]:  # noqa: ANN001
        names = {posixpath.basename(p): p for p in fs.ls(root, detail=False)}
        for manifest_name in MANIFEST_NAMES:
            if manifest_name in names:
                manifest = self._read_manifest(fs, names[manifest_name], manifest_name)
                if manifest is not None:
                    self._manifest = manifest
                    return self._from_manifest(manifest, names, unstrip, manifest_name)
        found = [
            (unstrip(p), _type_from_name(name), False) for name, p in names.items() if _is_ndjson(name)
        ]
        error_dir = names.get("error")
        if error_dir is not None and fs.isdir(error_dir):
            found += [(unstrip(p), "OperationOutcome", True) for p in fs.ls(error_dir, detail=False)
                      if _is_ndjson(posixpath.basename(p))]
        return found

    @staticmethod
    def _read_manifest(fs, path: str, name: str) -> dict | None:  # noqa: ANN001
        try:
            with fs.open(path, "rb") as handle:
                document = json.loads(handle.read())
        except (OSError, ValueError):
            raise ExportError(f"{name}: the export manifest is not valid JSON") from None
        if not isinstance(document, dict) or not isinstance(document.get("output"), list):
            return None  # some other JSON file: fall back to the file names
        return document

    @staticmethod
    def _from_manifest(manifest: dict, names: dict[str, str], unstrip, manifest_name: str):  # noqa: ANN001, ANN205
        found = []
        for key, error in (("output", False), ("error", True)):
            entries = manifest.get(key) or []
            if not isinstance(entries, list):
                raise ExportError(f"{manifest_name}: '{key}' is not an array")
            for number, entry in enumerate(entries):
                url = entry.get("url") if isinstance(entry, dict) else None
                if not isinstance(url, str):
                    raise ExportError(f"{manifest_name}: {key}[{number}] has no url")
                # The server's URL names the file a client downloaded into this folder.
                local = names.get(_display_name(url))
                if local is None:
                    raise ExportError(f"{manifest_name}: {key}[{number}] names {_display_name(url)!r}, not in the folder")
                kind = entry.get("type") if isinstance(entry.get("type"), str) else _type_from_name(_display_name(url))
                found.append((unstrip(local), kind, error))
        return found


def read_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, line without its newline), in bounded reads. A decompression error propagates
    after the lines before it (the caller counts it with the line it broke at)."""
    number = 0
    rest = b""
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            number += 1
            yield number, line
    if rest:
        yield number + 1, rest


def read_chunks(stream: BinaryIO) -> Iterator[tuple[int, int, bytes]]:
    """(number of its first line, its number of lines, a run of whole lines each ending in a newline), in
    bounded reads: a read, then the rest of its last line (one copy per chunk). The last line gets a newline
    when the file lacks one. A decompression error propagates after the whole lines before it."""
    number = 1
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        if not chunk.endswith(b"\n"):
            try:
                tail = stream.readline()
            except (EOFError, zlib.error, OSError):
                cut = chunk.rfind(b"\n") + 1
                if cut:
                    yield number, chunk.count(b"\n", 0, cut), chunk[:cut]
                raise
            chunk += tail
            if not chunk.endswith(b"\n"):
                chunk += b"\n"
        count = chunk.count(b"\n")
        yield number, count, chunk
        number += count
