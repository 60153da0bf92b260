"""Meetecho's simple-whip-client (Debian package ``simple-whip-client``) as a child process.

It builds ``webrtcbin name=sendonly <video> ! sendonly. <audio> ! sendonly.`` from the
pipelines given here, POSTs the offer with the Bearer token, and sends DELETE on SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.interop.support.netns import VethNamespace

EXECUTABLE = "whip-client"
WIDTH, HEIGHT = 320, 240
# A payloader's mtu caps its RTP packets; GStreamer's default is 1400 bytes.
DEFAULT_MTU = 1400
_RAW = (
    f"videotestsrc is-live=true pattern=smpte ! "
    f"video/x-raw,width={WIDTH},height={HEIGHT},framerate=30/1 ! videoconvert ! queue"
)
_ENCODERS = {
    "VP8": ("vp8enc deadline=1 keyframe-max-dist=30", "rtpvp8pay pt=96", 96),
    "H264": (
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! "
        "video/x-h264,profile=constrained-baseline",
        "rtph264pay pt=102 config-interval=-1 aggregate-mode=zero-latency",
        102,
    ),
}


def video_pipeline(codec: str, mtu: int = DEFAULT_MTU) -> str:
    """videotestsrc's SMPTE bars encoded in ``codec``; the closing caps become the m-line."""
    encoder, payloader, payload_type = _ENCODERS[codec]
    return (
        f"{_RAW} ! {encoder} ! {payloader} mtu={mtu} ! queue ! "
        f"application/x-rtp,media=video,encoding-name={codec},payload={payload_type}"
    )


def audio_pipeline(mtu: int = DEFAULT_MTU) -> str:
    """A sine tone in Opus."""
    return (
        "audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! queue ! "
        f"opusenc ! rtpopuspay pt=111 mtu={mtu} ! queue ! "
        "application/x-rtp,media=audio,encoding-name=OPUS,payload=111"
    )


STUB_SOURCE = Path(__file__).with_name("gupnp_igd_stub.c")
STUB_SONAME = "libgupnp-igd-1.0.so.4"


def installed() -> bool:
    return shutil.which(EXECUTABLE) is not None


def _linked(binary: str) -> str:
    return subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=10).stdout


def libsoup_clash() -> bool:
    """Whether the client links libsoup 2 while libnice pulls in libsoup 3 (Debian 12)."""
    client = shutil.which(EXECUTABLE)
    nice = next(
        (line.split()[-1] for line in _ldconfig().splitlines() if "libnice.so.10 " in line), None
    )
    if client is None or nice is None:
        return False
    return "libsoup-2.4" in _linked(client) and "libsoup-3.0" in _linked(nice)


def _ldconfig() -> str:
    return subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=10).stdout


def build_gupnp_igd_stub(directory: Path) -> Path:
    """Compile gupnp_igd_stub.c into ``directory`` (for LD_LIBRARY_PATH); the directory."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise FileNotFoundError("no C compiler to build the libgupnp-igd stub")
    subprocess.run(
        [
            compiler,
            "-shared",
            "-fPIC",
            f"-Wl,-soname,{STUB_SONAME}",
            "-o",
            str(directory / STUB_SONAME),
            str(STUB_SOURCE),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return directory


@dataclass
class WhipClient:
    """A running whip-client; its stdout and stderr go to ``log_path``."""

    process: asyncio.subprocess.Process
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    async def interrupt(self, within: float = 15.0) -> int:
        """Ctrl-C (the client DELETEs its WHIP session, then exits); its exit code."""
        self.process.send_signal(signal.SIGINT)
        return await asyncio.wait_for(self.process.wait(), within)

    async def kill(self) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


async def start_whip_client(
    space: VethNamespace,
    url: str,
    token: str,
    codec: str,
    log_path: Path,
    library_path: Path | None = None,
    mtu: int = DEFAULT_MTU,
) -> WhipClient:
    """whip-client inside ``space`` publishing the test pattern in ``codec`` plus Opus audio.

    ``-n`` puts every candidate in the offer (no trickle PATCH). GST_DEBUG passes through, so
    ``GST_DEBUG=webrtcbin:5,nice:5`` in the environment puts those logs into ``log_path``.
    ``library_path`` goes first in LD_LIBRARY_PATH (the gupnp-igd stub, see libsoup_clash).
    """
    env = {**os.environ, "GST_DEBUG_NO_COLOR": "1"}
    if library_path is not None:
        env["LD_LIBRARY_PATH"] = ":".join(
            filter(None, [str(library_path), env.get("LD_LIBRARY_PATH")])
        )
    argv = space.command(
        EXECUTABLE,
        "-u",
        url,
        "-t",
        token,
        "-n",
        "-o",
        "-L",
        "-V",
        video_pipeline(codec, mtu),
        "-A",
        audio_pipeline(mtu),
    )
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
        )
    return WhipClient(process, log_path)
