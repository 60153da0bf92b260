"""Live media over HTTP: WHIP ingest, WHEP playback, and the live sessions on the sfu."""
