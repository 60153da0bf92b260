"""Tips: one-off payments from a viewer to the creator of a stream or video."""
