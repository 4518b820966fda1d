"""Optional "Why this card?" links (`CDS_EXPLAIN_LINKS`, off by default).

With the setting on, the hook route evaluates with a trace (`explain.run.explain_call`: the same one
evaluation) and keeps the explanation in memory under an opaque random token for
`CDS_EXPLAIN_LINKS_TTL_SECONDS`; each card gets a `links` entry to `GET /explain/{token}#card-N`, a
server-rendered page. The URL holds no patient id; the explanation is never written to the store or to the
logs, and a restart or another worker process simply does not have it (the page then says it has expired).
The cache is bounded (`MAX_ENTRIES`, oldest dropped first): memory stays flat under load.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from cds_service.explain.model import Explanation
from cds_service.explain.run import explain_call, record_cards
from cds_service.gathering.deadline import Deadline
from cds_service.invocation import Invocation

__all__ = ["LINK_LABEL", "MAX_ENTRIES", "ExplanationCache", "invoke_with_links"]

LINK_LABEL = "Why this card?"
MAX_ENTRIES = 2000


class ExplanationCache:
    def __init__(self, ttl_seconds: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Explanation]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, explanation: Explanation) -> str:
        token = secrets.token_urlsafe(24)  # 192 random bits: not guessable, says nothing about the patient
        now = time.monotonic()
        with self._lock:
            self._entries[token] = (now + self.ttl, explanation)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            while self._entries:  # expired ones first in line (insertion order = expiry order)
                first = next(iter(self._entries))
                if self._entries[first][0] > now:
                    break
                del self._entries[first]
        return token

    def get(self, token: str) -> Explanation | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is None or entry[0] <= time.monotonic():
                self._entries.pop(token, None)
                return None
            return entry[1]


async def invoke_with_links(call: Invocation, body: Any, cache: ExplanationCache, *,
                            deadline: Deadline | None = None) -> dict[str, Any]:
    """`invocation.invoke` with a "Why this card?" link on each card (the cards are recorded the same way)."""
    # The hook's own answer: its snooze step writes the cards' evidence, as on the hook without links.
    explained = await explain_call(call, body, deadline=deadline, record=True)
    token = cache.put(explained.explanation)
    response = explained.evaluation.response
    for index, card in enumerate(response["cards"]):
        link = {"label": LINK_LABEL, "url": f"{call.public_base_url}/explain/{token}#card-{index}", "type": "absolute"}
        card["links"] = [*card.get("links", []), link]
    record_cards(call, explained.evaluation)
    return response
