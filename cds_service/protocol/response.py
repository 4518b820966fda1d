"""The CDS Hooks 2.0 response: cards, suggestions, actions, links.

The models enforce the checklist (summary under 140 characters, `selectionBehavior` whenever there are
suggestions, `display` on override reasons) and serialise without nulls or empty arrays. They are the
contract of the response: the render step builds the cards as plain JSON on every call, and the tests
check that every card it renders (every scenario, every fixture, every hook) is exactly what these models
accept and would serialise.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Action", "Card", "CdsResponse", "Coding", "Link", "Source", "Suggestion"]

MAX_SUMMARY_CHARS = 139  # the spec says "<140 characters"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Coding(_Model):
    system: str
    code: str
    display: str | None = None


class Source(_Model):
    label: str = Field(min_length=1)
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(_Model):
    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> "Action":
        if self.type in ("create", "update") and self.resource is None:
            raise ValueError(f"a {self.type} action needs a resource")
        if self.type in ("create", "update") and not self.resource.get("id"):  # type: ignore[union-attr]
            raise ValueError(f"a {self.type} action's resource needs an id")
        if self.type == "delete" and not self.resourceId:
            raise ValueError("a delete action needs a resourceId")
        return self


class Suggestion(_Model):
    label: str = Field(min_length=1)
    uuid: str
    isRecommended: bool | None = None
    actions: tuple[Action, ...] | None = None

    @field_validator("actions")
    @classmethod
    def _no_empty(cls, value: tuple[Action, ...] | None) -> tuple[Action, ...] | None:
        return value or None


class Link(_Model):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None


class OverrideReason(_Model):
    system: str
    code: str
    display: str = Field(min_length=1)


class Card(_Model):
    uuid: str
    summary: str = Field(min_length=1, max_length=MAX_SUMMARY_CHARS)
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: tuple[Suggestion, ...] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: tuple[OverrideReason, ...] | None = None
    links: tuple[Link, ...] | None = None
    # CDS Hooks 2.0 extensions on a card; this service names the nodes a card carries (render/cards.py).
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _selection_behavior(self) -> "Card":
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("a card with suggestions needs selectionBehavior")
        if not self.suggestions and self.selectionBehavior is not None:
            raise ValueError("selectionBehavior without suggestions")
        return self

    @field_validator("suggestions", "overrideReasons", "links")
    @classmethod
    def _no_empty_arrays(cls, value: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        return value or None


class CdsResponse(_Model):
    cards: tuple[Card, ...] = ()
    # Globally unique keys only (spec §7); we use it for data issues in the input.
    extension: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        body = self.model_dump(mode="json", exclude_none=True)
        body.setdefault("cards", [])  # `{"cards": []}` is the one empty array the spec asks for
        return body
