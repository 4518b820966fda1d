"""The ASGI entry point for uvicorn and other servers: `cds_service.asgi:app`.

A start-up failure we can name (a bad setting, a database out of reach...) ends the worker with one log
line and exit status 2 instead of a traceback.
"""

import logging

from cds_service.app import create_app
from cds_service.ops.gc_tuning import tune_garbage_collector
from cds_service.ops.startup import describe_startup_failure

try:
    app = create_app()
except Exception as exc:  # noqa: BLE001 - translated to one line when we can name it
    line = describe_startup_failure(exc)
    if line is None:
        raise
    logging.getLogger("cds_service").critical("cannot start: %s", line)
    raise SystemExit(2) from None

# Everything start-up built lives as long as the worker: frozen, so that collections never walk it again.
tune_garbage_collector()
