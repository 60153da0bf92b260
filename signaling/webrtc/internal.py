"""Internal endpoints one node calls on another, behind the node credential (cluster/credential.py).

`POST /internal/relays/{stream_id}`: an edge's relay offer (application/sdp) for a stream published
on this node; 201 with the answer and the relay's Location, 409 when the stream is not published
here. `DELETE` of that Location ends the relay. See signaling/webrtc/relays.py for the edge side.
"""

from __future__ import annotations

from aiohttp import web

from signaling.cluster.credential import require_node
from signaling.http.errors import ApiError
from signaling.http.validation import parse_uuid
from signaling.keys import LIVE, RELAYS
from signaling.webrtc.http import SDP, read_offer

routes = web.RouteTableDef()


@routes.post("/internal/relays/{stream_id}")
async def open_relay(request: web.Request) -> web.Response:
    require_node(request)
    stream_id = parse_uuid(request.match_info["stream_id"], "stream")
    offer = await read_offer(request)
    if not request.app[LIVE].is_origin(stream_id):
        raise ApiError(409, "the stream is not published on this node", "not_live")
    relay, answer = await request.app[RELAYS].served.open(stream_id, offer)
    response = web.Response(status=201, text=answer, content_type=SDP)
    response.headers["Location"] = relay.location
    return response


@routes.delete("/internal/relays/{stream_id}/{token}")
async def close_relay(request: web.Request) -> web.Response:
    require_node(request)
    stream_id = parse_uuid(request.match_info["stream_id"], "stream")
    served = request.app[RELAYS].served
    relay = served.find(stream_id, request.match_info["token"])
    if relay is None:
        raise ApiError(404, "no such relay")
    await served.close(relay)
    return web.Response(status=204)
