"""A network namespace joined to the root namespace by a veth pair.

Clients built on libnice (GStreamer's webrtcbin) never gather on loopback, so they cannot reach
a server on 127.0.0.1. Running such a client in a namespace of its own, linked to the root
namespace by a veth pair, gives both ends real, non-loopback addresses while every packet stays
on the two interfaces created here. Addresses come from TEST-NET-2 (RFC 5737), never routed;
the first free /30 is taken, because the machine's own network may use TEST-NET-1
(this sandbox's eth0 is 192.0.2.2/24 with gateway 192.0.2.1).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ADDRESS_RANGE = ipaddress.IPv4Network("198.51.100.0/24")  # TEST-NET-2, documentation only


class NamespaceUnavailable(Exception):
    """The namespace or veth pair could not be created here (the reason is the message)."""


@dataclass(frozen=True)
class VethNamespace:
    """A namespace ``name`` whose veth reaches ``host_address`` in the root namespace."""

    name: str
    host_interface: str
    host_address: str
    peer_address: str

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def host_bytes(self) -> int:
        """Bytes received plus sent by the root-namespace end of the veth pair."""
        statistics = Path("/sys/class/net") / self.host_interface / "statistics"
        return sum(int((statistics / name).read_text()) for name in ("rx_bytes", "tx_bytes"))


def unavailable_reason() -> str | None:
    """Why namespaces cannot be made by this process, or None when they can."""
    if os.geteuid() != 0:
        return "creating a network namespace needs root"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    if probe.returncode != 0:
        return f"`ip netns` is unavailable: {probe.stderr.strip()}"
    return None


def ip(*argv: str) -> str:
    """Run ``ip ARGV``; its output, or NamespaceUnavailable with ip's complaint."""
    done = subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise NamespaceUnavailable(f"ip {' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


def _networks_in_use() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network or address named by the root namespace's addresses and routes."""
    found = []
    listing = ip("-4", "-o", "addr", "show") + ip("-4", "route", "show", "table", "all")
    for word in listing.split():
        try:
            network = ipaddress.IPv4Network(word, strict=False)
        except ValueError:
            continue
        if network.prefixlen > 0:  # "default" routes parse as nothing; 0.0.0.0/0 overlaps all
            found.append(network)
    return found


def free_subnet(prefix: int = 30) -> ipaddress.IPv4Network:
    """A /``prefix`` of ADDRESS_RANGE that no address or route of this machine touches."""
    used = _networks_in_use()
    subnets = list(ADDRESS_RANGE.subnets(new_prefix=prefix))
    start = os.getpid() % len(subnets)  # concurrent test runs start at different places
    for subnet in subnets[start:] + subnets[:start]:
        if not any(subnet.overlaps(network) for network in used):
            return subnet
    raise NamespaceUnavailable(f"no free /{prefix} left in {ADDRESS_RANGE}")


def _create(space: VethNamespace, peer_interface: str, prefix: int) -> None:
    ip("netns", "add", space.name)
    ip(
        "link",
        "add",
        space.host_interface,
        "type",
        "veth",
        "peer",
        "name",
        peer_interface,
        "netns",
        space.name,
    )
    ip("addr", "add", f"{space.host_address}/{prefix}", "dev", space.host_interface)
    ip("link", "set", space.host_interface, "up")
    inside = ("netns", "exec", space.name, "ip")
    ip(*inside, "addr", "add", f"{space.peer_address}/{prefix}", "dev", peer_interface)
    ip(*inside, "link", "set", peer_interface, "up")
    ip(*inside, "link", "set", "lo", "up")


def _delete(space: VethNamespace) -> None:
    """Remove the namespace and both veth ends; safe to call on a half-made setup."""
    for argv in (("netns", "delete", space.name), ("link", "delete", space.host_interface)):
        subprocess.run(["ip", *argv], capture_output=True, timeout=10)


@contextmanager
def veth_namespace() -> Iterator[VethNamespace]:
    """A fresh namespace with a veth pair to the root namespace, removed on exit."""
    tag = secrets.token_hex(3)
    subnet = free_subnet()
    host, peer = list(subnet.hosts())
    space = VethNamespace(f"vk-pub-{tag}", f"vkh{tag}", str(host), str(peer))
    try:
        _create(space, f"vkn{tag}", subnet.prefixlen)
        yield space
    finally:
        _delete(space)
