"""A misbehaving FHIR server for fault tests: http.server in a thread on 127.0.0.1, one behaviour per test."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Answer", "StubFhirServer", "refused_url", "stub_fhir_server"]


@dataclass
class Answer:
    status: int = 200
    body: bytes | str | dict[str, Any] = field(default_factory=lambda: {"resourceType": "Bundle", "type": "searchset"})
    delay: float = 0.0  # seconds before the answer: longer than the client's read timeout means a timeout
    content_type: str = "application/fhir+json"
    # No Content-Length: the body ends when the connection closes (the client cannot know its size first).
    close_delimited: bool = False

    def payload(self) -> bytes:
        if isinstance(self.body, dict):
            return json.dumps(self.body).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body


Behaviour = Callable[[str, str], Answer]  # (path with query, base url) -> answer


class StubFhirServer:
    def __init__(self) -> None:
        self.behaviour: Behaviour = lambda path, base: Answer()
        self.seen: list[dict[str, Any]] = []
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests answered at once
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                with stub._lock:
                    stub.seen.append({"path": self.path, "authorization": self.headers.get("Authorization"),
                                      "accept": self.headers.get("Accept"), "client": self.client_address})
                    stub.in_flight += 1
                    stub.most_in_flight = max(stub.most_in_flight, stub.in_flight)
                try:
                    answer = stub.behaviour(self.path, stub.base_url)
                    if answer.delay:
                        time.sleep(answer.delay)
                finally:
                    with stub._lock:
                        stub.in_flight -= 1
                payload = answer.payload()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    if answer.close_delimited:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    else:
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): expected in timeout tests

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # keep test output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/fhir"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def stub_fhir_server(behaviour: Behaviour | None = None) -> Iterator[StubFhirServer]:
    stub = StubFhirServer()
    if behaviour is not None:
        stub.behaviour = behaviour
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()


def refused_url() -> str:
    """A loopback URL nothing listens on (a port just bound and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/fhir"
