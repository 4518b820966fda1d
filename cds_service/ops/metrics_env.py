"""The environment variable of prometheus-client's multiprocess mode, in a module that does not import
prometheus-client: the CLI sets it before anything else imports the library (which reads it at import)."""

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
