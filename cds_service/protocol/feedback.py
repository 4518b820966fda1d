"""The CDS Hooks 2.0 feedback request (`POST {base}/cds-services/{id}/feedback`)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["AcceptedSuggestion", "FeedbackEntry", "FeedbackRequest", "OverrideReasonFeedback"]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FeedbackCoding(_Lenient):
    system: str = Field(min_length=1)
    code: str = Field(min_length=1)
    display: str | None = None


class AcceptedSuggestion(_Lenient):
    id: str = Field(min_length=1)


class OverrideReasonFeedback(_Lenient):
    reason: FeedbackCoding | None = None
    userComment: str | None = Field(default=None, max_length=4000)


class FeedbackEntry(_Lenient):
    card: str = Field(min_length=1)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: tuple[AcceptedSuggestion, ...] | None = None
    overrideReason: OverrideReasonFeedback | None = None
    outcomeTimestamp: datetime

    @field_validator("outcomeTimestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must be an RFC 3339 timestamp with a time zone (UTC)")
        return value.astimezone(timezone.utc)

    @model_validator(mode="after")
    def _accepted_needs_suggestions(self) -> "FeedbackEntry":
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required when outcome is 'accepted'")
        if self.outcome == "accepted" and self.overrideReason is not None:
            raise ValueError("overrideReason is only for outcome 'overridden'")
        return self


class FeedbackRequest(_Lenient):
    feedback: tuple[FeedbackEntry, ...] = Field(min_length=1)
