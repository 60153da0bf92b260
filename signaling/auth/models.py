"""Request bodies of the sign-in endpoints (they also make the OpenAPI document)."""

from __future__ import annotations

from pydantic import Field

from signaling.http.validation import Body


class NonceRequest(Body):
    address: str = Field(min_length=1, max_length=64)


class VerifyRequest(Body):
    address: str = Field(min_length=1, max_length=64)
    message: str = Field(min_length=1, max_length=2048)
    signature: str = Field(min_length=2, max_length=256)


class DevTopUp(Body):
    amount: str = Field(pattern=r"^[1-9][0-9]{0,30}$", description="planck, at most 10^31-1")


class DevLogin(Body):
    uri: str = Field(min_length=3, max_length=16, description="one of //Alice … //Ferdie")
