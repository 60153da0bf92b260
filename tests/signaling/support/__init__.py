"""Helpers the signaling tests share (and the other packages' tests that drive the app)."""
