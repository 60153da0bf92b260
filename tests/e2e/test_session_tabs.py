"""A signed-in session in Chromium: it spans the tabs of a browser, sign-out reaches every tab,
"sign out everywhere" ends the sessions of other devices too. The page never holds the token."""

from __future__ import annotations

import pytest

from tests.e2e.support.browser import CHROMIUM, SCREENSHOTS, dev_sign_in, signed_in_user

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed (apt-get install -y chromium)",
    ),
    pytest.mark.timeout(120),
]
playwright_api = pytest.importorskip("playwright.async_api")

SIZES = [("desktop", 1280, 800), ("phone", 390, 844)]
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


async def _tab(context: object, url: str) -> object:
    page = await context.new_page()
    page.on("console", lambda m: print(f"[{url}] {m.type}: {m.text}"))
    await page.goto(url)
    return page


@pytest.mark.parametrize(("size", "width", "height"), SIZES)
async def test_tabs_share_the_session_and_sign_out_signs_out_every_tab(
    server: str, browser: object, size: str, width: int, height: int
) -> None:
    context = await browser.new_context(viewport={"width": width, "height": height})
    first = await _tab(context, f"{server}/")
    open_before = await _tab(context, f"{server}/search")
    await open_before.get_by_label("Dev account").wait_for()  # signed out so far
    await dev_sign_in(first, "//Bob")
    await first.locator("#go-live").wait_for()  # the signed-in part of the home page
    # A tab already open hears of the sign-in without a reload.
    await open_before.locator("#signed-in-as").filter(has_text="Signed in as").wait_for()

    # The token is in an HttpOnly cookie: no script of the page can read or store it.
    assert "vk_session" not in await first.evaluate("document.cookie")
    assert await first.evaluate("sessionStorage.length + localStorage.length") == 0

    second = await _tab(context, f"{server}/search")
    await second.locator("#signed-in-as").filter(has_text="Signed in as").wait_for()
    assert await signed_in_user(second) is not None
    for page in (first, second):
        assert await page.evaluate(NO_OVERFLOW)
    await second.screenshot(path=SCREENSHOTS / f"session-new-tab-{size}.png", full_page=True)

    await second.locator("#sign-out").click()
    for page in (second, first, open_before):  # the other tabs hear of it without a reload
        await page.get_by_label("Dev account").wait_for()
        assert await page.locator("#signed-in-as").count() == 0
    await first.locator("#go-live").wait_for(state="hidden")
    assert await signed_in_user(first) is None  # ended on the server, not only in the tabs
    for page in (first, second, open_before):
        assert await page.evaluate(NO_OVERFLOW)
    await first.screenshot(path=SCREENSHOTS / f"session-signed-out-{size}.png", full_page=True)
    await context.close()


async def test_sign_out_everywhere_ends_the_other_devices_session_only(
    server: str, browser: object
) -> None:
    laptop, phone, someone = [
        await browser.new_context(viewport={"width": width, "height": height})
        for width, height in ((1280, 800), (390, 844), (1280, 800))
    ]
    pages = {}
    for name, context, uri in (
        ("laptop", laptop, "//Charlie"),
        ("phone", phone, "//Charlie"),
        ("someone", someone, "//Dave"),
    ):
        pages[name] = await _tab(context, f"{server}/")
        await dev_sign_in(pages[name], uri)

    await pages["laptop"].locator("#sign-out-everywhere").click()
    await pages["laptop"].get_by_label("Dev account").wait_for()
    assert await signed_in_user(pages["phone"]) is None
    await pages["phone"].reload()
    await pages["phone"].get_by_label("Dev account").wait_for()
    assert await pages["phone"].locator("#signed-in-as").count() == 0
    assert await pages["phone"].evaluate(NO_OVERFLOW)
    await pages["phone"].screenshot(path=SCREENSHOTS / "session-ended-everywhere-phone.png")
    assert await pages["someone"].locator("#signed-in-as").is_visible()
    assert await signed_in_user(pages["someone"]) is not None
    for context in (laptop, phone, someone):
        await context.close()
