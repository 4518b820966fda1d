"""`cds-service`: run the service, and the operators' commands."""

from __future__ import annotations

import argparse
import logging
import sys

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from cds_service.settings import get_settings

    settings = get_settings()  # fail fast, before uvicorn forks, on a bad setting
    if settings.auth_mode == "required":
        from cds_service.auth.authenticator import AuthConfigurationError, load_enabled_clients

        try:
            load_enabled_clients(settings)  # the same check create_app makes, with a plain message
        except AuthConfigurationError as exc:
            print(f"cds-service: cannot start: {exc}", file=sys.stderr)
            return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.auth_mode == "disabled" and args.host not in ("127.0.0.1", "localhost", "::1"):
        logging.getLogger("cds_service").warning(
            "authentication is disabled and the service listens on %s: anyone who can reach it can read "
            "patient data through it", args.host
        )
    from cds_service.serving import uvicorn_options

    # The app, access logs off, and the connection limits (header size, read timeout, concurrency).
    uvicorn.run(**uvicorn_options(settings, host=args.host, port=args.port, workers=args.workers,
                                  log_level=args.log_level))
    return 0


def _store_settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from cds_service.settings import Settings

    # Only the database matters here: these commands never serve requests, so auth settings are not read.
    overrides = {"auth_mode": "disabled"}
    if args.database_url:
        overrides["database_url"] = args.database_url
    return Settings(**overrides)


def _feedback_report(args: argparse.Namespace) -> int:
    import json

    from cds_service.store.report import format_table
    from cds_service.store.store import open_store

    store = open_store(_store_settings(args))
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
    from cds_service.store.engine import create_store_engine
    from cds_service.store.migrate import current_revision, head_revision, upgrade

    engine = create_store_engine(_store_settings(args).database_url)
    try:
        upgrade(engine)
        with engine.connect() as connection:
            print(f"database schema at revision {current_revision(connection)} (head {head_revision()})")
    finally:
        engine.dispose()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cds-service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the CDS Hooks service (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
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
    report.set_defaults(func=_feedback_report)

    db = commands.add_parser("db", help="the store's database")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_commands.add_parser("upgrade", help="apply pending migrations (the service also does at startup)")
    db_upgrade.add_argument("--database-url", help=database_help)
    db_upgrade.set_defaults(func=_db_upgrade)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
