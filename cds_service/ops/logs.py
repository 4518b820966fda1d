"""One log format for every line the process writes: the service's, uvicorn's, SQLAlchemy's and Alembic's.

`CDS_LOG_FORMAT=json` makes each line one JSON object (python-json-logger); `text` is for people at a
terminal. The same dictConfig is handed to uvicorn, which applies it again in every worker process.
Every line logged while a request is handled carries that request's id.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

__all__ = ["LOG_FORMATS", "REQUEST_ID", "configure_logging", "logging_config"]

LOG_FORMATS = ("text", "json")
# The id of the request being handled (see ops/access.py); run_in_threadpool copies it into worker threads.
REQUEST_ID: ContextVar[str | None] = ContextVar("cds_request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Loggers whose start-up chatter is INFO but is only of interest when debugging: Alembic prints seven
# "setup plugin" lines, "Context impl ..." and "Will assume ..." at every start of every worker.
DEMOTED_TO_DEBUG = ("alembic",)


class RecordFilter(logging.Filter):
    """Adds the request id, demotes library noise to DEBUG, and drops uvicorn's ANSI-coloured duplicate."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        if request_id is not None and not hasattr(record, "request_id"):
            record.request_id = request_id
        # uvicorn passes `color_message` as an extra: JSON would carry it as a second, escape-coded message.
        record.__dict__.pop("color_message", None)
        if record.levelno == logging.INFO and record.name.startswith(DEMOTED_TO_DEBUG):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


class TextFormatter(logging.Formatter):
    """The text format, with the request id appended when there is one."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [request {request_id}]" if request_id else line


class JsonLineFormatter(JsonFormatter):
    """One JSON object per record: time, level, logger, message, and the record's extra fields."""

    def __init__(self) -> None:
        super().__init__(
            JSON_FIELDS,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
        )


def logging_config(log_format: str = "text", level: str = "info") -> dict[str, Any]:
    """A dictConfig for the root logger and the libraries' loggers, all writing through one handler."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {LOG_FORMATS}, got {log_format!r}")
    formatter = JsonLineFormatter if log_format == "json" else TextFormatter
    level_name = level.upper()
    # Library loggers write through the root handler (propagate), so they share its format.
    through_root = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"record": {"()": RecordFilter}},
        "formatters": {"line": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
                "filters": ["record"],
            }
        },
        "root": {"level": level_name, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {**through_root, "level": level_name},
            "uvicorn.error": {**through_root, "level": level_name},
            "uvicorn.access": {**through_root, "level": level_name},
            "uvicorn.asgi": {**through_root, "level": level_name},
            # SQLAlchemy logs SQL at INFO only when asked to (echo); warnings still come through.
            "sqlalchemy": {**through_root, "level": "WARNING"},
            "alembic": {**through_root, "level": level_name},
            "py.warnings": {**through_root, "level": "WARNING"},
        },
    }


def configure_logging(log_format: str = "text", level: str = "info") -> dict[str, Any]:
    """Apply the configuration to this process and return it (uvicorn re-applies it in its workers)."""
    import logging.config

    config = logging_config(log_format, level)
    logging.config.dictConfig(config)
    logging.captureWarnings(True)  # `warnings` go through the same handler, so they are JSON too
    return config
