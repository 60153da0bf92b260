"""What a node needs to route requests and commands to the others (app[ROUTING])."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from signaling.cluster.commands import CommandBus
from signaling.cluster.view_slots import ClusterViewSlots


@dataclass
class NodeRouting:
    client: aiohttp.ClientSession  # requests to other nodes' internal URLs
    commands: CommandBus
    slots: ClusterViewSlots
    secret: str | None  # the node credential (NODE_SECRET); None: nothing is forwarded
    draining: bool = False  # set by runtime.drain: new viewers go elsewhere
