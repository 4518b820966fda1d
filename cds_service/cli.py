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
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.auth_mode == "disabled" and args.host not in ("127.0.0.1", "localhost", "::1"):
        logging.getLogger("cds_service").warning(
            "authentication is disabled and the service listens on %s: anyone who can reach it can read "
            "patient data through it", args.host
        )
    uvicorn.run(
        "cds_service.asgi:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        # Access logs would print request paths only, but keep them off: query strings can carry ids.
        access_log=False,
        proxy_headers=True,
    )
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
