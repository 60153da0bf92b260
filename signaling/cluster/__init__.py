"""The cluster: nodes in a Redis registry, relays between them, requests routed to their node."""
