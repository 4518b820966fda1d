"""The CDS Hooks 2.0 feedback request (`POST {base}/cds-services/{id}/feedback`).

Every string is checked to be storable text (no NUL, no lone surrogate, a bounded length) and the
timestamp to be a real instant, so that whatever reaches the store can be written: a value the database
would refuse is the client's 400 here, naming the field, never a store error later.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from cds_service.errors import BadRequest

__all__ = [
    "MAX_ENTRIES",
    "AcceptedSuggestion",
    "FeedbackCoding",
    "FeedbackEntry",
    "FeedbackRequest",
    "OverrideReasonFeedback",
    "with_override_displays",
]

MAX_ENTRIES = 1000  # per request; an EHR sends a handful, and one statement must stay small for the store
MAX_ACCEPTED = 100  # accepted suggestions per entry (a card has a few)
ID_CHARS = 128  # card and suggestion uuids are ours (36 characters); the store's columns hold 128


def _storable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and no database driver can encode a lone surrogate.
    if "\x00" in value:
        raise ValueError("contains a NUL character (\\u0000), which cannot be stored")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate, which is not valid Unicode text") from None
    return value


def _text(max_length: int, min_length: int = 0) -> Any:
    return Annotated[str, Field(min_length=min_length, max_length=max_length), AfterValidator(_storable)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FeedbackCoding(_Lenient):
    system: _text(2048, 1)  # type: ignore[valid-type]
    code: _text(256, 1)  # type: ignore[valid-type]
    display: _text(1024) | None = None  # type: ignore[valid-type]


class AcceptedSuggestion(_Lenient):
    id: _text(ID_CHARS, 1)  # type: ignore[valid-type]


class OverrideReasonFeedback(_Lenient):
    reason: FeedbackCoding | None = None
    userComment: _text(4000) | None = None  # type: ignore[valid-type]


class FeedbackEntry(_Lenient):
    card: _text(ID_CHARS, 1)  # type: ignore[valid-type]
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: tuple[AcceptedSuggestion, ...] | None = Field(default=None, max_length=MAX_ACCEPTED)
    overrideReason: OverrideReasonFeedback | None = None
    outcomeTimestamp: datetime

    @field_validator("outcomeTimestamp", mode="before")
    @classmethod
    def _a_string(cls, value: object) -> object:
        # The spec's type is an ISO 8601 string; pydantic alone would also take Unix seconds.
        if not isinstance(value, str):
            raise ValueError("must be an RFC 3339 timestamp string with a time zone")
        return value

    @field_validator("outcomeTimestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must be an RFC 3339 timestamp with a time zone (UTC)")
        try:
            return value.astimezone(timezone.utc)
        except OverflowError:  # 9999-12-31T23:59:59-14:00 is past the last instant a datetime holds
            raise ValueError("is out of range: in UTC it falls outside the years 1 to 9999") from None

    @model_validator(mode="after")
    def _accepted_needs_suggestions(self) -> "FeedbackEntry":
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("acceptedSuggestions is required when outcome is 'accepted'")
        if self.outcome == "accepted" and self.overrideReason is not None:
            raise ValueError("overrideReason is only for outcome 'overridden'")
        return self


class FeedbackRequest(_Lenient):
    feedback: tuple[FeedbackEntry, ...] = Field(min_length=1, max_length=MAX_ENTRIES)


def with_override_displays(request: FeedbackRequest, *, system: str, displays: Mapping[str, str]) -> FeedbackRequest:
    """`request` with the display of each override reason from our own CodeSystem filled in when the client
    sent only system and code (the report then names the reason as the card offered it).

    A code under our system that the CodeSystem does not have is refused: it is not a reason we offered.
    """
    issues: list[dict[str, str]] = []
    entries = []
    for i, entry in enumerate(request.feedback):
        reason = entry.overrideReason.reason if entry.overrideReason else None
        if reason is None or reason.system != system:
            entries.append(entry)
            continue
        if reason.code not in displays:
            issues.append({"field": f"feedback[{i}].overrideReason.reason.code",
                           "problem": f"is not a code of {system} (its codes: {', '.join(sorted(displays))})"})
            continue
        if reason.display:
            entries.append(entry)
            continue
        filled = reason.model_copy(update={"display": displays[reason.code]})
        entries.append(entry.model_copy(update={
            "overrideReason": entry.overrideReason.model_copy(update={"reason": filled})  # type: ignore[union-attr]
        }))
    if issues:
        raise BadRequest(issues)
    return request.model_copy(update={"feedback": tuple(entries)})
