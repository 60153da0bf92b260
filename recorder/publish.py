"""Write a processed video's results into PostgreSQL (inside the job's completing transaction)."""

from __future__ import annotations

import json
from math import gcd
from pathlib import Path

import asyncpg

from recorder import columns
from recorder.jobs import Job
from recorder.vod import VodResult

_UPDATE_VIDEO = """
UPDATE videos
   SET duration = $2, width = $3, height = $4, file_size = $5, thumbnail_url = $6,
       storage_url = $7, processing_job_id = $8, status = 'ready',
       published_at = coalesce(published_at, now())
 WHERE id = $1
"""

_UPSERT_METADATA = """
INSERT INTO video_metadata (video_id, format, codec, audio_codec, frame_rate, aspect_ratio,
                            extra_data)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
ON CONFLICT (video_id) DO UPDATE
   SET format = EXCLUDED.format, codec = EXCLUDED.codec, audio_codec = EXCLUDED.audio_codec,
       frame_rate = EXCLUDED.frame_rate, aspect_ratio = EXCLUDED.aspect_ratio,
       extra_data = coalesce(video_metadata.extra_data, '{}'::jsonb) || EXCLUDED.extra_data
"""

_INSERT_VERSION = """
INSERT INTO video_versions (video_id, resolution, bitrate, file_size, storage_url)
VALUES ($1, $2, $3, $4, $5)
"""

ASPECT_RATIO_LENGTH = 20  # VARCHAR(20)

_ARCHIVE_STREAM = """
UPDATE streams SET recording_url = $2, status = 'archived' WHERE id = $1
"""


def media_url(media_url_prefix: str, media_root: Path, path: Path) -> str:
    """Public URL of a file under the media root."""
    return f"{media_url_prefix.rstrip('/')}/{path.relative_to(media_root).as_posix()}"


async def publish_result(
    conn: asyncpg.Connection,
    job: Job,
    result: VodResult,
    final_dir: Path,
    media_root: Path,
    media_url_prefix: str,
) -> None:
    """Fill videos, video_metadata, video_versions (and the stream for a live recording).

    ``result`` paths may point at a staging folder; URLs are made for ``final_dir``.
    """

    def url(path: Path) -> str:
        return media_url(
            media_url_prefix, media_root, final_dir / path.relative_to(result.video_dir)
        )

    probe = result.probe
    master_url = url(result.master_playlist)
    await conn.execute(
        _UPDATE_VIDEO,
        job.video_id,
        columns.integer(result.duration_s),
        columns.integer(probe.width, minimum=1),
        columns.integer(probe.height, minimum=1),
        columns.bigint(result.source_size),
        url(result.thumbnail_path),
        master_url,
        str(job.id),
    )
    extra = {
        "hls_master": master_url,
        "sources": len(job.source_paths),
        "source_bit_rate": columns.bigint(probe.bit_rate),
        "renditions": [
            {
                "name": r.rendition.name,
                "width": r.rendition.width,
                "height": r.rendition.height,
                "hls": url(r.playlist_path),
                "codecs": r.codecs,
            }
            for r in result.renditions
        ],
    }
    await conn.execute(
        _UPSERT_METADATA,
        job.video_id,
        columns.varchar(probe.format_name, 50),
        columns.varchar(probe.video_codec, 50),
        columns.varchar(probe.audio_codec, 50),
        columns.numeric(probe.frame_rate, 5, 2),
        aspect_ratio(probe.width, probe.height),
        json.dumps(extra),
    )
    await conn.execute("DELETE FROM video_versions WHERE video_id = $1", job.video_id)
    await conn.executemany(
        _INSERT_VERSION,
        [
            (
                job.video_id,
                columns.varchar(r.rendition.name, 20),
                columns.integer(r.rendition.video_bitrate / 1000, minimum=1),
                columns.bigint(r.file_size),
                url(r.mp4_path),
            )
            for r in result.renditions
        ],
    )
    if job.kind == "live_recording" and job.stream_id is not None:
        await conn.execute(_ARCHIVE_STREAM, job.stream_id, master_url)


def aspect_ratio(width: int, height: int) -> str | None:
    """``16:9`` style ratio; None if it does not fit ``video_metadata.aspect_ratio``."""
    divisor = gcd(width, height) or 1
    ratio = f"{width // divisor}:{height // divisor}"
    return ratio if len(ratio) <= ASPECT_RATIO_LENGTH else None
