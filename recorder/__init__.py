"""Recorder: live archive (remux, no re-encode), VOD job queue and processing (ladder, HLS)."""

from recorder.archive import ArchiveWriter, part_name
from recorder.avatar import avatar_jpeg, avatar_path
from recorder.errors import InvalidMedia
from recorder.files import replace_file
from recorder.jobs import LeaseLost, enqueue, retry_failed
from recorder.ladder import LadderSettings, Rendition, plan_ladder
from recorder.live import LiveRecorder
from recorder.live_thumbnail import LIVE_URL_PREFIX, live_thumbnail_path
from recorder.probe import ProbeResult, probe
from recorder.thumbnail import thumbnail
from recorder.transcode import ProgressCallback, RenditionResult
from recorder.vod import VodResult, process_video, video_dir
from recorder.worker import default_owner, run_vod_worker
from sfu import EncodedFrame  # what ArchiveWriter.write takes

__all__ = [
    "ArchiveWriter",
    "avatar_jpeg",
    "avatar_path",
    "EncodedFrame",
    "LeaseLost",
    "LiveRecorder",
    "default_owner",
    "enqueue",
    "live_thumbnail_path",
    "part_name",
    "run_vod_worker",
    "InvalidMedia",
    "LIVE_URL_PREFIX",
    "LadderSettings",
    "ProbeResult",
    "ProgressCallback",
    "Rendition",
    "RenditionResult",
    "VodResult",
    "plan_ladder",
    "probe",
    "process_video",
    "replace_file",
    "retry_failed",
    "thumbnail",
    "video_dir",
]
