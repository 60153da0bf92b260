"""Helpers every test package shares: real services, the dev chain, aiortc test peers."""
