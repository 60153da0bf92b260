"""Request bodies of the categories API (they also make the OpenAPI document)."""

from __future__ import annotations

from pydantic import Field

from signaling.http.validation import Body


class CategoryCreate(Body):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)


class CategoryUpdate(Body):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
