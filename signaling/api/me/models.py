"""Request bodies of my profile and my withdrawals (they also make the OpenAPI document)."""

from __future__ import annotations

from pydantic import Field, HttpUrl, field_validator

from signaling.http.validation import Body

AMOUNT = r"^[1-9][0-9]{0,37}$"


class ProfileUpdate(Body):
    username: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]{3,50}$")
    email: str | None = Field(default=None, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    bio: str | None = Field(default=None, max_length=2000)
    profile_image_url: HttpUrl | None = None
    is_creator: bool | None = None

    @field_validator("is_creator")
    @classmethod
    def _not_null(cls, value: bool | None) -> bool:
        if value is None:
            raise ValueError("must be true or false")
        return value


class WithdrawRequest(Body):
    amount: str = Field(pattern=AMOUNT, description="planck")
    to: str | None = Field(default=None, max_length=64, description="SS58 address; default: mine")
    fee: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,38}$",
        description="the quoted fee the viewer accepted (planck); 409 if the fee is now higher",
    )
