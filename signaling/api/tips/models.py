"""The request body of a tip (it also makes the OpenAPI document)."""

from __future__ import annotations

from pydantic import Field

from signaling.api.me.models import AMOUNT
from signaling.http.validation import Body

MAX_MESSAGE_CHARS = 200


class TipRequest(Body):
    amount: str = Field(pattern=AMOUNT, description="planck, a positive integer as a string")
    message: str = Field(default="", max_length=MAX_MESSAGE_CHARS, description="shown in chat")
