"""Request bodies of reports and their review (they also make the OpenAPI document)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from signaling.http.validation import Body

TargetType = Literal["video", "comment", "user", "stream"]
FinalStatus = Literal["reviewed", "action_taken", "dismissed"]


class ReportCreate(Body):
    target_type: TargetType
    target_id: uuid.UUID
    reason: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=5000)


class ReportReview(Body):
    status: FinalStatus
