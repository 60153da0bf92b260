"""An upload on disk: `media_root/uploads/<id>/chunks/NNNNNN`, then
`media_root/uploads/<id>/source.<ext>` once assembled (hashed block by block on the way)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from pathlib import Path, PurePosixPath

import asyncpg
from aiohttp import web

from signaling.http.errors import ApiError

READ_BYTES = 64 * 1024
COPY_BYTES = 1024 * 1024


def upload_dir(media_root: Path, upload_id: uuid.UUID) -> Path:
    return Path(media_root) / "uploads" / str(upload_id)


def chunk_path(media_root: Path, upload_id: uuid.UUID, index: int) -> Path:
    return upload_dir(media_root, upload_id) / "chunks" / f"{index:06d}"


def source_path(media_root: Path, upload: asyncpg.Record) -> Path:
    """Where the assembled file goes (absolute: the VOD worker opens it)."""
    suffix = PurePosixPath(upload["filename"]).suffix.lower()
    return (upload_dir(media_root, upload["id"]) / f"source{suffix}").absolute()


def expected_chunk_size(upload: asyncpg.Record, index: int) -> int:
    """Every chunk has chunk_size bytes except the last, which has the rest."""
    size: int = upload["size"]
    chunk_size: int = upload["chunk_size"]
    chunk_count: int = upload["chunk_count"]
    if index < chunk_count - 1:
        return chunk_size
    return size - chunk_size * (chunk_count - 1)


def damaged_chunks(chunks: list[tuple[int, Path, int]]) -> list[int]:
    """Indices whose file is missing or of the wrong size (disk trouble since they arrived)."""
    return [i for i, path, size in chunks if not path.is_file() or path.stat().st_size != size]


def assemble(chunk_files: list[Path], target: Path, sha256: str) -> bool:
    """Concatenate the chunks into ``target`` while hashing, a block at a time.

    The result replaces ``target`` only if its SHA-256 is ``sha256``; False otherwise.
    """
    digest = hashlib.sha256()
    partial = target.with_name(target.name + ".part")
    with partial.open("wb") as out:
        for path in chunk_files:
            with path.open("rb") as chunk:
                while block := chunk.read(COPY_BYTES):
                    digest.update(block)
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != sha256:
        partial.unlink()
        return False
    partial.replace(target)
    return True


async def receive_body(request: web.Request, into: Path, limit: int) -> tuple[int, str]:
    """Stream the body into ``into`` (at most ``limit`` bytes, 413 beyond): (size, sha256)."""
    digest = hashlib.sha256()
    size = 0
    into.parent.mkdir(parents=True, exist_ok=True)
    with into.open("wb") as out:
        async for block in request.content.iter_chunked(READ_BYTES):
            size += len(block)
            if size > limit:
                raise ApiError(413, f"this chunk must be {limit} bytes; the body is longer")
            digest.update(block)
            out.write(block)
        await asyncio.to_thread(os.fsync, out.fileno())
    return size, digest.hexdigest()
