"""The app through its HTTP API, as a creator's own tools would use it; polling for a state."""

from __future__ import annotations

import asyncio
import time

import aiohttp


async def new_stream(base: str, title: str, price: str = "0") -> dict:
    """A stream of //Alice's, made through the API as a creator's own tools would."""
    async with aiohttp.ClientSession(base) as http:
        login = await http.post("/api/dev/login", json={"uri": "//Alice"})
        headers = {"Authorization": f"Bearer {(await login.json())['token']}"}
        await http.patch("/api/me", json={"is_creator": True}, headers=headers)
        response = await http.post(
            "/api/streams",
            json={"title": title, "price_per_second": price},
            headers=headers,
        )
        assert response.status == 201, await response.text()
        return await response.json()


async def alice(http: aiohttp.ClientSession) -> dict[str, str]:
    """//Alice (the page's dev account) as a creator: her Authorization header."""
    login = await http.post("/api/dev/login", json={"uri": "//Alice"})
    headers = {"Authorization": f"Bearer {(await login.json())['token']}"}
    assert (await http.patch("/api/me", json={"is_creator": True}, headers=headers)).status == 200
    return headers


async def wait_for(check, within: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if value := await check():
            return value
        await asyncio.sleep(0.25)
    raise AssertionError("condition not reached in time")
