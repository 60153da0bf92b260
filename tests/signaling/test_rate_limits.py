"""Rate limits hold in Redis: over the limit, 429 with Retry-After and a JSON message."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from substrateinterface import Keypair

from tests.signaling.support.accounts import new_stream
from tests.signaling.support.webrtc_clients import whip
from tests.support.configs import configured
from vilokanam.wiring import create_app


async def test_anonymous_nonces_are_limited_per_ip(app_config, redis) -> None:
    config = configured(app_config, nonce_rate_per_minute=3)
    address = Keypair.create_from_mnemonic(Keypair.generate_mnemonic()).ss58_address
    # Two processes of one server share the limit: it lives in Redis, not in a process.
    async with (
        TestClient(TestServer(create_app(config))) as one,
        TestClient(TestServer(create_app(config))) as two,
    ):
        statuses = [
            (await c.post("/api/auth/nonce", json={"address": address})).status
            for c in (one, two, one)
        ]
        assert statuses == [201, 201, 201]
        refused = await two.post("/api/auth/nonce", json={"address": address})
        assert refused.status == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert (await refused.json())["error"]["code"] == "too_many_requests"
        stored = [key async for key in redis.scan_iter(f"{config.server.redis_prefix}nonce:*")]
        assert len(stored) == 3  # the refused request stored nothing


@pytest.mark.usefixtures("loopback")
async def test_whip_and_whep_session_patches_and_deletes_are_limited_per_ip(
    app_config, redis, creator: dict
) -> None:
    config = configured(app_config, session_requests_per_minute=3)
    async with TestClient(TestServer(create_app(config))) as client:
        stream = await new_stream(client, creator)
        broadcast = await whip(client, stream["id"], stream["stream_key"])
        ufrag = next(
            line
            for line in broadcast.pc.localDescription.sdp.splitlines()
            if line.startswith("a=ice-ufrag:")
        )
        fragment = f"{ufrag}\r\na=mid:0\r\na=end-of-candidates\r\n"
        trickle = {"Content-Type": "application/trickle-ice-sdpfrag", "If-Match": broadcast.etag}
        url = broadcast.location
        assert (await client.patch(url, data=fragment, headers=trickle)).status == 204
        # Guessed session URLs count too: spraying DELETEs is limited like trickling.
        assert (await client.delete(f"/whep/{stream['id']}/guess")).status == 404
        assert (await client.patch(url, data=fragment, headers=trickle)).status == 204
        for refused in (
            await client.patch(url, data=fragment, headers=trickle),
            await client.delete(url),
        ):
            assert refused.status == 429
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            assert refused.headers["Access-Control-Allow-Origin"] == "*"  # browsers can read it
            assert (await refused.json())["error"]["code"] == "too_many_requests"
        # The refused DELETE did nothing: the broadcast is still live.
        assert (await (await client.get(f"/api/streams/{stream['id']}")).json())["status"] == "live"
        await broadcast.pc.close()
