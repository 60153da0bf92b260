"""Helpers the sfu tests share."""
