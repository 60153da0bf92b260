"""A browser that asks for a page that is not there gets the site's 404 page (HTML, same layout
and navigation); the machine interfaces keep their JSON errors. The favicon is served."""

from __future__ import annotations

import uuid

import pytest
from aiohttp.test_utils import TestClient

# A fixed id that names nothing: parameters must be the same in every xdist worker.
NOBODY = uuid.UUID("00000000-0000-4000-8000-00000000dead")
PAGE_PATHS = ["/no/such/page", "/watch/not-a-stream-id", "/videos/42", "/favicon.png"]
JSON_PATHS = [
    "/api/nothing-here",
    f"/api/streams/{NOBODY}",
    f"/api/videos/{NOBODY}",
    "/whip/a/b/c",
    "/whep/a/b/c",
    f"/media/videos/{NOBODY}/master.m3u8",
]


@pytest.mark.parametrize("path", PAGE_PATHS)
async def test_an_unknown_page_is_the_html_404_page(client: TestClient, path: str) -> None:
    response = await client.get(path)
    assert response.status == 404
    assert response.content_type == "text/html"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    html = await response.text()
    assert '<h1 id="not-found-title">Page not found</h1>' in html
    assert '<nav class="nav" aria-label="Pages">' in html and 'href="/search"' in html
    assert '<script type="module" src="/static/not_found.js">' in html
    assert (await client.head(path)).status == 404


@pytest.mark.parametrize("path", JSON_PATHS)
async def test_an_unknown_api_path_keeps_its_json_error(client: TestClient, path: str) -> None:
    response = await client.get(path)
    assert response.status == 404, await response.text()
    assert response.content_type == "application/json"
    assert (await response.json())["error"]["code"] == "not_found"


async def test_a_post_to_an_unknown_page_path_is_a_json_error(client: TestClient) -> None:
    response = await client.post("/no/such/form", json={})
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_a_page_of_a_well_formed_id_is_served_for_its_script_to_ask(
    client: TestClient,
) -> None:
    """Whether a stream or video exists (and may be seen) is the API's answer: the page asks."""
    for path in (f"/watch/{uuid.uuid4()}", f"/videos/{uuid.uuid4()}"):
        response = await client.get(path)
        assert response.status == 200 and response.content_type == "text/html"


async def test_the_favicon_is_served_and_linked(client: TestClient) -> None:
    html = await (await client.get("/")).text()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    icon = await client.get("/static/favicon.svg")
    assert icon.status == 200 and icon.content_type == "image/svg+xml"
    assert (await icon.text()).startswith("<svg")
    legacy = await client.get("/favicon.ico", allow_redirects=False)
    assert legacy.status == 301 and legacy.headers["Location"] == "/static/favicon.svg"
    assert (await client.get("/favicon.ico")).status == 200
