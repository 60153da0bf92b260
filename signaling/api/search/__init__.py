"""Search: streams and videos by the words of their titles and descriptions."""
