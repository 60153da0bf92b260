"""Resumable chunked uploads of video files, and the expiry of abandoned ones."""
