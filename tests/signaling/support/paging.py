"""Reading the API's cursor-paginated lists whole."""

from __future__ import annotations

from aiohttp.test_utils import TestClient


async def all_items(client: TestClient, url: str, headers: dict | None = None) -> list[dict]:
    """Every item of a paginated list, following next_cursor."""
    items: list[dict] = []
    cursor = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=params, headers=headers)
        assert response.status == 200, await response.text()
        page = await response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
