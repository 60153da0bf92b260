"""ICE as configuration: which addresses to gather on, what to announce, which STUN/TURN."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from aiortc import RTCConfiguration, RTCIceServer


@dataclass(frozen=True)
class IceSettings:
    """ICE configuration of the sfu's peer connections.

    host_addresses: gather host candidates only on these (empty = aioice default).
    announced_address: rewrite host candidate IPs in answers (1:1 NAT, like mediasoup announcedIp).
    ice_servers: "stun:host:port" / "turn:user:pass@host:port" URLs; empty = none.
    udp_port: every peer connection's host candidates share one UDP socket per host address
      on this port (sfu/udp_mux.py; 0 = a free port); None = one new socket per connection.
    """

    host_addresses: tuple[str, ...] = ()
    announced_address: str | None = None
    ice_servers: tuple[str, ...] = ()
    udp_port: int | None = None


def ice_server(url: str) -> RTCIceServer:
    """Parse "stun:host:port" or "turn[s]:user:pass@host:port[?transport=tcp]"."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme not in ("stun", "stuns", "turn", "turns") or not rest:
        raise ValueError(f"not a STUN/TURN URL: {scheme}:…")
    credentials, at, address = rest.rpartition("@")
    if not at:
        return RTCIceServer(urls=url)
    username, _, password = credentials.partition(":")
    return RTCIceServer(
        urls=f"{scheme}:{address}", username=unquote(username), credential=unquote(password)
    )


def rtc_configuration(settings: IceSettings) -> RTCConfiguration:
    """aiortc configuration: STUN/TURN only from the settings (never aiortc's public default)."""
    return RTCConfiguration(iceServers=[ice_server(url) for url in settings.ice_servers])


def _announce_line(line: str, address: str) -> str:
    if line.startswith("a=candidate:"):
        fields = line.split(" ")
        # a=candidate:foundation component transport priority ADDRESS port typ TYPE ...
        if len(fields) >= 8 and fields[7] == "host":
            fields[4] = address
        return " ".join(fields)
    if line.startswith("c=IN IP4 ") or line.startswith("c=IN IP6 "):
        family = "IP6" if ":" in address else "IP4"
        return f"c=IN {family} {address}"
    return line


def announce_address(sdp: str, address: str | None) -> str:
    """Rewrite host candidate addresses (and c= lines) of ``sdp`` to ``address``."""
    if not address:
        return sdp
    return "\r\n".join(_announce_line(line, address) for line in sdp.split("\r\n"))
