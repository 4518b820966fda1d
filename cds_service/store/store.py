"""PLACEHOLDER (helper B replaces): issued cards and feedback."""
from __future__ import annotations

from cds_service.protocol.feedback import FeedbackRequest
from cds_service.protocol.response import Card
from cds_service.settings import Settings


class Store:
    def record_issued_cards(self, *, service_id: str, hook_instance: str, patient_id: str, cards: list[Card]) -> None:
        pass

    def record_feedback(self, *, service_id: str, feedback: FeedbackRequest) -> None:
        pass

    def close(self) -> None:
        pass


def open_store(settings: Settings) -> Store:
    return Store()
