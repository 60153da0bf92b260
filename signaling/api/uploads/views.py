"""The JSON view of an upload: its layout, and which chunks arrived (to resume)."""

from __future__ import annotations

from typing import Any

import asyncpg

from signaling.http.json import rfc3339_or_none


def upload_view(upload: asyncpg.Record, chunks: list[asyncpg.Record]) -> dict[str, Any]:
    received = [c["chunk_index"] for c in chunks]
    have = set(received)
    return {
        "id": str(upload["id"]),
        "filename": upload["filename"],
        "content_type": upload["content_type"],
        "size": upload["size"],
        "sha256": upload["sha256"],
        "chunk_size": upload["chunk_size"],
        "chunk_count": upload["chunk_count"],
        "title": upload["title"],
        "description": upload["description"],
        "status": upload["status"],
        "failure": upload["failure"],
        "received_chunks": received,
        "missing_chunks": [i for i in range(upload["chunk_count"]) if i not in have],
        "bytes_received": sum(c["size"] for c in chunks),
        "video_id": str(upload["video_id"]) if upload["video_id"] else None,
        "created_at": rfc3339_or_none(upload["created_at"]),
        "completed_at": rfc3339_or_none(upload["completed_at"]),
    }
