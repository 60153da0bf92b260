"""Comments on videos and streams, threaded; authors edit, authors or moderators delete."""
