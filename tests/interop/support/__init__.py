"""Interop helpers: network namespaces, the GStreamer WHIP client, a colour-bar WHEP viewer."""
