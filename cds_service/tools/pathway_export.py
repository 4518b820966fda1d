"""`cds-service pathway export --fhir OUT [--config FILE]`: write the pathway's CPG-on-FHIR artifact.

OUT receives one file per resource (`PlanDefinition-<id>.json`, ...) and the whole artifact as
`Bundle-foot-calcification-pathway.json`, each in the one serialisation the service serves; files of an
earlier export that the artifact no longer has are removed (and named), so OUT is always exactly the artifact.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from cds_service.guideline.config import PathwayConfigError, load_pathway_config

__all__ = ["add_parser", "artifact_files", "run"]

EXIT_INVALID = 2


def add_parser(pathway_commands: Any) -> None:
    export = pathway_commands.add_parser(
        "export", help="write the pathway as FHIR (CPG-on-FHIR PlanDefinitions, ActivityDefinitions, Library, Bundle)"
    )
    export.add_argument("--fhir", type=Path, required=True, metavar="OUT", help="the directory to write")
    export.add_argument("--config", type=Path, default=None,
                        help="a pathway configuration file (as CDS_PATHWAY_CONFIG); default: the packaged pathway")
    export.set_defaults(func=run)


def artifact_files(config_path: Path | None = None) -> dict[str, str]:
    """File name -> content, exactly what `export` writes."""
    from cds_service.publication.artifact import BUNDLE_ID, build_artifact, serialise

    artifact = build_artifact(load_pathway_config(config_path))
    files = {f"{r['resourceType']}-{r['id']}.json": serialise(r) for r in artifact.resources}
    files[f"Bundle-{BUNDLE_ID}.json"] = serialise(artifact.bundle())
    return files


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        files = artifact_files(args.config)
    except PathwayConfigError as exc:
        print(f"cds-service pathway export: {exc}", file=err)
        return EXIT_INVALID
    target: Path = args.fhir
    target.mkdir(parents=True, exist_ok=True)
    for stale in sorted(p for p in target.glob("*.json") if p.name not in files):
        stale.unlink()
        print(f"removed {stale} (no longer in the artifact)", file=out)
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    print(f"{target}: {len(files)} file(s) written", file=out)
    return 0
