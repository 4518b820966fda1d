"""Issue 16: request bodies sent with a Content-Encoding, over real HTTP (a served `cds-service serve`).

gzip and deflate bodies are decoded within the body limit, as they arrive; a decompression bomb answers
413 (the limit holds for the decoded body), a body that is not data of its encoding 400, any other encoding
415. The decoded call answers exactly as the same call sent plain.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from fhir_fixtures.hook_requests import build_request
from tests.support.serve_process import Served, served

PATIENT_VIEW = "/cds-services/foot-calcification-patient-view"
LIMIT = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[Served]:
    with served(CDS_MAX_BODY_BYTES=str(LIMIT)) as running:
        yield running


@pytest.fixture(scope="module")
def body() -> bytes:
    return json.dumps(build_request("fc-diabetic-ulcer", "patient-view", date.today())).encode()


def _post(server: Served, content: bytes | Iterator[bytes], encoding: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    return httpx.post(server.base + PATIENT_VIEW, content=content, headers=headers, timeout=60)


def _summaries(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [card["summary"] for card in response.json()["cards"]]


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress), ("GZIP", gzip.compress)],
)
def test_an_encoded_body_answers_as_the_plain_one(server: Served, body: bytes, encoding: str, encode) -> None:
    plain = _summaries(_post(server, body, None))
    assert plain, "the fixture patient gets cards"
    assert _summaries(_post(server, encode(body), encoding)) == plain


def test_identity_is_the_plain_body(server: Served, body: bytes) -> None:
    assert _summaries(_post(server, body, "identity")) == _summaries(_post(server, body, None))


def test_a_chunked_gzip_body_is_decoded_as_it_arrives(server: Served, body: bytes) -> None:
    packed = gzip.compress(body)

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        for start in range(0, len(packed), 997):
            yield packed[start : start + 997]

    assert _summaries(_post(server, chunks(), "gzip")) == _summaries(_post(server, body, None))


def test_a_decompression_bomb_answers_413(server: Served) -> None:
    # ~2 KB on the wire, 50 MB decoded: refused once the output passes the limit, never inflated whole.
    bomb = gzip.compress(b'{"hook": "patient-view", "x": "' + b"0" * (50 * 1024 * 1024) + b'"}')
    assert len(bomb) < LIMIT
    response = _post(server, bomb, "gzip")
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_a_body_just_within_the_limit_once_decoded_is_read(server: Served, body: bytes) -> None:
    padded = json.loads(body)
    padded["extension"] = {"padding": "x" * (LIMIT - len(body) - 200)}
    raw = json.dumps(padded).encode()
    assert len(raw) <= LIMIT
    assert _post(server, gzip.compress(raw), "gzip").status_code == 200


@pytest.mark.parametrize("content", [b"not gzip at all", gzip.compress(b'{"a": 1}')[:-9], gzip.compress(b"{}") + b"x"])
def test_a_body_that_is_not_gzip_data_is_400(server: Served, content: bytes) -> None:
    response = _post(server, content, "gzip")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request", "message": "request body is not valid gzip data (Content-Encoding: gzip)",
    }


@pytest.mark.parametrize("encoding", ["br", "compress", "zstd", "gzip, gzip", "gzip, deflate"])
def test_other_encodings_are_415(server: Served, body: bytes, encoding: str) -> None:
    response = _post(server, gzip.compress(body), encoding)
    assert response.status_code == 415
    assert "Content-Encoding" in response.json()["message"]
