"""One UDP port for every peer connection of the sfu (single-port ICE, like LiveKit's udp_port).

The mux binds one socket per host address, all on the same port. Each peer connection's ICE
agent gets, per socket, a route (the object datagrams are handed to) and a SharedTransport (what
it sends with: the socket itself). Incoming datagrams are demultiplexed:

- STUN requests by the local part of USERNAME ("ourufrag:theirufrag"); a request whose
  MESSAGE-INTEGRITY checks out with that connection's password binds its source address to it;
- STUN responses by the transaction id of our request (checks sent before the peer's own
  reached us, STUN server queries), else by source address;
- everything else (DTLS, SRTP, SRTCP) by source address.

What matches no connection is dropped and counted. Closing a route's transport forgets its
ufrag, transactions and addresses. The aioice side (protocols, candidates) is in
sfu/aiortc_hooks/; this module knows only sockets and STUN messages.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from dataclasses import dataclass
from typing import Any, Protocol, cast

import structlog
from aioice import stun
from prometheus_client import Counter

logger = structlog.get_logger(__name__)

Address = tuple[str, int]
SOCKET_BUFFER = 4 * 1024 * 1024  # every viewer's and publisher's packets share these buffers
STUN_FIRST_BYTE_MAX = 3  # RFC 7983: a first byte of 0-3 is STUN (20-63 DTLS, 128-191 RTP/RTCP)
WILDCARDS = ("0.0.0.0", "::")  # noqa: S104 (bound only when RTC_HOST_ADDRESSES is empty)
# asyncio reads one datagram per readiness event (one per loop iteration); the shared socket
# carries every connection's packets, so it reads up to this many queued ones per event.
READ_BATCH = 256
MAX_DATAGRAM = 65535

DROPPED = Counter(
    "vilokanam_sfu_udp_dropped_total",
    "Datagrams on the sfu's UDP port that belong to no peer connection",
    ["reason"],
)


class Route(Protocol):
    """Where the datagrams of one peer connection (on one socket) go: an asyncio protocol."""

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...


@dataclass
class MuxStats:
    connections: int  # routes registered (one per peer connection and socket)
    addresses: int  # remote addresses bound to a route
    dropped: int  # datagrams that matched no route


class SharedTransport(asyncio.DatagramTransport):
    """A route's view of the shared socket: sends on it; closing unregisters the route."""

    def __init__(self, owner: MuxSocket, route: Route) -> None:
        super().__init__()
        self._owner = owner
        self._route = route
        self._closed = False

    def sendto(self, data: bytes | bytearray | memoryview, addr: Any = None) -> None:
        if not self._closed:
            self._owner.sendto(data, addr)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._owner.extra_info(name, default)

    def is_closing(self) -> bool:
        return self._closed

    def expect_response(self, transaction_id: bytes) -> None:
        """Route the STUN response to ``transaction_id`` to this transport's route."""
        self._owner.expect_response(transaction_id, self._route)

    def forget_response(self, transaction_id: bytes) -> None:
        self._owner.forget_response(transaction_id)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._owner.detach(self._route)
            asyncio.get_running_loop().call_soon(self._route.connection_lost, None)

    abort = close


class MuxSocket(asyncio.DatagramProtocol):
    """One bound UDP socket and the routes reached through it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.transport: asyncio.DatagramTransport | None = None
        self.dropped = 0
        self._by_ufrag: dict[str, tuple[Route, bytes]] = {}
        self._by_address: dict[Address, Route] = {}
        self._by_transaction: dict[bytes, Route] = {}
        self._addresses: dict[Route, set[Address]] = {}

    # --- registry -----------------------------------------------------------------------------

    def attach(self, route: Route, ufrag: str, password: str) -> SharedTransport:
        """Register ``route`` for STUN requests to ``ufrag``; returns the transport it sends on."""
        self._by_ufrag.setdefault(ufrag, (route, password.encode()))
        self._addresses[route] = set()
        return SharedTransport(self, route)

    def has_ufrag(self, ufrag: str) -> bool:
        return ufrag in self._by_ufrag

    def detach(self, route: Route) -> None:
        for ufrag, (known, _) in list(self._by_ufrag.items()):
            if known is route:
                del self._by_ufrag[ufrag]
        for address in self._addresses.pop(route, ()):
            del self._by_address[address]
        for transaction_id, known in list(self._by_transaction.items()):
            if known is route:
                del self._by_transaction[transaction_id]

    def expect_response(self, transaction_id: bytes, route: Route) -> None:
        self._by_transaction[transaction_id] = route

    def forget_response(self, transaction_id: bytes) -> None:
        self._by_transaction.pop(transaction_id, None)

    def _bind(self, address: Address, route: Route) -> None:
        previous = self._by_address.get(address)
        if previous is route:
            return
        if previous is not None:  # the peer's address now belongs to another connection
            self._addresses[previous].discard(address)
        self._by_address[address] = route
        self._addresses[route].add(address)

    def stats(self) -> MuxStats:
        return MuxStats(len(self._addresses), len(self._by_address), self.dropped)

    # --- the socket ---------------------------------------------------------------------------

    def sendto(self, data: bytes | bytearray | memoryview, addr: Address) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)

    def extra_info(self, name: str, default: Any = None) -> Any:
        if self.transport is not None:
            return self.transport.get_extra_info(name, default)
        if name == "socket":
            return self.sock
        if name == "sockname" and self.sock.fileno() >= 0:
            return self.sock.getsockname()
        return default

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None  # routes still open send nothing from now on
        for route in list(self._addresses):
            self.detach(route)
            route.connection_lost(exc)

    def error_received(self, exc: Exception) -> None:
        logger.debug("sfu_udp_error", error=str(exc))  # ICMP unreachable from a gone peer

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        """Dispatch ``data``, then what else is queued on the socket (up to READ_BATCH).

        Read one by one, a datagram behind N others waits N loop iterations: under load seconds,
        and aioice's consent checks (one try, 0.5 s) fail until it closes the connection.
        """
        self._dispatch(data, addr)
        for _ in range(READ_BATCH - 1):
            if self.transport is None or self.transport.is_closing():
                return
            try:
                data, addr = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.error_received(exc)
                return
            self._dispatch(data, addr)

    def _dispatch(self, data: bytes, addr: tuple[Any, ...]) -> None:
        address = (addr[0], addr[1])
        if data and data[0] <= STUN_FIRST_BYTE_MAX:
            route = self._stun_route(data, address)
        else:
            route = self._by_address.get(address)
            if route is None:
                self._drop("unknown_address")
        if route is not None:
            route.datagram_received(data, address)

    def _stun_route(self, data: bytes, address: Address) -> Route | None:
        try:
            message = stun.parse_message(data)
        except (ValueError, struct.error):
            self._drop("malformed_stun")
            return None
        if message.message_class == stun.Class.REQUEST:
            return self._request_route(message, address)
        route = None
        if message.message_class in (stun.Class.RESPONSE, stun.Class.ERROR):
            route = self._by_transaction.get(message.transaction_id)
        route = route or self._by_address.get(address)
        if route is None:
            self._drop("unknown_transaction")
        return route

    def _request_route(self, message: stun.Message, address: Address) -> Route | None:
        username = message.attributes.get("USERNAME")
        known = self._by_ufrag.get(str(username).partition(":")[0]) if username else None
        if known is None:
            self._drop("unknown_ufrag")
            return None
        route, password = known
        if message.check_message_integrity(password):
            self._bind(address, route)
        return route  # unauthenticated: aioice answers 401 without learning the address

    def _drop(self, reason: str) -> None:
        self.dropped += 1
        DROPPED.labels(reason).inc()


class UdpMux:
    """The sfu's UDP sockets: one per host address (or one on 0.0.0.0), all on one port.

    Bound at construction, so a taken port fails at start; attached to the event loop by
    :meth:`start` (idempotent). ``port`` 0 picks a free port (tests, several sfus per process).
    """

    def __init__(self, addresses: tuple[str, ...], port: int) -> None:
        self.sockets: dict[str, MuxSocket] = {}
        for address in addresses or WILDCARDS[:1]:
            sock = _bind(address, port)
            port = sock.getsockname()[1]  # the other addresses take the port the first got
            self.sockets[address] = MuxSocket(sock)
        self.port = port
        self._started = False
        self._lock = asyncio.Lock()

    def socket_for(self, address: str) -> MuxSocket | None:
        """The socket a host candidate on ``address`` is served by (None: not one of ours)."""
        found = self.sockets.get(address)
        if found is None and ":" not in address:
            found = self.sockets.get(WILDCARDS[0])
        elif found is None:
            found = self.sockets.get(WILDCARDS[1])
        return found

    def ufrag_taken(self, ufrag: str) -> bool:
        return any(s.has_ufrag(ufrag) for s in self.sockets.values())

    async def start(self) -> None:
        async with self._lock:
            if self._started:
                return
            loop = asyncio.get_running_loop()
            for mux_socket in self.sockets.values():

                def itself(protocol: MuxSocket = mux_socket) -> MuxSocket:
                    return protocol

                await loop.create_datagram_endpoint(itself, sock=mux_socket.sock)
            self._started = True
            logger.info("sfu_udp_mux_started", port=self.port, addresses=list(self.sockets))

    def stats(self) -> MuxStats:
        each = [s.stats() for s in self.sockets.values()]
        return MuxStats(
            connections=sum(s.connections for s in each),
            addresses=sum(s.addresses for s in each),
            dropped=sum(s.dropped for s in each),
        )

    async def close(self) -> None:
        for mux_socket in self.sockets.values():
            if mux_socket.transport is not None:
                mux_socket.transport.close()
            else:
                mux_socket.sock.close()
        await asyncio.sleep(0)  # let the transports call connection_lost


def _bind(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
        sock.bind((address, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
