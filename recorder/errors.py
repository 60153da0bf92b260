"""Errors the recorder raises on purpose."""


class InvalidMedia(ValueError):
    """The file is not media we can process; ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
