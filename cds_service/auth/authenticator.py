"""PLACEHOLDER (helper B replaces): who may call the service."""
from __future__ import annotations

from cds_service.settings import Settings


class Unauthorized(Exception):
    """Bare 401; the reason goes to the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AllowAll:
    def verify(self, *, url: str, authorization: str | None) -> None:
        return None


def build_authenticator(settings: Settings) -> AllowAll:
    return AllowAll()
