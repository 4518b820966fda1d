"""A served worker freezes what start-up built and collects its young generation less often
(ops/gc_tuning.py). Checked in a fresh interpreter: freezing the test process would keep every later
test's garbage cycles alive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cds_service.ops.gc_tuning import YOUNG_THRESHOLD

PROBE = """
import gc, json
import cds_service.asgi  # what uvicorn imports in each worker
print(json.dumps({"frozen": gc.get_freeze_count(), "thresholds": gc.get_threshold()}))
"""


def test_the_served_app_module_freezes_start_up_objects_and_raises_the_young_threshold(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CDS_AUTH_MODE": "disabled",
        "CDS_DATABASE_URL": f"sqlite:///{tmp_path}/gc.db",
        "CDS_PUBLIC_BASE_URL": "http://127.0.0.1:8080",
    }
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["frozen"] > 100_000  # the FHIR models, FastAPI, SQLAlchemy...
    young, middle, old = seen["thresholds"]
    assert young == YOUNG_THRESHOLD > 700  # Python's default is 700
    assert (middle, old) == (10, 10)  # the older generations as Python sets them
