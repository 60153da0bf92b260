"""The OpenAPI document covers every route and validates with the handlers' own models."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from signaling.api.ops.openapi import api_routes
from signaling.api.ops.operations import OPERATIONS
from signaling.api.streams.models import StreamCreate


async def test_every_api_route_is_documented_and_nothing_else(client: TestClient) -> None:
    routes = api_routes(client.app)
    assert ("POST", "/whip/{stream_id}") in routes  # WHIP/WHEP count as API
    assert not any(path.startswith("/static") for _method, path in routes)
    assert ("GET", "/search") not in routes  # a page (named page.*), beside GET /api/search
    undocumented = routes - set(OPERATIONS)
    stale = set(OPERATIONS) - routes
    assert undocumented == set(), f"routes missing from signaling/openapi.py: {undocumented}"
    assert stale == set(), f"documented routes that do not exist: {stale}"


async def test_document_is_openapi_31_and_bodies_come_from_the_models(client: TestClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    doc = await response.json()
    assert doc["openapi"] == "3.1.0"
    create = doc["paths"]["/api/streams"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"] == StreamCreate.model_json_schema()["properties"]
    assert schema["additionalProperties"] is False  # unknown fields are refused, as documented
    assert create["security"] == [{"session": []}, {"session_cookie": []}]  # token or cookie
    whip = doc["paths"]["/whip/{stream_id}"]["post"]
    assert "application/sdp" in whip["requestBody"]["content"]
    assert "application/sdp" in whip["responses"]["201"]["content"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert "4XX" in op["responses"], (method, path)
            refs = [p["name"] for p in op["parameters"] if p["in"] == "path"]
            assert refs == [part[1:-1] for part in path.split("/") if part.startswith("{")]
