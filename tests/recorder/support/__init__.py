"""Helpers the recorder tests share."""
