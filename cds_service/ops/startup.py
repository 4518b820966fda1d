"""Start-up checks, and every start-up failure said in one line that names the setting or path.

A platform team reads these in a pod's last log line: `CDS_DATABASE_URL: /data is on a read-only file
system ...` is actionable where a 150-line traceback is not. `cds-service` prints the line and exits 2.
Only failures we can name are translated; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import SettingsError

from cds_service.settings import Settings

__all__ = [
    "StartupError",
    "check_sqlite_location",
    "describe_startup_failure",
    "load_card_templates",
    "load_settings",
    "preflight",
]


class StartupError(Exception):
    """A start-up failure, already worded as one line naming the setting or path."""


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise StartupError(settings_problem(exc)) from None
    except SettingsError as exc:
        raise StartupError(str(exc).splitlines()[0]) from None


def settings_problem(exc: ValidationError) -> str:
    """`CDS_NAME: problem` for each bad setting, joined on one line. Values are not repeated: some are secrets."""
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        field = str(error["loc"][0]) if error["loc"] else "?"
        problems.append(f"CDS_{field.upper()}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def _access(path: Path, mode: int) -> bool:
    """As the process will open the file: with its effective ids (and capabilities), not the real ones."""
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)


def _writable_problem(directory: Path) -> str | None:
    try:
        read_only = bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        return f"{directory} is on a read-only file system; mount a writable volume there or use PostgreSQL"
    if not _access(directory, os.W_OK | os.X_OK):
        return f"{directory} is not writable by this user (uid {os.getuid()}); give it to the service user"
    return None


def check_sqlite_location(database_url: str) -> None:
    """For a SQLite file: its directory exists and is writable (SQLite also writes its -wal and -shm files
    there), and the file, if it exists, is readable and writable. SQLite's own message would be "unable to
    open database file", naming neither."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(database_url)
    except ArgumentError:
        raise StartupError("CDS_DATABASE_URL: is not a database URL (sqlite:///PATH or postgresql+psycopg://...)") from None
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database).expanduser()
    path = path if path.is_absolute() else Path.cwd() / path
    directory = path.parent
    if not directory.is_dir():
        raise StartupError(f"CDS_DATABASE_URL: directory {directory} of the SQLite database does not exist")
    problem = _writable_problem(directory)
    if problem:
        raise StartupError(f"CDS_DATABASE_URL: SQLite database directory {problem}")
    if path.exists() and not _access(path, os.R_OK | os.W_OK):
        raise StartupError(f"CDS_DATABASE_URL: {path} is not readable and writable by this user (uid {os.getuid()})")


def _safe_url(database_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(database_url).render_as_string(hide_password=True)


def describe_startup_failure(exc: BaseException, settings: Settings | None = None) -> str | None:
    """The one line for a failure we know how to name, or None (a bug: let its traceback show)."""
    from sqlalchemy.exc import SQLAlchemyError

    from cds_service.auth.authenticator import AuthConfigurationError
    from cds_service.guideline.config import PathwayConfigError
    from cds_service.render.templates import TemplatesUnavailable
    from cds_service.sandbox.samples import SamplesConfigError

    if isinstance(exc, (StartupError, SamplesConfigError, TemplatesUnavailable)):
        return str(exc)
    if isinstance(exc, ValidationError):
        return settings_problem(exc)
    if isinstance(exc, AuthConfigurationError):
        text = str(exc)
        return text if "CDS_TRUSTED_CLIENTS" in text or "CDS_AUTH_MODE" in text else f"CDS_TRUSTED_CLIENTS: {text}"
    if isinstance(exc, PathwayConfigError):
        return f"CDS_PATHWAY_CONFIG: {exc}"
    if isinstance(exc, SQLAlchemyError):
        cause = getattr(exc, "orig", None) or exc
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        where = _safe_url(settings.database_url) if settings is not None else "CDS_DATABASE_URL"
        return f"CDS_DATABASE_URL: cannot use the database {where}: {first}"
    if isinstance(exc, ValueError) and "CDS_DATABASE_URL" in str(exc):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return None


def load_card_templates() -> int:
    """Compile every node's card template and the page templates (see `render.templates.load_templates`);
    how many. Raises `TemplatesUnavailable` (one line) when they cannot be loaded."""
    from cds_service.guideline.nodes import pathway_spec
    from cds_service.render.templates import load_templates

    return load_templates(tuple(sorted({node.template for node in pathway_spec().nodes})))


def preflight(settings: Settings) -> None:
    """What `create_app` will need, checked once before any worker starts. Also applies pending migrations
    here, once, so the workers find the schema at its head."""
    from cds_service.guideline.config import load_pathway_config
    from cds_service.store.store import open_store

    load_card_templates()  # first: a source tree without its templates cannot answer any hook call
    check_sqlite_location(settings.database_url)
    open_store(settings).close()
    if settings.auth_mode == "required":
        from cds_service.auth.authenticator import load_enabled_clients

        load_enabled_clients(settings)
    load_pathway_config(settings.pathway_config)
    if settings.sandbox_on:
        from cds_service.sandbox.samples import load_samples

        load_samples(settings.sandbox_patients)
