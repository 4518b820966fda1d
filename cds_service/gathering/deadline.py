"""One deadline per hook call (`CDS_CALL_DEADLINE_SECONDS`): every FHIR request, page and byte fits in it."""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["Deadline"]


@dataclass(frozen=True, slots=True)
class Deadline:
    at: float  # time.monotonic() when the call's time is up
    seconds: float  # the whole budget, for messages

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(at=time.monotonic() + seconds, seconds=seconds)

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at

    @property
    def reason(self) -> str:
        """For a 412 body: which bound ended the key (no URL, no id)."""
        return f"deadline exceeded: the FHIR server did not answer within the call's {self.seconds:g} s"
