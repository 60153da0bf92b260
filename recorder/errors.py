"""Errors the recorder raises on purpose."""


class InvalidMedia(ValueError):
    """The file is not media we can process.

    ``reason`` says why in plain words a creator may read; ``source`` names the file for
    operators (logs, ``vod_jobs.last_error``) and is never shown to the creator.
    """

    def __init__(self, reason: str, *, source: str | None = None) -> None:
        super().__init__(f"{source}: {reason}" if source else reason)
        self.reason = reason
        self.source = source
