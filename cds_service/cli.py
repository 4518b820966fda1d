"""`cds-service`: run the service, and the operators' commands."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cds_service import __version__
from cds_service.screening import command as screen_command
from cds_service.tools import evaluate as evaluate_parser
from cds_service.tools import pathway_check, pathway_export

if TYPE_CHECKING:
    from cds_service.settings import Settings

__all__ = ["main"]


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")

log = logging.getLogger("cds_service")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be at most 65535, got {value}")
    return value


def _log_format_from_env() -> str:
    from cds_service.ops.logs import LOG_FORMATS

    # Read before Settings: a bad CDS_* value must itself be reported in the chosen format.
    value = os.environ.get("CDS_LOG_FORMAT", "text")
    return value if value in LOG_FORMATS else "text"


def _default_public_base_url(host: str, port: int) -> str | None:
    """Without CDS_PUBLIC_BASE_URL, card links and the JWT `aud` would point at the default :8080 whatever
    --port says: derive it from --host and --port instead. Returns a warning when the guess may be wrong."""
    if "CDS_PUBLIC_BASE_URL" in os.environ:
        return None
    shown = "127.0.0.1" if host in WILDCARD_HOSTS else host
    if ":" in shown:
        shown = f"[{shown}]"
    url = f"http://{shown}:{port}"
    os.environ["CDS_PUBLIC_BASE_URL"] = url  # the workers read their settings from this environment
    if host in LOOPBACK_HOSTS:
        return None
    return (
        f"CDS_PUBLIC_BASE_URL is not set, so card links and the JWT audience use {url}; set it to the URL the "
        "EHRs call"
    )


def _prepare_metrics_dir(settings: Settings, workers: int) -> None:
    """Several workers: prometheus-client's multiprocess mode, in a directory emptied at each start (its
    files are per process id; stale ones would add old counts)."""
    import atexit
    import shutil
    import tempfile

    from cds_service.ops.metrics_env import MULTIPROCESS_ENV

    existing = os.environ.get(MULTIPROCESS_ENV)
    if existing:
        directory = Path(existing)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        return
    if not settings.metrics_enabled or workers == 1:
        return
    directory = Path(tempfile.mkdtemp(prefix="cds-metrics-"))
    atexit.register(shutil.rmtree, directory, True)
    os.environ[MULTIPROCESS_ENV] = str(directory)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from cds_service.ops.logs import configure_logging
    from cds_service.ops.startup import describe_startup_failure, load_settings, preflight

    log_config = configure_logging(_log_format_from_env(), args.log_level)
    base_url_warning = _default_public_base_url(args.host, args.port)
    settings = None
    try:
        settings = load_settings()
        # Before anything imports prometheus_client: it reads the multiprocess directory at import.
        _prepare_metrics_dir(settings, args.workers)
        # Fail fast, before uvicorn forks, with one line; migrations are applied here, once.
        preflight(settings)
    except Exception as exc:  # noqa: BLE001 - translated to one line when we can name it
        line = describe_startup_failure(exc, settings)
        if line is None:
            raise
        log.critical("cannot start: %s", line)
        return 2
    log.info(
        "cds-service %s starting on %s:%d with %d worker(s); public base URL %s; authentication %s; %s store",
        __version__, args.host, args.port, args.workers, settings.public_base_url, settings.auth_mode,
        settings.database_url.split(":", 1)[0],
    )
    if base_url_warning:
        log.warning(base_url_warning)
    if settings.auth_mode == "disabled" and args.host not in LOOPBACK_HOSTS:
        log.warning(
            "authentication is disabled and the service listens on %s: anyone who can reach it can read "
            "patient data through it", args.host
        )
    from cds_service.serving import uvicorn_options

    # The app, access logs off (ops/access.py writes ours), the connection limits (header size, read timeout,
    # concurrency), and every worker logging in the same format.
    uvicorn.run(**uvicorn_options(settings, host=args.host, port=args.port, workers=args.workers,
                                  log_level=args.log_level, log_config=log_config))
    return 0


def _store_command(args: argparse.Namespace, action: Callable[[Settings], int]) -> int:
    """Run a database command; a database that cannot be used is one line and exit status 2."""
    from cds_service.ops.startup import check_sqlite_location, describe_startup_failure

    settings = None
    try:
        settings = _store_settings(args)
        check_sqlite_location(settings.database_url)
        return action(settings)
    except Exception as exc:  # noqa: BLE001 - translated to one line when we can name it
        line = describe_startup_failure(exc, settings)
        if line is None:
            raise
        print(f"cds-service: {line}", file=sys.stderr)
        return 2


def _store_settings(args: argparse.Namespace) -> Settings:
    from cds_service.settings import Settings

    # Only the database matters here: these commands never serve requests, so auth settings are not read.
    overrides = {"auth_mode": "disabled"}
    if args.database_url:
        overrides["database_url"] = args.database_url
    return Settings(**overrides)


def _feedback_report(args: argparse.Namespace) -> int:
    from cds_service.services import SERVICES, service_by_id

    if args.service is not None and service_by_id(args.service) is None:
        known = ", ".join(service.id for service in SERVICES)
        print(f"cds-service: unknown service {args.service!r}; this server's services are: {known}", file=sys.stderr)
        return 2
    return _store_command(args, lambda settings: _print_report(settings, args))


def _print_report(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from cds_service.store.report import format_table
    from cds_service.store.store import open_store

    if args.html:
        from cds_service.reports.feedback_html import write_html_report

        return write_html_report(settings, args.html, service_id=args.service)
    store = open_store(settings)
    try:
        report = store.feedback_report(service_id=args.service)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"nodes": [node.to_json() for node in report]}, indent=2))
    else:
        print(format_table(report))
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    return _store_command(args, _upgrade)


def _upgrade(settings: Settings) -> int:
    from cds_service.store.engine import create_store_engine
    from cds_service.store.migrate import current_revision, head_revision, upgrade

    engine = create_store_engine(settings.database_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            print(f"database schema at revision {current_revision(connection)} (head {head_revision()})")
    finally:
        engine.dispose()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cds-service", description=__doc__)
    parser.add_argument("--version", action="version", version=f"cds-service {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the CDS Hooks service (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=8080,
        help="port (default 8080); without CDS_PUBLIC_BASE_URL, the public base URL is http://HOST:PORT",
    )
    serve.add_argument("--workers", type=_positive_int, default=1, help="worker processes, at least 1 (default 1)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=_serve)

    database_help = "database URL (default: CDS_DATABASE_URL)"
    feedback = commands.add_parser("feedback", help="clinicians' feedback on the cards")
    feedback_commands = feedback.add_subparsers(dest="feedback_command", required=True)
    report = feedback_commands.add_parser(
        "report", help="per pathway node: cards issued, accepted, overridden, and the override reasons"
    )
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    report.add_argument("--service", help="only cards of this CDS service id")
    report.add_argument("--database-url", help=database_help)
    report.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML page with charts")
    report.set_defaults(func=_feedback_report)

    db = commands.add_parser("db", help="the store's database")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_commands.add_parser("upgrade", help="apply pending migrations (the service also does at startup)")
    db_upgrade.add_argument("--database-url", help=database_help)
    db_upgrade.set_defaults(func=_db_upgrade)

    # Tools for testers and pathway owners (issue 11), implemented in their own modules.
    evaluate_parser.add_parser(commands)
    pathway_export.add_parser(pathway_check.add_parser(commands))  # pathway check, pathway export
    # Population screening of a Bulk FHIR export (issue 17), in its own package.
    screen_command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
