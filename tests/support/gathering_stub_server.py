"""A misbehaving FHIR server for fault tests: http.server in a thread on 127.0.0.1, one behaviour per test.

Besides wrong answers it can be hostile in time: a slow first byte (`delay`), a body trickled one byte at a
time (`trickle`), or no answer at all (`delay=NEVER`). Waits end early when the client closes its connection
(counted in `abandoned`: the client gave up on the request) or when the server stops.
"""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.serve_process import free_port

__all__ = ["NEVER", "Answer", "Behaviour", "StubFhirServer", "patient_then", "refused_url", "stub_fhir_server"]

NEVER = 3600.0  # a delay no test waits out: the server never answers
POLL_SECONDS = 0.02


@dataclass
class Answer:
    status: int = 200
    body: bytes | str | dict[str, Any] = field(default_factory=lambda: {"resourceType": "Bundle", "type": "searchset"})
    delay: float = 0.0  # seconds before the answer: longer than the client's read timeout means a timeout
    content_type: str = "application/fhir+json"
    # No Content-Length: the body ends when the connection closes (the client cannot know its size first).
    close_delimited: bool = False
    # Seconds between two bytes of the body (0: all at once). Every read gets a byte long before any read
    # timeout, so only a bound on the whole call ends it.
    trickle: float = 0.0

    def payload(self) -> bytes:
        if isinstance(self.body, dict):
            return json.dumps(self.body).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body


Behaviour = Callable[[str, str], Answer]  # (path with query, base url) -> answer


def patient_then(patient_id: str, answer: Answer) -> Behaviour:
    """Answers the read of Patient `patient_id`; every other request (the searches) gets `answer`."""
    def behaviour(path: str, base: str) -> Answer:
        if path.startswith(f"/fhir/Patient/{patient_id}"):
            return Answer(body={"resourceType": "Patient", "id": patient_id})
        return answer
    return behaviour


class _Server(ThreadingHTTPServer):
    # http.server's default backlog is 5: a client opening every query's connection at once would see
    # the rest wait for a SYN retry (a second), which is the stub's limit, not the client's.
    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that closed its connection mid-request is what hostile tests cause on purpose


class StubFhirServer:
    def __init__(self) -> None:
        self.behaviour: Behaviour = lambda path, base: Answer()
        self.seen: list[dict[str, Any]] = []
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests answered at once
        self.abandoned = 0  # requests whose client closed the connection before the answer was complete
        self._lock = threading.Lock()
        self._stopping = threading.Event()
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
                    if answer.delay and not stub._wait(self.connection, answer.delay):
                        self.close_connection = True
                        return
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
                    if not answer.trickle:
                        self.wfile.write(payload)
                        return
                    self.wfile.flush()
                    for index in range(len(payload)):
                        self.wfile.write(payload[index:index + 1])
                        self.wfile.flush()
                        if not stub._wait(self.connection, answer.trickle):
                            self.close_connection = True
                            return
                except (BrokenPipeError, ConnectionResetError):
                    with stub._lock:
                        stub.abandoned += 1  # the client gave up (its timeout): expected in timeout tests
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # keep test output clean

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/fhir"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def _wait(self, connection: socket.socket, seconds: float) -> bool:
        """Waits `seconds`; False when the client closed the connection (or the server stops) first."""
        waited = 0.0
        while waited < seconds:
            if self._stopping.is_set():
                return False
            step = min(POLL_SECONDS, seconds - waited)
            readable, _, _ = select.select([connection], [], [], step)
            if readable:
                try:
                    closed = connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    closed = True
                if closed:
                    with self._lock:
                        self.abandoned += 1
                    return False
                self._stopping.wait(step)  # a pipelined request: nothing to do with this one
            waited += step
        return True

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
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
    return f"http://127.0.0.1:{free_port()}/fhir"
