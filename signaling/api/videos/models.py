"""Request bodies of the videos API (they also make the OpenAPI document)."""

from __future__ import annotations

import uuid

from pydantic import Field

from signaling.http.validation import Body


class VideoUpdate(Body):
    title: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=5000)


class ViewReport(Body):
    view_duration: float = Field(ge=0, description="seconds watched")
    watch_completion: float = Field(ge=0, le=100, description="percent of the video")
    # The page's id for one playback: later reports of it update the row instead of adding one.
    playback_id: uuid.UUID | None = None
