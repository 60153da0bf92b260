"""Request bodies of the streams API (they also make the OpenAPI document)."""

from __future__ import annotations

import uuid

from pydantic import Field

from signaling.http.validation import Body

# Prices are planck as decimal strings: u128 does not fit a JS number.
PRICE_PATTERN = r"^(0|[1-9][0-9]{0,37})$"


class StreamCreate(Body):
    title: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=5000)
    category_id: uuid.UUID | None = None
    price_per_second: str = Field(pattern=PRICE_PATTERN, description="planck per second")


class StreamUpdate(Body):
    title: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=5000)
    category_id: uuid.UUID | None = None
    price_per_second: str | None = Field(default=None, pattern=PRICE_PATTERN)
