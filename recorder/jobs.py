"""The VOD job queue in PostgreSQL (table ``vod_jobs``, migration 0020).

Lease protocol: :func:`lease` takes the oldest available job with ``FOR UPDATE SKIP LOCKED``
(queued, or running with an expired lease), stamps the owner and an expiry, and counts the
attempt. The owner :func:`renew`s while working; every later write is guarded by
``lease_owner = $owner AND status = 'running'``, so a worker that lost its lease (it was
presumed dead) changes nothing. :func:`complete` runs inside the caller's transaction together
with the result rows: the job is done exactly once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import structlog
from prometheus_client import Counter

logger = structlog.get_logger(__name__)

KINDS = ("live_recording", "upload")
RETRY_BACKOFF_S = 5.0
# What the creator reads when a job fails for a reason that is ours, not their file's.
INTERNAL_FAILURE = "an internal error stopped processing; the operators have the details"

JOBS = Counter("vilokanam_vod_jobs_total", "VOD job attempts by outcome", ["outcome"])

_ENQUEUE = """
INSERT INTO vod_jobs (video_id, kind, stream_id, source_paths, max_attempts)
VALUES ($1, $2, $3, $4, $5)
RETURNING id
"""

_MARK_VIDEO_PROCESSING = "UPDATE videos SET status = 'processing' WHERE id = $1"

# Jobs whose last lease expired with no attempt left are failed, not leased again.
_EXPIRE_EXHAUSTED = """
WITH dead AS (
    UPDATE vod_jobs
       SET status = 'failed', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
           last_error = coalesce(last_error, 'worker lost its lease') || ' (no attempts left)',
           failure_reason = 'processing was interrupted (' || attempts || ' attempt'
                            || CASE WHEN attempts = 1 THEN ')' ELSE 's)' END
     WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
 RETURNING video_id
)
UPDATE videos SET status = 'failed' WHERE id IN (SELECT video_id FROM dead)
"""

_LEASE = """
WITH next AS (
    SELECT id FROM vod_jobs
     WHERE (status = 'queued' AND available_at <= now())
        OR (status = 'running' AND lease_expires_at < now() AND attempts < max_attempts)
     ORDER BY created_at
     LIMIT 1
       FOR UPDATE SKIP LOCKED
)
UPDATE vod_jobs j
   SET status = 'running', attempts = j.attempts + 1, lease_owner = $1,
       lease_expires_at = now() + make_interval(secs => $2),
       progress = 0, current_step = 'leased', rendition_progress = '{}'::jsonb
  FROM next
 WHERE j.id = next.id
RETURNING j.id, j.video_id, j.kind, j.stream_id, j.source_paths, j.attempts, j.max_attempts
"""

_RENEW = """
UPDATE vod_jobs
   SET lease_expires_at = now() + make_interval(secs => $3),
       progress = $4, current_step = $5, rendition_progress = $6::jsonb
 WHERE id = $1 AND lease_owner = $2 AND status = 'running'
RETURNING id
"""

# Locks the job row for the rest of the caller's transaction: nobody re-leases it meanwhile.
_HOLD = """
SELECT id FROM vod_jobs
 WHERE id = $1 AND lease_owner = $2 AND status = 'running'
   FOR UPDATE
"""

_COMPLETE = """
UPDATE vod_jobs
   SET status = 'done', finished_at = now(), progress = 100, current_step = 'done',
       lease_owner = NULL, lease_expires_at = NULL, last_error = NULL, failure_reason = NULL
 WHERE id = $1 AND lease_owner = $2 AND status = 'running'
RETURNING id
"""

_FAIL = """
UPDATE vod_jobs
   SET status = CASE WHEN $4 AND attempts < max_attempts THEN 'queued' ELSE 'failed' END,
       available_at = now() + make_interval(secs => $5),
       finished_at = CASE WHEN $4 AND attempts < max_attempts THEN NULL ELSE now() END,
       lease_owner = NULL, lease_expires_at = NULL, last_error = $3, failure_reason = $6
 WHERE id = $1 AND lease_owner = $2 AND status = 'running'
RETURNING status, video_id
"""


# The failed video, locked, with its last job's sources: what a retry queues again.
_FAILED_VIDEO_LAST_JOB = """
SELECT j.kind, j.stream_id, j.source_paths, j.max_attempts
  FROM videos v
  JOIN LATERAL (SELECT kind, stream_id, source_paths, max_attempts FROM vod_jobs
                 WHERE video_id = v.id ORDER BY created_at DESC LIMIT 1) j ON true
 WHERE v.id = $1 AND v.status = 'failed' AND v.deleted_at IS NULL
   FOR UPDATE OF v
"""


class LeaseLost(Exception):
    """This worker no longer owns the job (its lease expired and someone else took it)."""


@dataclass(frozen=True)
class Job:
    """A leased job."""

    id: UUID
    video_id: UUID
    kind: str
    stream_id: UUID | None
    source_paths: list[str]
    attempts: int
    max_attempts: int


@dataclass
class Progress:
    """Latest progress of the running job, written to the row on each renewal."""

    step: str = "leased"
    percent: float = 0.0
    per_rendition: dict[str, float] | None = None


async def enqueue(
    conn: asyncpg.Connection | asyncpg.Pool,
    video_id: UUID,
    kind: str,
    source_paths: Sequence[str],
    *,
    stream_id: UUID | None = None,
    max_attempts: int = 3,
) -> UUID:
    """Queue a job for ``video_id`` and mark the video as processing; returns the job id."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if kind == "live_recording" and stream_id is None:
        raise ValueError("a live recording job needs its stream_id")
    async with _transaction(conn) as tx:
        job_id: UUID = await tx.fetchval(
            _ENQUEUE, video_id, kind, stream_id, [str(p) for p in source_paths], max_attempts
        )
        await tx.execute(_MARK_VIDEO_PROCESSING, video_id)
    logger.info("vod_job_enqueued", job_id=str(job_id), video_id=str(video_id), kind=kind)
    return job_id


async def retry_failed(pool: asyncpg.Pool, video_id: UUID) -> UUID | None:
    """Queue a failed video's processing again (a new job over its last job's sources, with
    fresh attempts; the failed job stays as history). None, and nothing queued, when the video
    is not failed (ready, processing, deleted, or retried already: the row lock makes a second
    concurrent retry see 'processing') or when a recording's stream is gone."""
    async with pool.acquire() as conn, conn.transaction():
        last = await conn.fetchrow(_FAILED_VIDEO_LAST_JOB, video_id)
        if last is None or (last["kind"] == "live_recording" and last["stream_id"] is None):
            return None
        job_id = await enqueue(
            conn,
            video_id,
            last["kind"],
            last["source_paths"],
            stream_id=last["stream_id"],
            max_attempts=last["max_attempts"],
        )
    logger.info("vod_job_retried", job_id=str(job_id), video_id=str(video_id))
    return job_id


async def lease(pool: asyncpg.Pool, owner: str, lease_s: float) -> Job | None:
    """Take the next available job for ``lease_s`` seconds, or None."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_EXPIRE_EXHAUSTED)
        row = await conn.fetchrow(_LEASE, owner, float(lease_s))
    if row is None:
        return None
    job = Job(**dict(row))
    logger.info("vod_job_leased", job_id=str(job.id), owner=owner, attempt=job.attempts)
    return job


async def renew(
    pool: asyncpg.Pool, job: Job, owner: str, lease_s: float, progress: Progress
) -> None:
    """Extend the lease and record progress; raise :class:`LeaseLost` if it is gone."""
    renewed = await pool.fetchval(
        _RENEW,
        job.id,
        owner,
        float(lease_s),
        round(min(100.0, max(0.0, progress.percent)), 2),
        progress.step,
        json.dumps(progress.per_rendition or {}),
    )
    if renewed is None:
        raise LeaseLost(str(job.id))


async def hold(conn: asyncpg.Connection, job: Job, owner: str) -> None:
    """Inside a transaction: lock the job row if we still own it, else raise LeaseLost."""
    if await conn.fetchval(_HOLD, job.id, owner) is None:
        raise LeaseLost(str(job.id))


async def complete(conn: asyncpg.Connection, job: Job, owner: str) -> None:
    """Inside the caller's transaction (with the result rows): mark the job done."""
    if await conn.fetchval(_COMPLETE, job.id, owner) is None:
        raise LeaseLost(str(job.id))
    JOBS.labels("done").inc()
    logger.info("vod_job_done", job_id=str(job.id), owner=owner, attempt=job.attempts)


async def fail(
    pool: asyncpg.Pool, job: Job, owner: str, error: str, *, retryable: bool, reason: str
) -> str | None:
    """Record a failed attempt: queued again (with back-off) if retryable and attempts remain,
    else failed (and the video with it). ``error`` is the operator's detail, ``reason`` what
    the creator is shown. Returns the new status, None if the lease was lost."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            _FAIL, job.id, owner, error[:2000], retryable, RETRY_BACKOFF_S, reason[:500]
        )
        if row is None:
            return None
        if row["status"] == "failed":
            await conn.execute("UPDATE videos SET status = 'failed' WHERE id = $1", job.video_id)
    JOBS.labels("failed" if row["status"] == "failed" else "retried").inc()
    status: str = row["status"]
    logger.warning("vod_job_failed", job_id=str(job.id), status=status, error=error[:200])
    return status


@asynccontextmanager
async def _transaction(
    conn: asyncpg.Connection | asyncpg.Pool,
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on ``conn``, or on a connection taken from it if it is a pool."""
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as acquired, acquired.transaction():
            yield acquired
    else:
        async with conn.transaction():
            yield conn
