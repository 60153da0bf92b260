"""Errors the sfu raises towards its caller (signaling maps them to HTTP statuses)."""


class SfuError(Exception):
    """Base class of every sfu error."""


class UnsupportedOffer(SfuError):
    """Not SDP, no video, or no codec the sfu forwards (VP8, H.264 video; Opus audio)."""


class AlreadyPublishing(SfuError):
    """The stream already has a publisher."""


class NotLive(SfuError):
    """Subscribe to a stream without a publisher."""


class UnknownPeer(SfuError):
    """No publisher or subscriber with this id."""


class BadCandidate(SfuError):
    """A trickled ICE candidate that is malformed (syntax, address, port or type)."""


class RelayFailed(SfuError):
    """The origin's answer to a relay offer cannot be applied (or carries no video)."""
