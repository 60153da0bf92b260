"""The realtime layer's life with the app: the Redis fan-out to sockets and the earnings feed.

Other layers reach sockets through the `EVENTS` key (signaling/keys.py) rather than importing
this package: billing's runtime sends "cut" and "balance" notices with `app[EVENTS].to_viewers`,
signing out closes sockets with `app[EVENTS].revoke_session`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from signaling.keys import CONFIG, EARNINGS, EVENTS, LIVE, REDIS
from signaling.realtime.earnings_feed import EarningsFeed, Figures
from signaling.realtime.events import StreamEvents

# The creator feature's live figures of one creator (signaling/api/creator/figures.py).
FiguresOfApp = Callable[[web.Application, uuid.UUID], Awaitable[Figures]]
CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def viewers_message(count: int) -> dict[str, Any]:
    return {"type": "viewers", "count": count}


def stream_events(figures_of: FiguresOfApp) -> CleanupContext:
    """cleanup_ctx (after the media context): the Redis fan-out, fed by LiveStreams changes, and
    the earnings feed sampling `figures_of(app, creator_id)` (the creator feature's live figures;
    it reads billing's meter only once sockets are open)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        events = StreamEvents(app[REDIS], app[CONFIG].server.redis_prefix)
        await events.start()
        app[EVENTS] = events

        async def sample(creator_id: uuid.UUID) -> Figures:
            return await figures_of(app, creator_id)

        feed = EarningsFeed(sample)
        feed.start()
        app[EARNINGS] = feed
        live = app[LIVE]

        def on_change(what: str, stream_id: uuid.UUID) -> None:
            if what == "viewers":
                count = live.total_viewers(stream_id)  # cluster-wide
                events.spawn(events.to_stream(stream_id, viewers_message(count)))
                return
            events.spawn(events.to_stream(stream_id, {"type": "status", "status": what}))
            if what == "ended":
                events.spawn(events.to_stream(stream_id, viewers_message(0)))

        live.on_change(on_change)
        yield
        await feed.close()
        await events.close()

    return context


async def close_sockets(app: web.Application) -> None:
    """on_shutdown: close open sockets, or shutdown would wait for them.

    The earnings feed stops here too, before billing's context closes the meter it samples.
    """
    await app[EARNINGS].close()
    await app[EVENTS].close_sockets()


async def notify_viewer(
    app: web.Application, stream_id: uuid.UUID, viewer_id: uuid.UUID, payload: dict[str, Any]
) -> None:
    """Send `payload` to one viewer's sockets on a stream, in whichever process they are open
    (e.g. {"type": "cut", "reason": …} or {"type": "balance", …})."""
    await app[EVENTS].to_viewer(stream_id, viewer_id, payload)
