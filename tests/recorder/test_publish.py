"""Publishing a processed video stores what fits its columns, whatever the file claimed."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from recorder import ProbeResult, Rendition, RenditionResult, VodResult
from recorder.columns import INT4_MAX, INT8_MAX, bigint, integer, numeric, varchar
from recorder.jobs import Job
from recorder.publish import publish_result
from tests.recorder.support.rows import new_video


def absurd_result(video_dir: Path) -> VodResult:
    """A result whose every figure overflows or breaks the column it goes to."""
    probe = ProbeResult(
        duration_s=math.inf,
        width=INT4_MAX,
        height=INT4_MAX - 1,
        video_codec="v" * 80,
        audio_codec="a" * 80,
        frame_rate=1000.0,
        format_name="matroska,webm," * 10,
        file_size=10**20,
        bit_rate=10**30,
    )
    rung = Rendition(name="240p", width=320, height=240, video_bitrate=400)
    rendition = RenditionResult(
        rung,
        video_dir / "240p.mp4",
        video_dir / "hls" / "240p.m3u8",
        file_size=2_000,
        duration_s=3.0,
        codecs="avc1.42e01e",
    )
    return VodResult(
        video_dir=video_dir,
        probe=probe,
        duration_s=math.nan,
        source_size=10**20,
        thumbnail_path=video_dir / "thumbnail.jpg",
        master_playlist=video_dir / "hls" / "master.m3u8",
        renditions=[rendition],
    )


async def test_absurd_figures_are_stored_as_unknown_not_as_a_failed_job(
    db: asyncpg.Pool, tmp_path: Path
) -> None:
    video, stream = await new_video(db, with_stream=True)
    job = Job(
        id=video,
        video_id=video,
        kind="live_recording",
        stream_id=stream,
        source_paths=["part-0001.mkv"],
        attempts=1,
        max_attempts=3,
    )
    media = tmp_path / "media"
    final_dir = media / "videos" / str(video)
    async with db.acquire() as conn, conn.transaction():
        await publish_result(
            conn, job, absurd_result(tmp_path / "staging"), final_dir, media, "/media"
        )
    v = await db.fetchrow("SELECT * FROM videos WHERE id = $1", video)
    assert v["status"] == "ready" and v["duration"] is None and v["file_size"] is None
    assert (v["width"], v["height"]) == (INT4_MAX, INT4_MAX - 1)
    meta = await db.fetchrow("SELECT * FROM video_metadata WHERE video_id = $1", video)
    assert meta["frame_rate"] is None and meta["aspect_ratio"] is None
    assert len(meta["codec"]) == len(meta["audio_codec"]) == len(meta["format"]) == 50
    version = await db.fetchrow("SELECT * FROM video_versions WHERE video_id = $1", video)
    assert version["bitrate"] is None and version["file_size"] == 2_000
    assert version["storage_url"] == f"/media/videos/{video}/240p.mp4"


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (29.97, Decimal("29.97")),
        (999.994, Decimal("999.99")),
        (999.996, None),
        (1000.0, None),
        (-1.5, Decimal("-1.50")),
        (math.nan, None),
        (math.inf, None),
        (None, None),
    ],
)
def test_numeric_fits_decimal_5_2_or_is_unknown(
    value: float | None, stored: Decimal | None
) -> None:
    assert numeric(value, 5, 2) == stored


def test_integers_and_text_fit_their_columns() -> None:
    assert integer(2.6) == 3 and integer(-1) is None and integer(INT4_MAX + 1) is None
    assert integer(0.4, minimum=1) is None and integer(math.nan) is None
    assert bigint(INT8_MAX) == INT8_MAX and bigint(INT8_MAX + 1) is None
    assert varchar("h264", 50) == "h264" and varchar("x" * 60, 50) == "x" * 50
    assert varchar(None, 50) is None
