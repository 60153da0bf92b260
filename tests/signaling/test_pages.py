"""The browser pages and their assets are served by the app itself, with no third-party origin."""

from __future__ import annotations

import re
import uuid

import pytest
from aiohttp.test_utils import TestClient

PAGES = ["/", f"/watch/{uuid.uuid4()}", f"/broadcast/{uuid.uuid4()}"]
# Ids that do not change between collections (parallel workers must collect the same tests).
PAGE_IDS = ["home", "watch", "broadcast"]


@pytest.mark.parametrize("path", PAGES, ids=PAGE_IDS)
async def test_pages_are_html_with_a_strict_same_origin_policy(
    client: TestClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    html = await response.text()
    assert '<html lang="en">' in html and "<title>" in html


@pytest.mark.parametrize("path", PAGES, ids=PAGE_IDS)
async def test_every_asset_a_page_references_is_served_from_static(
    client: TestClient, path: str
) -> None:
    html = await (await client.get(path)).text()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert assets and not re.search(r'(?:src|href)="(?:https?:)?//', html)  # no CDN
    for asset in assets:
        response = await client.get(asset)
        assert response.status == 200, asset
        if asset.endswith(".js"):
            assert response.content_type in ("application/javascript", "text/javascript")


async def test_js_modules_import_only_modules_that_exist(client: TestClient) -> None:
    for name in ("home.js", "watch.js", "broadcast.js"):
        source = await (await client.get(f"/static/{name}")).text()
        for module in re.findall(r"from '\./([a-z_]+\.js)'", source):
            assert (await client.get(f"/static/{module}")).status == 200, module
