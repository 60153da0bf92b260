"""Request bodies of the comments API (they also make the OpenAPI document)."""

from __future__ import annotations

import uuid

from pydantic import field_validator

from signaling.http.validation import Body
from signaling.realtime import chat


class CommentText(Body):
    content: str

    @field_validator("content", mode="before")
    @classmethod
    def _clean(cls, value: object) -> str:
        return chat.clean(value)  # ChatRefused is a ValueError: a 422 naming the field


class CommentCreate(CommentText):
    parent_id: uuid.UUID | None = None
