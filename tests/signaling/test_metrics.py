"""/metrics covers the server: HTTP latency by route, WebSockets, live streams and viewers."""

from __future__ import annotations

import dataclasses

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from signaling.api.ops.metrics import metrics_app
from tests.signaling.support.accounts import new_stream, new_user
from tests.signaling.support.webrtc_clients import whep, whip
from tests.support.configs import configured
from vilokanam.wiring import create_app

pytestmark = pytest.mark.usefixtures("loopback")


async def scrape(client: TestClient) -> dict[str, float]:
    """Every sample of /metrics by name and labels, e.g. 'vilokanam_live_streams'."""
    response = await client.get("/metrics")
    assert response.status == 200
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


async def test_live_gauges_follow_streams_and_viewers(client: TestClient) -> None:
    creator = await new_user(client, creator=True)
    stream = await new_stream(client, creator)
    before = await scrape(client)
    assert before["vilokanam_live_streams"] == 0 and before["vilokanam_live_viewers"] == 0

    broadcast = await whip(client, stream["id"], stream["stream_key"])
    viewer, location = await whep(client, stream["id"], await new_user(client))
    try:
        await viewer.wait_frames(1)  # a viewer counts once its media session connected
        live = await scrape(client)
        assert (live["vilokanam_live_streams"], live["vilokanam_live_viewers"]) == (1, 1)

        assert (await client.delete(location)).status == 200
        left = await scrape(client)
        assert (left["vilokanam_live_streams"], left["vilokanam_live_viewers"]) == (1, 0)
    finally:
        await viewer.close()
        await client.delete(broadcast.location)
        await broadcast.pc.close()
    ended = await scrape(client)
    assert ended["vilokanam_live_streams"] == 0


async def test_http_latency_is_labelled_by_route_template(client: TestClient) -> None:
    creator = await new_user(client, creator=True)
    stream = await new_stream(client, creator)
    assert (await client.get(f"/api/streams/{stream['id']}")).status == 200
    samples = await scrape(client)
    key = (
        "vilokanam_http_request_duration_seconds_count"
        "{method=GET,route=/api/streams/{stream_id},status=200}"
    )
    assert samples[key] >= 1
    assert not any(stream["id"] in name for name in samples)  # ids never become labels
    assert "vilokanam_websocket_connections" in samples


@pytest.fixture
def metrics_token() -> str:
    return "metrics-secret-for-tests"


@pytest.mark.parametrize("on_main", [True, False])
async def test_metrics_behind_a_token(app_config, redis, metrics_token: str, on_main) -> None:
    config = configured(app_config, metrics_on_main=on_main, metrics_token=metrics_token)
    async with TestClient(TestServer(create_app(config))) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status == 401
            assert "vilokanam_" not in await refused.text()
        allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
        assert allowed.status == 200
        assert "vilokanam_http_request_duration_seconds" in await allowed.text()


async def test_metrics_off_the_main_listener_are_on_their_own(app_config, redis) -> None:
    config = dataclasses.replace(app_config, metrics_on_main=False)
    main = create_app(config)
    async with (
        TestClient(TestServer(main)) as client,
        TestClient(TestServer(metrics_app(main))) as metrics_listener,
    ):
        hidden = await client.get("/metrics")
        assert hidden.status == 404
        assert "vilokanam_" not in await hidden.text()
        served = await metrics_listener.get("/metrics")
        assert served.status == 200
        assert "vilokanam_live_streams" in await served.text()
