"""Interop tests: real third-party WebRTC clients against the in-process server."""
