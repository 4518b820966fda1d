"""The garbage collector of a served worker: what start-up built is frozen, and young collections are rarer.

A hook call parses a request of a few hundred KB into tens of thousands of dicts and lists. With Python's
defaults (a young collection every 700 net new container objects) one call runs dozens of collections,
each survivor is traversed again in the older generations, and every full collection walks the whole heap
of the worker (the FHIR models, SQLAlchemy, FastAPI: several hundred thousand objects), which is most of
the cost of parsing a body and a source of latency spikes. So, once a worker has started:

- `gc.freeze()` moves everything alive into a permanent generation that collections never walk (start-up
  objects live as long as the process anyway);
- the young generation's threshold is raised to `YOUNG_THRESHOLD`. The count is of net allocations (an
  object freed by reference counting gives its place back), so a call's own objects, freed when it
  returns, seldom reach a collection at all; cycles (exceptions with tracebacks, asyncio internals) are
  still collected, a little later.

Measured with `benchmarks/invoke_bench.py` and `benchmarks/load_bench.py` (README, Benchmarks).
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "tune_garbage_collector"]

YOUNG_THRESHOLD = 50_000


def tune_garbage_collector(young_threshold: int = YOUNG_THRESHOLD) -> None:
    """Freeze what is alive now and raise the young generation's threshold (the older two as Python's)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
