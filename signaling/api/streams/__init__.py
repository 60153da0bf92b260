"""Streams: creators create, edit, rotate keys and delete them; anyone lists them."""
