"""Several "hosts" on one machine: network namespaces on one Linux bridge, each its own address.

    root namespace:  bridge vkb<tag>, address .1 of a free /29 of TEST-NET-2
    host i:          namespace vk-<name>-<tag>, veth into the bridge, address .2, .3, …

Hosts reach each other over the bridge (plain L2, no routing, no forwarding sysctl) and reach
the root namespace at the bridge's address, where tests/interop/support/forward.py exposes the
machine's PostgreSQL and Redis (they listen on 127.0.0.1, which no namespace can reach). No
route leads elsewhere, so no packet leaves the machine. The subnet is chosen as netns.py does
(TEST-NET-2, avoiding every network this machine already uses). Everything is removed on exit,
processes left inside the namespaces first, even when the test failed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.interop.support.netns import NamespaceUnavailable, free_subnet, ip

__all__ = ["Host", "Topology", "NamespaceUnavailable", "hosts"]


@dataclass(frozen=True)
class Host:
    """One namespace: ``address`` is its only address besides loopback."""

    name: str
    namespace: str
    address: str

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside this host."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def pids(self) -> list[int]:
        """Processes living in this host's namespace."""
        listing = subprocess.run(
            ["ip", "netns", "pids", self.namespace], capture_output=True, text=True, timeout=10
        )
        return [int(word) for word in listing.stdout.split()]


@dataclass(frozen=True)
class Topology:
    bridge: str
    root_address: str  # the root namespace's address on the bridge: services are reached here
    hosts: list[Host]

    def host(self, name: str) -> Host:
        return next(host for host in self.hosts if host.name == name)


def _add_host(bridge: str, tag: str, index: int, host: Host, prefix: int) -> None:
    outside, inside = f"vkv{tag}{index}", f"vki{tag}{index}"
    ip("netns", "add", host.namespace)
    ip("link", "add", outside, "type", "veth", "peer", "name", inside, "netns", host.namespace)
    ip("link", "set", outside, "master", bridge, "up")
    run_inside = ("netns", "exec", host.namespace, "ip")
    ip(*run_inside, "addr", "add", f"{host.address}/{prefix}", "dev", inside)
    ip(*run_inside, "link", "set", inside, "up")
    ip(*run_inside, "link", "set", "lo", "up")


def _remove(topology: Topology, tag: str) -> None:
    """Kill what still runs inside, then delete namespaces, veths and bridge (half-made is fine).

    Every process in these namespaces was started by the test: the namespaces are fresh."""
    for host in topology.hosts:
        for pid in host.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for index, host in enumerate(topology.hosts):
        for argv in (("netns", "delete", host.namespace), ("link", "delete", f"vkv{tag}{index}")):
            subprocess.run(["ip", *argv], capture_output=True, timeout=10)
    subprocess.run(["ip", "link", "delete", topology.bridge], capture_output=True, timeout=10)


@contextmanager
def hosts(*names: str) -> Iterator[Topology]:
    """Hosts ``names`` (at most 5) on a fresh bridge; all removed on exit."""
    if not 1 <= len(names) <= 5:
        raise ValueError("a /29 holds the bridge and up to 5 hosts")
    tag = secrets.token_hex(3)
    subnet = free_subnet(prefix=29)
    addresses = [str(address) for address in subnet.hosts()]
    topology = Topology(
        f"vkb{tag}",
        addresses[0],
        [
            Host(name, f"vk-{name}-{tag}", address)
            for name, address in zip(names, addresses[1:], strict=False)
        ],
    )
    try:
        ip("link", "add", topology.bridge, "type", "bridge")
        ip("addr", "add", f"{topology.root_address}/{subnet.prefixlen}", "dev", topology.bridge)
        ip("link", "set", topology.bridge, "up")
        for index, host in enumerate(topology.hosts):
            _add_host(topology.bridge, tag, index, host, subnet.prefixlen)
        yield topology
    finally:
        _remove(topology, tag)
