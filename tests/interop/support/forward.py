"""The machine's PostgreSQL and Redis, reachable from other network namespaces.

They listen on 127.0.0.1, which is private to the root namespace. Rather than start second
servers on the bridge's address (and migrate a second database), a TCP forwarder listens there
and splices each connection to the loopback service: the nodes on the hosts then share the very
database and Redis the test reads, and the services see 127.0.0.1 clients, as their access
rules expect. It runs its own event loop in a thread, so a test blocked on something else never
stalls the nodes' queries. Unix-socket URLs (embedded services) need nothing: a socket file is
reachable from every namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "redis": 6379}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


class Forwarder:
    """Listeners on ``address`` splicing to loopback ports, served by a thread of its own."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []
        self._thread.start()

    async def _open(self, port: int) -> int:
        async def splice(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                writer.close()
                return
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

        server = await asyncio.start_server(splice, self.address, 0)
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    def reachable(self, url: str) -> str:
        """``url`` as seen from the hosts: loopback host:port replaced by a forwarded one."""
        parts = urlsplit(url)
        if parts.hostname not in LOOPBACK:
            return url  # a unix socket (or a service not on loopback): usable as it is
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
        opened = asyncio.run_coroutine_threadsafe(self._open(port), self._loop).result(10)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@" if credentials else ""
        return urlunsplit(parts._replace(netloc=f"{netloc}{self.address}:{opened}"))

    def close(self) -> None:
        async def shut() -> None:
            for server in self._servers:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextmanager
def forwarding(address: str) -> Iterator[Forwarder]:
    forwarder = Forwarder(address)
    try:
        yield forwarder
    finally:
        forwarder.close()
