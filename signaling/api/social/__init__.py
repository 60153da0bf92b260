"""Follows between users, likes of videos and comments."""
