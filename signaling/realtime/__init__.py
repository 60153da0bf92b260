"""WebSockets: the Redis fan-out, stream chat sockets and the creators' earnings feed."""
