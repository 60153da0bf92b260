"""Headless Chromium (Debian's, driven by Playwright) on the real app: pages, a wallet, sign-in."""

from __future__ import annotations

from pathlib import Path

from substrateinterface import Keypair

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-output" / "screenshots"
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Media over loopback on a shared 2-core machine: generous, never a speed target.
MEDIA_TIMEOUT_MS = 30_000


async def wait_playing(page: object) -> dict:
    """Wait until the video advances and has decoded frames; its playback figures."""
    await page.wait_for_function(
        """() => { const v = document.getElementById('video');
                   return v.currentTime > 1
                          && v.getVideoPlaybackQuality().totalVideoFrames > 10; }""",
        timeout=MEDIA_TIMEOUT_MS,
    )
    return await page.evaluate(
        """() => { const v = document.getElementById('video');
                   return { time: v.currentTime, width: v.videoWidth, height: v.videoHeight,
                            frames: v.getVideoPlaybackQuality().totalVideoFrames }; }"""
    )


async def open_page(browser: object, url: str, wallet: Keypair | None = None) -> object:
    """A page in a context of its own (its own cookies, like another person)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    if wallet is not None:
        await install_wallet(context, wallet)
    page = await context.new_page()
    page.on("console", lambda m: print(f"[{url}] {m.type}: {m.text}"))
    await page.goto(url)
    return page


async def install_wallet(context: object, keypair: Keypair) -> None:
    """A polkadot.js-style extension in the page whose signer is a real sr25519 key.

    Like polkadot.js, signRaw signs the bytes wrapped in <Bytes>…</Bytes>.
    """

    def sign_raw(data: str) -> str:
        return "0x" + keypair.sign(b"<Bytes>" + bytes.fromhex(data[2:]) + b"</Bytes>").hex()

    await context.expose_function("testWalletSign", sign_raw)
    await context.add_init_script(WALLET_SCRIPT.replace("ADDRESS", keypair.ss58_address))


WALLET_SCRIPT = """
window.injectedWeb3 = { 'test-wallet': { version: '0.1', enable: async (origin) => ({
  accounts: { get: async () => [{ address: 'ADDRESS', name: 'Test account' }] },
  signer: { signRaw: async ({ address, data, type }) => {
    if (type !== 'bytes' || address !== 'ADDRESS') throw new Error('unexpected request');
    return { id: 1, signature: await window.testWalletSign(data) };
  } },
}) } };
"""


async def dev_sign_in(page: object, uri: str) -> None:
    # signin.js draws its form again (600 ms after load, and when the dev accounts arrive): an
    # account chosen before a redraw is lost and //Alice signed in instead (seen on /me in
    # test_dashboard). Choosing and submitting in one task leaves no room for a redraw.
    await page.get_by_label("Dev account").wait_for()
    await page.evaluate(
        """(uri) => { const select = document.getElementById('dev-account');
                      if (![...select.options].some((o) => o.value === uri)) throw new Error(uri);
                      select.value = uri;
                      select.form.requestSubmit(); }""",
        uri,
    )
    await page.locator("#signed-in-as").wait_for()


async def stop_broadcast(page: object) -> None:
    """Press Stop on the broadcast page and confirm in its dialog."""
    await page.get_by_role("button", name="Stop", exact=True).click()
    dialog = page.get_by_role("dialog", name="Stop the broadcast?")
    await dialog.get_by_role("button", name="Stop broadcast").click()
    await dialog.wait_for(state="hidden")


async def signed_in_user(page: object) -> dict | None:
    """Who the page's session cookie signs in, as the server says (the page cannot read it)."""
    return await page.evaluate("async () => (await (await fetch('/api/auth/session')).json()).user")
