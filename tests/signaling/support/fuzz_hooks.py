"""schemathesis hooks (loaded through SCHEMATHESIS_HOOKS): send SDP bodies as text."""

from __future__ import annotations

from typing import Any

import schemathesis


def _as_text(_ctx: Any, value: Any) -> bytes:
    return value.encode() if isinstance(value, str) else str(value).encode()


schemathesis.serializer("application/sdp", "application/trickle-ice-sdpfrag")(_as_text)
