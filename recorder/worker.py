"""VOD worker: lease a job, process it in a thread while renewing the lease, publish once.

Run several (processes or tasks); they share the queue through ``FOR UPDATE SKIP LOCKED``.
A killed worker loses only its lease: after ``lease_s`` another worker takes the job over.
Each attempt stages its files in ``videos/.staging/<video>-<attempt>/`` and moves them to
``videos/<video>/`` in the transaction that marks the job done, so a worker that lost its
lease never overwrites the winner's files.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from contextlib import suppress
from pathlib import Path

import asyncpg
import structlog

from recorder.errors import InvalidMedia
from recorder.jobs import (
    INTERNAL_FAILURE,
    Job,
    LeaseLost,
    Progress,
    complete,
    fail,
    hold,
    lease,
    renew,
)
from recorder.ladder import LadderSettings
from recorder.publish import publish_result
from recorder.vod import VodResult, process_video, video_dir

logger = structlog.get_logger(__name__)

STAGING = ".staging"


def default_owner() -> str:
    """A lease owner name unique to this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_vod_worker(
    pool: asyncpg.Pool,
    media_root: Path,
    stop_event: asyncio.Event,
    *,
    owner: str | None = None,
    lease_s: float = 30.0,
    poll_s: float = 1.0,
    settings: LadderSettings | None = None,
    media_url_prefix: str = "/media",
) -> None:
    """Process jobs until ``stop_event`` is set (a job in hand is finished first)."""
    owner = owner or default_owner()
    media_root = Path(media_root)
    logger.info("vod_worker_started", owner=owner, lease_s=lease_s)
    while not stop_event.is_set():
        job = await lease(pool, owner, lease_s)
        if job is None:
            with suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), poll_s)
            continue
        runner = _JobRun(pool, job, owner, lease_s, media_root, settings, media_url_prefix)
        await runner.run()
    logger.info("vod_worker_stopped", owner=owner)


class _JobRun:
    """One attempt at one job."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        job: Job,
        owner: str,
        lease_s: float,
        media_root: Path,
        settings: LadderSettings | None,
        media_url_prefix: str,
    ) -> None:
        self.pool, self.job, self.owner, self.lease_s = pool, job, owner, lease_s
        self.media_root, self.settings, self.media_url_prefix = (
            media_root,
            settings,
            media_url_prefix,
        )
        self.progress = Progress()
        self.lost = threading.Event()
        self.final_dir = video_dir(media_root, str(job.video_id))
        self.staging = media_root / "videos" / STAGING / f"{job.video_id}-{job.attempts}"

    async def run(self) -> None:
        log = logger.bind(job_id=str(self.job.id), owner=self.owner, attempt=self.job.attempts)
        _clear_old_staging(self.staging)
        keeper = asyncio.create_task(self._keep_lease())
        try:
            result = await asyncio.to_thread(self._process)
            keeper.cancel()
            await self._publish(result)
            log.info("vod_job_published", video_id=str(self.job.video_id))
        except LeaseLost:
            log.warning("vod_job_lease_lost")
        except InvalidMedia as exc:
            await fail(
                self.pool, self.job, self.owner, str(exc), retryable=False, reason=exc.reason
            )
        except Exception as exc:  # any other failure: retry while attempts remain
            log.exception("vod_job_error")
            await fail(
                self.pool,
                self.job,
                self.owner,
                f"{type(exc).__name__}: {exc}",
                retryable=True,
                reason=INTERNAL_FAILURE,
            )
        finally:
            keeper.cancel()
            with suppress(asyncio.CancelledError):
                await keeper
            shutil.rmtree(self.staging, ignore_errors=True)

    def _process(self) -> VodResult:
        return process_video(
            str(self.job.video_id),
            self.job.source_paths,
            self.media_root,
            self.settings,
            on_progress=self._on_progress,
            out_dir=self.staging,
        )

    def _on_progress(self, step: str, percent: float, per_rendition: dict[str, float]) -> None:
        """Called from the transcoding thread: note progress, stop if the lease is gone."""
        if self.lost.is_set():
            raise LeaseLost(str(self.job.id))
        self.progress = Progress(step, percent, dict(per_rendition))

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await renew(self.pool, self.job, self.owner, self.lease_s, self.progress)
            except LeaseLost:
                self.lost.set()
                return
            except (OSError, asyncpg.PostgresError) as exc:  # try again on the next beat
                logger.warning("vod_lease_renew_failed", job_id=str(self.job.id), error=str(exc))

    async def _publish(self, result: VodResult) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await hold(conn, self.job, self.owner)
            await publish_result(
                conn, self.job, result, self.final_dir, self.media_root, self.media_url_prefix
            )
            await complete(conn, self.job, self.owner)
            # Last: rows that fail to store leave the previous files (and the staging) as they were.
            _move_into_place(self.staging, self.final_dir)


def _move_into_place(staging: Path, final_dir: Path) -> None:
    """Replace ``final_dir`` with ``staging`` (we hold the job row lock: nobody races us)."""
    if final_dir.exists():
        shutil.rmtree(final_dir)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(final_dir)


def _clear_old_staging(staging: Path) -> None:
    """Remove earlier attempts' leftovers for this video (their workers lost the lease)."""
    prefix = staging.name.rsplit("-", 1)[0]
    for old in staging.parent.glob(f"{prefix}-*"):
        shutil.rmtree(old, ignore_errors=True)
