"""Benchmarks of the service: one entry point, `python -m benchmarks <name> [args]` (`list` names them).

The benchmarks are registered in `benchmarks/registry.py`; the helper modules (bench_support, bench_patients,
baseline_app, what_if_serve) are not entries. See benchmarks/README.md for the table of what each answers.
"""
