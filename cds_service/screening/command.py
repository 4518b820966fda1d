"""`cds-service screen`: the pathway over a whole Bulk FHIR export.

    cds-service screen generate --patients 2000 --out /tmp/export      a synthetic export to try it on
    cds-service screen /tmp/export --out /tmp/screen                   embedded: all cores of this machine
    cds-service screen s3://bucket/export --out /tmp/screen --scheduler tcp://HOST:8786   on a Dask cluster
    cds-service screen --fhir-server https://ehr.example/fhir --out /tmp/screen      a Bulk Data $export first

INPUT is a folder (or several files / fsspec URLs) of NDJSON as a Bulk Data $export writes it (.ndjson or
.ndjson.gz, any file split, the complete-status manifest when there is one). Each patient is judged exactly
as patient-view would judge a chart holding the same resources, on --today (default: today), with the
deployment's pathway configuration (CDS_PATHWAY_CONFIG). Input problems are counted with their file and
line; the run goes on.

With --fhir-server (instead of INPUT) the screen runs a Bulk Data `Patient/$export` (or `Group/ID/$export`
with --group) of the types the pathway reads, downloads it into OUT.export and screens that. The bearer token
comes from $CDS_SCREEN_FHIR_TOKEN or --token-file, or from SMART Backend Services (--smart-*); it is never
printed. An interrupted export resumes with
--status-url (printed at kick-off). Exit status: 0 done, 2 the input or the options cannot be used, 3 the run could not
finish (run again with --resume).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]

PROG = "cds-service screen"
EXIT_INPUT = 2
EXIT_UNFINISHED = 3
PARTITION_BYTES = 64 * 1024 * 1024


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _instant(text: str) -> str:
    """A FHIR instant for `_since`: a date-time with a time zone (the IG: `_since` is an instant)."""
    from datetime import datetime

    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an instant (YYYY-MM-DDThh:mm:ssZ): {text!r}") from None
    if when.tzinfo is None or "T" not in text:
        raise argparse.ArgumentTypeError(f"an instant needs a time and a time zone: {text!r}")
    return text


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        "screen", help="screen a Bulk FHIR export (NDJSON) for care gaps, embedded or on a Dask cluster",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="export folder, NDJSON files or fsspec URLs; or `generate` (see above)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (replaced atomically when done)")
    parser.add_argument("--today", type=date.fromisoformat, help="evaluation date, YYYY-MM-DD (default: today)")
    parser.add_argument("--scheduler", help="run on this Dask scheduler (tcp://HOST:8786) instead of embedded")
    parser.add_argument("--workers", type=_positive, help="embedded: worker processes (default: every core)")
    parser.add_argument("--partitions", type=_positive,
                        help="spill partitions (default: one per 64 MB of input, at least 8 per worker and 16)")
    parser.add_argument("--work", type=Path, help="work folder for spill and checkpoints (default: OUT.work); on a "
                                                  "cluster, a folder every worker sees at the same path")
    parser.add_argument("--resume", action="store_true", help="finish an interrupted run from its checkpoints")
    parser.add_argument("--keep-work", action="store_true", help="keep the work folder after a successful run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    bulk = parser.add_argument_group("from a FHIR server (Bulk Data $export)")
    bulk.add_argument("--fhir-server", metavar="URL", help="FHIR base URL: export from it instead of reading INPUT")
    bulk.add_argument("--group", metavar="ID", help="export Group/ID/$export (default: Patient/$export)")
    bulk.add_argument("--since", type=_instant, metavar="INSTANT", help="only resources changed since (_since)")
    bulk.add_argument("--status-url", metavar="URL", help="resume an export already kicked off: its status URL")
    bulk.add_argument("--state", type=Path, metavar="DIR",
                      help="incremental: keep the export here; each run asks only for what changed since the last "
                           "(_since = its transactionTime, unless --since) and screens the updated whole")
    bulk.add_argument("--token-file", type=Path, metavar="PATH",
                      help="file holding the bearer token (default: $CDS_SCREEN_FHIR_TOKEN, else none)")
    smart = parser.add_argument_group("SMART Backend Services (instead of a bearer token)")
    smart.add_argument("--smart-client-id", metavar="ID", help="the client id registered with the server")
    smart.add_argument("--smart-key", type=Path, metavar="PEM", help="its private key (P-384 for ES384, RSA for RS384)")
    smart.add_argument("--smart-kid", metavar="KID", help="the key's id in the client's registered JWK Set")
    smart.add_argument("--smart-scope", metavar="SCOPES",
                       help="default: system/<type>.rs for each type the pathway reads (SMART v2 scopes)")
    smart.add_argument("--smart-token-url", metavar="URL",
                       help="default: token_endpoint of the server's .well-known/smart-configuration")
    generate = parser.add_argument_group("screen generate")
    generate.add_argument("--patients", type=_positive, default=2000, help="patients to generate (default 2000)")
    generate.add_argument("--prevalence", type=_share, default=0.05, help="share in the pathway (default 0.05)")
    generate.add_argument("--seed", type=int, default=17, help="random seed (default 17)")
    generate.add_argument("--gzip", action="store_true", help="write .ndjson.gz")
    generate.add_argument("--bulk-kb", type=int, default=0,
                          help="KB per patient of a real record's bulk: claims, vital signs, visits, routine labs "
                               "(default 0: the ~6 KB fixture-shaped core; 1300 is a real export's size)")
    parser.set_defaults(func=run)
    return parser


def _generate(args: argparse.Namespace) -> int:
    from cds_service.screening.generate import generate_export

    if len(args.inputs) != 1:
        print(f"{PROG} generate: takes no INPUT; give --out", file=sys.stderr)
        return EXIT_INPUT
    made = generate_export(args.out, patients=args.patients, prevalence=args.prevalence, seed=args.seed,
                           today=args.today, gzip_files=args.gzip, bulk_kb=max(0, args.bulk_kb))
    print(f"wrote {made['patients']} patients ({made['in_pathway']} in the pathway) in {made['files']} files under {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.inputs[:1] == ["generate"]:
        return _generate(args)
    import logging

    # The hook path logs each record's left-out input as a warning; the screen counts them instead. Only for
    # this run: the level is put back after it (a caller's later logging, e.g. in tests, is not changed).
    logger = logging.getLogger("cds_service")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return _screen(args)
    finally:
        logger.setLevel(level)


def _screen(args: argparse.Namespace) -> int:
    from cds_service.screening.engine import EngineError, Plan, default_workers, prepare_work, screen_work
    from cds_service.screening.outputs import one_screen, write_outputs
    from cds_service.screening.source import ExportError, FileExport
    from cds_service.settings import Settings

    started = time.monotonic()
    if args.fhir_server:
        if args.inputs:
            print(f"{PROG}: give INPUT or --fhir-server, not both", file=sys.stderr)
            return EXIT_INPUT
        exported = _export(args)
        if isinstance(exported, int):
            return exported
        source = exported
    else:
        if args.status_url or args.since or args.group or args.token_file or args.state:
            print(f"{PROG}: --status-url, --since, --group, --state and --token-file need --fhir-server", file=sys.stderr)
            return EXIT_INPUT
        if not args.inputs:
            print(f"{PROG}: name an export (INPUT) or a FHIR server (--fhir-server URL)", file=sys.stderr)
            return EXIT_INPUT
        try:
            source = FileExport([str(p) for p in args.inputs])
        except ExportError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return EXIT_INPUT
    try:
        config_path = Settings().pathway_config
    except Exception as exc:  # noqa: BLE001 - a bad CDS_* value is one line
        print(f"{PROG}: settings: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_INPUT
    workers = args.workers or default_workers()
    files = source.files()
    # A partition holds about PARTITION_BYTES of input whatever the export's size: a worker's memory stays
    # flat as the export grows (gzip counted 5x, a typical NDJSON ratio).
    stored = sum((f.size or 0) * (5 if f.name.endswith(".gz") else 1) for f in files)
    partitions = args.partitions or max(16, 8 * workers, -(-stored // PARTITION_BYTES))
    today = (args.today or date.today()).isoformat()
    work = (args.work or args.out.with_name(args.out.name + ".work")).resolve()
    plan = Plan(work=work, partitions=partitions, today=today,
                config_path=str(config_path) if config_path else None, workers=workers, scheduler=args.scheduler,
                progress=not args.no_progress and sys.stderr.isatty())
    job = {"inputs": [f.url for f in files], "partitions": partitions, "today": today, "config": plan.config_path}
    try:
        prepare_work(work, job, args.resume)
        reports, results = screen_work(plan, source, files)
    except EngineError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_UNFINISHED
    summary = write_outputs(args.out, reports, results, today=today)
    seconds = time.monotonic() - started
    engine = f"dask {args.scheduler}" if args.scheduler else f"embedded, {workers} process(es)"
    (work / "run.json").write_text(f'{{"seconds": {seconds:.3f}, "engine": "{engine}"}}\n')
    if not args.keep_work:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        if args.fhir_server:
            shutil.rmtree(_export_folder(args), ignore_errors=True)
    print(one_screen(summary, out=args.out, seconds=seconds, engine=engine), end="")
    return 0


def _export_folder(args: argparse.Namespace) -> Path:
    return args.out.with_name(args.out.name + ".export").resolve()


def _token(args: argparse.Namespace) -> str | int | None:
    import os

    if args.token_file is not None:
        try:
            token = args.token_file.read_text().strip()
        except OSError as exc:
            print(f"{PROG}: --token-file: {exc.strerror or 'cannot be read'}", file=sys.stderr)
            return EXIT_INPUT
        if not token:
            print(f"{PROG}: --token-file: the file is empty", file=sys.stderr)
            return EXIT_INPUT
        return token
    return os.environ.get("CDS_SCREEN_FHIR_TOKEN", "").strip() or None


def requests_session() -> Any:
    import requests

    return requests.Session()


def _export(args: argparse.Namespace) -> Any:
    """The Bulk Data export into OUT.export, as a FileExport; an exit status when it cannot be had."""
    import shutil
    from urllib.parse import urlsplit

    from cds_service.screening.bulk import BulkClient, BulkError, display_url
    from cds_service.screening.incremental import StateError, apply_delta, last_transaction_time
    from cds_service.screening.smart import SmartError
    from cds_service.screening.source import ExportError, FileExport

    if urlsplit(args.fhir_server).scheme not in ("http", "https"):
        print(f"{PROG}: --fhir-server must be an http(s) URL", file=sys.stderr)
        return EXIT_INPUT
    token: Any = _token(args)
    if isinstance(token, int):
        return token
    smart = [args.smart_client_id, args.smart_key, args.smart_kid]
    if any(smart):
        if not all(smart):
            print(f"{PROG}: SMART Backend Services needs --smart-client-id, --smart-key and --smart-kid", file=sys.stderr)
            return EXIT_INPUT
        from cds_service.screening.bulk import pathway_types
        from cds_service.screening.smart import BackendServicesToken, token_endpoint

        try:
            token_url = args.smart_token_url or token_endpoint(args.fhir_server, requests_session())
            token = BackendServicesToken(token_url=token_url, client_id=args.smart_client_id, key_path=args.smart_key,
                                         kid=args.smart_kid,
                                         scope=args.smart_scope or " ".join(f"system/{t}.rs" for t in pathway_types()))
        except SmartError as exc:
            print(f"{PROG}: SMART Backend Services: {exc}", file=sys.stderr)
            return EXIT_INPUT
    show = not args.no_progress and sys.stderr.isatty()

    def progress(state: Any) -> None:
        if show:
            print(f"\rexport: {state.server or ''} files {state.files_done}/{state.files_total}   ",
                  end="", file=sys.stderr)

    client = BulkClient(args.fhir_server, token=token, on_progress=progress)
    server = display_url(args.fhir_server.rstrip("/"))
    since = args.since
    try:
        if args.state is not None:
            stored = last_transaction_time(args.state, server, args.group)
            if stored is None and since is not None:
                # A state starts from a whole export: merging a first delta would screen part of the record.
                print(f"{PROG}: --state {args.state} holds no export yet: its first run cannot take --since",
                      file=sys.stderr)
                return EXIT_INPUT
            since = since or stored
        status_url = args.status_url or client.kick_off(group=args.group, since=since)
        if not args.status_url:
            # The status URL is no credential (the token is): printed so an interrupted run can resume.
            print(f"{PROG}: export started; to resume: --status-url {status_url}", file=sys.stderr)
        # A fresh folder: files of an earlier, interrupted download must not mix with this one's.
        shutil.rmtree(_export_folder(args), ignore_errors=True)
        manifest = client.fetch_to(_export_folder(args), status_url)
        if args.state is not None:
            source = apply_delta(args.state, _export_folder(args), manifest, server, args.group)
        else:
            source = FileExport([str(_export_folder(args))])
    except (BulkError, SmartError, StateError) as exc:
        print(f"{PROG}: export: {exc}", file=sys.stderr)
        return EXIT_UNFINISHED
    except ExportError as exc:  # e.g. a manifest with no output: nothing to screen
        print(f"{PROG}: export: {exc}", file=sys.stderr)
        return EXIT_INPUT
    finally:
        if show:
            print(file=sys.stderr)
    return source
