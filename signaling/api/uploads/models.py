"""The body that declares an upload (it also makes the OpenAPI document)."""

from __future__ import annotations

from pathlib import PurePosixPath

from pydantic import Field, field_validator

from signaling.http.validation import Body

EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm")


class UploadCreate(Body):
    filename: str = Field(min_length=1, max_length=255)
    size: int = Field(gt=0, description="bytes of the whole file")
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", description="of the whole file, hex")
    chunk_size: int | None = Field(default=None, gt=0)
    title: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=5000)
    content_type: str = Field(min_length=1, max_length=100)

    @field_validator("filename")
    @classmethod
    def _base_name(cls, value: str) -> str:
        """Only the name counts (browsers may send a path); it never names a file on disk."""
        name = PurePosixPath(value.replace("\\", "/")).name
        if not name:
            raise ValueError("must name a file")
        return name
