"""Resumable chunked uploads of video files.

`POST /api/uploads` declares a file (size, whole-file SHA-256, title…) and gets its chunk layout;
`PUT /api/uploads/{id}/chunks/{n}` stores one chunk (any order; each checked against its
`X-Chunk-SHA256`; a retry with the same bytes is harmless, other bytes are refused);
`GET /api/uploads/{id}` says which chunks arrived, to resume; `POST /api/uploads/{id}/complete`
assembles the file while hashing it, creates the video and queues its 'upload' VOD job.

On disk: `media_root/uploads/<id>/chunks/NNNNNN`, then `media_root/uploads/<id>/source.<ext>`.
A chunk row is written only in the transaction that moves its verified bytes into place.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import uuid
from pathlib import Path, PurePosixPath

import asyncpg
import structlog
from aiohttp import web

from recorder import enqueue
from signaling.api.uploads import queries as uploads_db
from signaling.api.uploads.files import (
    assemble,
    chunk_path,
    damaged_chunks,
    expected_chunk_size,
    receive_body,
    source_path,
    upload_dir,
)
from signaling.api.uploads.models import EXTENSIONS, UploadCreate
from signaling.api.uploads.views import upload_view
from signaling.auth.roles import require_creator, require_owner
from signaling.auth.sessions import require_user
from signaling.http.errors import ApiError
from signaling.http.validation import parse_uuid, read_json
from signaling.keys import CONFIG, PG

logger = structlog.get_logger(__name__)

routes = web.RouteTableDef()

CHUNK_SHA_HEADER = "X-Chunk-SHA256"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


# -- checks ------------------------------------------------------------------------


def _check_type(body: UploadCreate) -> None:
    suffix = PurePosixPath(body.filename).suffix.lower()
    if not body.content_type.lower().startswith("video/"):
        raise ApiError(415, f"content_type {body.content_type!r} is not a video/* type")
    if suffix not in EXTENSIONS:
        raise ApiError(415, f"{body.filename}: accepted file types are {', '.join(EXTENSIONS)}")


def _chunk_size(request: web.Request, body: UploadCreate) -> int:
    config = request.app[CONFIG]
    if body.size > config.uploads.upload_max_bytes:
        raise ApiError(413, f"files up to {config.uploads.upload_max_bytes} bytes are accepted")
    chunk = body.chunk_size or config.uploads.upload_chunk_bytes
    if chunk > config.uploads.upload_max_chunk_bytes or (
        chunk < config.uploads.upload_min_chunk_bytes and chunk < body.size
    ):
        raise ApiError(
            422,
            f"chunk_size: must be from {config.uploads.upload_min_chunk_bytes} to "
            f"{config.uploads.upload_max_chunk_bytes} bytes",
            "invalid_field",
        )
    return min(chunk, body.size)


async def _own_upload(request: web.Request) -> asyncpg.Record:
    user = await require_user(request)
    upload_id = parse_uuid(request.match_info["upload_id"], "upload")
    upload = await uploads_db.by_id(request.app[PG], upload_id)
    if upload is None:
        raise ApiError(404, f"no upload {upload_id}")
    require_owner(user, upload, "only the uploader may do this")
    return upload


def _chunk_index(request: web.Request, upload: asyncpg.Record) -> int:
    raw = request.match_info["index"]
    if not raw.isdigit() or int(raw) >= upload["chunk_count"]:
        raise ApiError(404, f"no chunk {raw!r}: chunks are 0 to {upload['chunk_count'] - 1}")
    return int(raw)


def _declared_sha(request: web.Request) -> str:
    value = request.headers.get(CHUNK_SHA_HEADER, "").strip().lower()
    if not _SHA256.match(value):
        raise ApiError(400, f"send the chunk's SHA-256 as 64 hex digits in {CHUNK_SHA_HEADER}")
    return value


def _require_receiving(upload: asyncpg.Record) -> None:
    if upload["status"] != "receiving":
        raise ApiError(409, f"this upload is {upload['status']}; it takes no more chunks")


# -- handlers --------------------------------------------------------------------------------


@routes.post("/api/uploads")
async def create_upload(request: web.Request) -> web.Response:
    user = await require_creator(
        request, "only creators can upload videos (PATCH /api/me is_creator=true)"
    )
    body = await read_json(request, UploadCreate)
    _check_type(body)
    chunk = _chunk_size(request, body)
    fields = {
        **body.model_dump(),
        "sha256": body.sha256.lower(),
        "chunk_size": chunk,
        "chunk_count": -(-body.size // chunk),
    }
    config = request.app[CONFIG]
    upload = await uploads_db.create(
        request.app[PG],
        user["id"],
        fields,
        uploads_db.Quota(
            config.uploads.upload_max_open_per_creator, config.uploads.upload_quota_bytes
        ),
    )
    if upload == "open":
        raise ApiError(
            429,
            f"at most {config.uploads.upload_max_open_per_creator} uploads in "
            "progress; complete or wait for one first",
        )
    if isinstance(upload, str):  # "bytes", the quota's other refusal
        raise ApiError(
            413,
            f"uploads in progress may hold {config.uploads.upload_quota_bytes} "
            "bytes together; this one would exceed that",
        )
    logger.info(
        "upload_created", upload_id=str(upload["id"]), size=body.size, chunks=upload["chunk_count"]
    )
    return web.json_response(upload_view(upload, []), status=201)


@routes.get("/api/uploads/{upload_id}")
async def get_upload(request: web.Request) -> web.Response:
    upload = await _own_upload(request)
    chunks = await uploads_db.received_chunks(request.app[PG], upload["id"])
    return web.json_response(upload_view(upload, chunks))


@routes.put("/api/uploads/{upload_id}/chunks/{index}")
async def put_chunk(request: web.Request) -> web.Response:
    upload = await _own_upload(request)
    _require_receiving(upload)
    index = _chunk_index(request, upload)
    if request.content_type != "application/octet-stream":
        raise ApiError(415, "send chunk bytes as Content-Type: application/octet-stream")
    declared = _declared_sha(request)
    expected = expected_chunk_size(upload, index)
    if request.content_length is not None and request.content_length > expected:
        raise ApiError(413, f"chunk {index} must be {expected} bytes")
    media_root = request.app[CONFIG].media.media_root
    temp = chunk_path(media_root, upload["id"], index).with_name(f"{index:06d}.{uuid.uuid4().hex}")
    try:
        size, actual = await receive_body(request, temp, expected)
        if size != expected:
            raise ApiError(400, f"chunk {index} must be {expected} bytes; {size} arrived")
        if actual != declared:
            raise ApiError(
                422,
                f"chunk {index}: the bytes received have SHA-256 {actual}, not "
                f"{declared}; nothing was stored, send it again",
                "checksum_mismatch",
            )
        created = await _store_chunk(request.app[PG], upload, index, temp, actual, size)
    finally:
        temp.unlink(missing_ok=True)
    return web.json_response(
        {"index": index, "size": size, "sha256": actual}, status=201 if created else 200
    )


async def _store_chunk(
    pool: asyncpg.Pool, upload: asyncpg.Record, index: int, temp: Path, sha256: str, size: int
) -> bool:
    """Move verified bytes into place with their row; True if new, False for a same-bytes retry."""
    async with pool.acquire() as conn, conn.transaction():
        if await uploads_db.record_chunk(conn, upload["id"], index, size, sha256):
            await asyncio.to_thread(temp.replace, temp.with_name(f"{index:06d}"))
            return True
        stored = await uploads_db.chunk(conn, upload["id"], index)
    assert stored is not None  # record_chunk found the (upload, index) row taken
    if stored["sha256"] != sha256:
        raise ApiError(
            409,
            f"chunk {index} is already stored with other bytes (SHA-256 {stored['sha256']})",
            "chunk_conflict",
        )
    return False


@routes.post("/api/uploads/{upload_id}/complete")
async def complete_upload(request: web.Request) -> web.Response:
    upload = await _own_upload(request)
    if upload["status"] == "complete":  # a retry after a lost response
        return _accepted(upload["id"], upload["video_id"])
    if upload["status"] == "failed":
        raise ApiError(409, f"this upload failed: {upload['failure']}; start a new one")
    pool = request.app[PG]
    chunks = await uploads_db.received_chunks(pool, upload["id"])
    missing = upload_view(upload, chunks)["missing_chunks"]
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (" …" if len(missing) > 20 else "")
        raise ApiError(409, f"chunks missing: {shown}", "chunks_missing")
    if not await uploads_db.claim_for_assembly(pool, upload["id"]):
        raise ApiError(409, "this upload is being completed by another request")
    try:
        video_id = await _assemble_and_queue(request, upload, chunks)
    except BaseException:
        await uploads_db.release(pool, upload["id"])
        raise
    return _accepted(upload["id"], video_id)


async def _assemble_and_queue(
    request: web.Request, upload: asyncpg.Record, chunks: list[asyncpg.Record]
) -> uuid.UUID:
    pool, media_root = request.app[PG], request.app[CONFIG].media.media_root
    parts = [
        (c["chunk_index"], chunk_path(media_root, upload["id"], c["chunk_index"]), c["size"])
        for c in chunks
    ]
    damaged = await asyncio.to_thread(damaged_chunks, parts)
    if damaged:
        for index in damaged:
            await uploads_db.forget_chunk(pool, upload["id"], index)
        raise ApiError(
            409, f"chunks lost on the server, send them again: {damaged}", "chunks_missing"
        )
    source = source_path(media_root, upload)
    if not await asyncio.to_thread(assemble, [p for _, p, _ in parts], source, upload["sha256"]):
        await uploads_db.fail(pool, upload["id"], "the assembled file does not match its sha256")
        await asyncio.to_thread(shutil.rmtree, upload_dir(media_root, upload["id"]), True)
        logger.warning("upload_checksum_mismatch", upload_id=str(upload["id"]))
        raise ApiError(
            422,
            "the assembled file's SHA-256 is not the declared sha256; the upload "
            "is discarded, start a new one",
            "checksum_mismatch",
        )
    async with pool.acquire() as conn, conn.transaction():
        video_id = await uploads_db.create_video(conn, upload)
        await enqueue(conn, video_id, "upload", [str(source)])
        await uploads_db.mark_complete(conn, upload["id"], video_id)
    await asyncio.to_thread(shutil.rmtree, source.parent / "chunks", True)
    logger.info("upload_complete", upload_id=str(upload["id"]), video_id=str(video_id))
    return video_id


def _accepted(upload_id: uuid.UUID, video_id: uuid.UUID | None) -> web.Response:
    return web.json_response(
        {
            "upload_id": str(upload_id),
            "video_id": str(video_id) if video_id else None,
            "status": "processing",
            "video_url": f"/api/videos/{video_id}",
        },
        status=202,
    )
