"""Render the fixtures' date tokens to concrete dates, so the fixtures never age.

A token is ``{{today}}``, ``{{today-30d}}``, ``{{today+3d}}`` or ``{{today-8w}}`` (days or weeks), and may sit
inside a longer string: ``"{{today-5d}}T08:15:00Z"`` becomes ``"2026-11-16T08:15:00Z"``. A partial date,
as EHRs send some, is ``{{today-400d:month}}`` (``2025-10``) or ``{{today-400d:year}}`` (``2025``). Everything else is
returned unchanged. Used as a module (`materialize(obj, today)`) or as a script:

    python -m fhir_fixtures.materialize --today 2026-11-21 --out /tmp/fixtures
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

# The token grammar is the service's (its testers' tools render tokens too); re-exported for the fixtures.
from cds_service.tools.date_tokens import TOKEN, materialize, render_date, shift

__all__ = ["TOKEN", "main", "materialize", "render_date", "shift"]


def main(argv: list[str] | None = None) -> int:
    from fhir_fixtures.catalog import FIXTURES_DIR

    parser = argparse.ArgumentParser(description="Write the fixtures with concrete dates.")
    parser.add_argument("--today", type=date.fromisoformat, default=date.today(), help="YYYY-MM-DD (default: today)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    args = parser.parse_args(argv)
    count = 0
    for sub in ("bundles", "drafts", "requests"):
        for source in sorted((FIXTURES_DIR / sub).glob("*.json")):
            target = args.out / sub / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            rendered = materialize(json.loads(source.read_text()), args.today)
            target.write_text(json.dumps(rendered, indent=2) + "\n")
            count += 1
    print(f"wrote {count} files for {args.today.isoformat()} under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
