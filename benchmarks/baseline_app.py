"""The throughput baseline of `load_bench.py`: a bare FastAPI endpoint that only parses the request body.

It is what the issue measured the service against ("a bare FastAPI endpoint that only parses the same
bodies"): same framework, same server, same bodies, no work. Run by the benchmark with the same uvicorn
options as `cds-service serve`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.post("/cds-services/{service_id}")
async def parse_only(service_id: str, request: Request) -> dict[str, Any]:
    body = await request.json()
    return {"cards": [], "parsed": len(body)}
