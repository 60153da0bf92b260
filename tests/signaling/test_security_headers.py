"""Every response carries X-Content-Type-Options: nosniff, errors and pages included."""

from __future__ import annotations

from aiohttp.test_utils import TestClient


async def test_json_error_and_page_responses_are_never_sniffed(client: TestClient) -> None:
    responses = [
        await client.get("/api/health"),  # JSON 200
        await client.get("/api/me"),  # JSON 401 from the auth layer
        await client.get("/api/streams/not-a-uuid"),  # JSON 4xx from validation
        await client.get("/api/no-such-route"),  # 404 of the router
        await client.post("/api/auth/nonce", data=b"{"),  # malformed body
        await client.get("/"),  # HTML page
    ]
    for response in responses:
        assert response.headers.get("X-Content-Type-Options") == "nosniff", (
            response.url,
            response.status,
        )
    assert {r.status for r in responses[1:5]} <= set(range(400, 500))
