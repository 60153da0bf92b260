"""Live recording: every live stream is tapped like a viewer and archived as it arrives.

The recorder taps a stream through the sfu's public interface (`Sfu.tap`, never metered or
billed) and remuxes the encoded frames into `part-NNNN.mkv` files (no decode, no re-encode).
A publisher that reconnects within the grace period continues the same recording with a new
part. When the stream stays ended, the recording becomes a `videos` row (status processing)
with a VOD job, and its stream_sessions point at it (`recording_id`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import structlog

from recorder.archive import ArchiveWriter
from recorder.jobs import enqueue
from recorder.live_thumbnail import THUMBNAIL_INTERVAL_S, LiveThumbnailer
from sfu import NotLive, Sfu

logger = structlog.get_logger(__name__)


@dataclass
class Recording:
    """One recording of a stream: parts from one or more publisher sessions."""

    id: uuid.UUID
    directory: Path
    parts: list[Path] = field(default_factory=list)
    sessions: list[uuid.UUID] = field(default_factory=list)
    task: asyncio.Task[Path | None] | None = None
    finalizer: asyncio.Task[None] | None = None


class LiveRecorder:
    """Records every live stream of one sfu into ``media_root/recordings``."""

    def __init__(
        self,
        sfu: Sfu,
        pool: asyncpg.Pool,
        media_root: Path,
        reconnect_grace_s: float = 10.0,
        thumbnail_interval_s: float = THUMBNAIL_INTERVAL_S,
    ) -> None:
        self.sfu = sfu
        self.pool = pool
        self.media_root = Path(media_root)
        self.root = self.media_root / "recordings"
        self.grace = reconnect_grace_s
        self.thumbnail_interval_s = thumbnail_interval_s
        self._recordings: dict[uuid.UUID, Recording] = {}

    def stream_live(self, stream_id: uuid.UUID, session_id: uuid.UUID | None) -> None:
        """Start (or continue, after a reconnect) recording a stream that just went live."""
        recording = self._recordings.get(stream_id)
        if recording is None or recording.finalizer is None or recording.finalizer.done():
            recording_id = uuid.uuid4()
            recording = Recording(recording_id, self.root / str(stream_id) / str(recording_id))
            self._recordings[stream_id] = recording
        else:
            recording.finalizer.cancel()  # reconnected in time: same recording, new part
            recording.finalizer = None
        if session_id is not None:
            recording.sessions.append(session_id)
        part = len(recording.parts) + 1
        recording.task = asyncio.create_task(self._archive(stream_id, recording, part))

    async def _archive(self, stream_id: uuid.UUID, recording: Recording, part: int) -> Path | None:
        try:
            tap = self.sfu.tap(str(stream_id))
        except NotLive:
            return None
        # Audio may start after the first video keyframe: ask for its track up front.
        writer = ArchiveWriter(recording.directory, part, expect_audio="audio" in tap.kinds)
        thumbnails = LiveThumbnailer(
            self.pool, self.media_root, stream_id, self.thumbnail_interval_s
        )
        try:
            async for frame in tap:
                writer.write(frame)
                thumbnails.offer(frame)
        finally:
            tap.close()
            await thumbnails.close()
            path = await asyncio.to_thread(writer.close)
        if path is not None:
            recording.parts.append(path)
        return path

    def stream_ended(self, stream_id: uuid.UUID) -> None:
        """The publisher left: finish the part; finalize unless it comes back in time."""
        recording = self._recordings.get(stream_id)
        if recording is None:
            return
        recording.finalizer = asyncio.create_task(self._finalize_later(stream_id, recording))

    async def _finalize_later(self, stream_id: uuid.UUID, recording: Recording) -> None:
        if recording.task is not None:
            await recording.task
        await asyncio.sleep(self.grace)
        self._recordings.pop(stream_id, None)
        if recording.parts:
            await self._create_video(stream_id, recording)

    async def _create_video(self, stream_id: uuid.UUID, recording: Recording) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            stream = await conn.fetchrow(
                """SELECT creator_id, title, description, price_per_second > 0 AS paid
                   FROM streams WHERE id = $1""",
                stream_id,
            )
            if stream is None:
                return  # deleted meanwhile; the parts stay on disk for an operator
            # A paid stream's recording stays private until its creator publishes it: viewers
            # paid per second for what would otherwise become free.
            video_id = await conn.fetchval(
                """INSERT INTO videos (creator_id, title, description, status, storage_url,
                                       is_private)
                   VALUES ($1, $2, $3, 'processing', $4, $5) RETURNING id""",
                stream["creator_id"],
                stream["title"],
                stream["description"],
                str(recording.directory),
                stream["paid"],
            )
            await conn.execute(
                "UPDATE stream_sessions SET recording_id = $1 WHERE id = ANY($2::uuid[])",
                video_id,
                recording.sessions,
            )
            await enqueue(
                conn,
                video_id,
                "live_recording",
                [str(p) for p in recording.parts],
                stream_id=stream_id,
            )
        logger.info(
            "recorder_recording_finished",
            stream_id=str(stream_id),
            video_id=str(video_id),
            parts=len(recording.parts),
        )

    async def close(self) -> None:
        """Server shutdown: finish every part and turn what was recorded into videos now."""
        for stream_id, recording in list(self._recordings.items()):
            if recording.finalizer is not None:
                recording.finalizer.cancel()
            if recording.task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await recording.task
            self._recordings.pop(stream_id, None)
            if recording.parts:
                await self._create_video(stream_id, recording)
