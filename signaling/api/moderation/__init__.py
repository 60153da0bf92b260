"""Reports on videos, comments, users and streams, and their review by moderators."""
