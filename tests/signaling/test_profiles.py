"""Profiles (GET /api/users/{ref} by id, username or address) and profile pictures
(PUT/DELETE /api/me/avatar, re-encoded as a square JPEG and served from /media/avatars/)."""

from __future__ import annotations

import secrets

import numpy as np
import pytest
from aiohttp.test_utils import TestClient

from billing import to_ss58
from tests.signaling.support.accounts import new_user, whoami
from tests.support.images import BLUE, RED, decode_rgb, halves_png, huge_png


async def profile(client: TestClient, ref: str, headers: dict[str, str] | None = None) -> dict:
    response = await client.get(f"/api/users/{ref}", headers=headers or {})
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_profile_is_found_by_id_username_and_address_of_any_prefix(
    client: TestClient,
) -> None:
    headers = await new_user(client, creator=True)
    name = f"cook_{secrets.token_hex(4)}"
    await client.patch("/api/me", headers=headers, json={"username": name, "bio": "Soups."})
    me = await whoami(client, headers)

    by_name = await profile(client, name)
    assert (by_name["id"], by_name["bio"], by_name["is_creator"]) == (me["id"], "Soups.", True)
    assert "email" not in by_name  # the public view only
    assert (await profile(client, me["id"]))["username"] == name
    assert (await profile(client, me["account_id"]))["id"] == me["id"]
    polkadot_form = to_ss58(me["account_id"], 0)  # the same key written for another chain
    assert polkadot_form != me["account_id"]
    assert (await profile(client, polkadot_form))["id"] == me["id"]


@pytest.mark.parametrize(
    "ref", ["nobody_here_at_all", "00000000-0000-4000-8000-000000000000", "x" * 300, "a'--"]
)
async def test_an_unknown_profile_is_a_404_that_says_so(client: TestClient, ref: str) -> None:
    response = await client.get(f"/api/users/{ref}")
    assert response.status == 404
    assert "no user" in (await response.json())["error"]["message"]


async def test_follow_counts_and_whether_i_follow_are_on_the_profile(client: TestClient) -> None:
    creator = await new_user(client, creator=True)
    fan = await new_user(client)
    creator_id = (await whoami(client, creator))["id"]

    signed_out = await profile(client, creator_id)
    assert (signed_out["followers"], signed_out["followed_by_me"]) == (0, None)
    assert (await profile(client, creator_id, fan))["followed_by_me"] is False
    assert (await client.post(f"/api/users/{creator_id}/follow", headers=fan)).status == 201
    followed = await profile(client, creator_id, fan)
    assert followed["followers"] == 1 and followed["following"] == 0
    assert followed["followed_by_me"] is True
    fan_id = (await whoami(client, fan))["id"]
    assert (await profile(client, fan_id))["following"] == 1


async def test_an_avatar_is_the_middle_square_of_the_picture_as_a_256px_jpeg(
    client: TestClient,
) -> None:
    headers = await new_user(client)
    png = {**headers, "Content-Type": "image/png"}
    response = await client.put("/api/me/avatar", data=halves_png(400, 200), headers=png)
    assert response.status == 200, await response.text()
    url = (await response.json())["profile_image_url"]
    me = await whoami(client, headers)
    assert url == me["profile_image_url"] and url.startswith(f"/media/avatars/{me['id']}/")

    served = await client.get(url)
    assert served.status == 200 and served.content_type == "image/jpeg"
    pixels = decode_rgb(await served.read())
    assert pixels.shape == (256, 256, 3)
    # The middle 200 px of a 400 px picture, half red and half blue: red left, blue right.
    assert np.abs(pixels[128, 40].astype(int) - RED).max() < 40
    assert np.abs(pixels[128, 215].astype(int) - BLUE).max() < 40

    assert (await client.delete("/api/me/avatar", headers=headers)).status == 204
    assert (await whoami(client, headers))["profile_image_url"] is None
    assert (await client.get(url)).status == 404


@pytest.mark.parametrize(
    ("content_type", "body", "status", "words"),
    [
        ("text/plain", b"hello", 415, "image/jpeg"),
        ("image/png", b"\x89PNG not really a picture", 422, "cannot be used"),
        ("image/png", huge_png(20_000), 422, "too large"),
        ("image/png", huge_png(5_000), 422, "megapixels"),
        ("image/jpeg", b"\xff\xd8" + bytes(2 * 1024 * 1024), 413, ""),
    ],
)
async def test_what_is_not_a_usable_picture_is_refused_and_nothing_changes(
    client: TestClient, content_type: str, body: bytes, status: int, words: str
) -> None:
    headers = await new_user(client)
    response = await client.put(
        "/api/me/avatar", data=body, headers={**headers, "Content-Type": content_type}
    )
    assert response.status == status, await response.text()
    assert words in (await response.json())["error"]["message"]
    assert (await whoami(client, headers))["profile_image_url"] is None


async def test_signed_out_callers_cannot_set_a_picture(client: TestClient) -> None:
    response = await client.put(
        "/api/me/avatar", data=halves_png(), headers={"Content-Type": "image/png"}
    )
    assert response.status == 401
