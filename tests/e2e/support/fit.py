"""Does a page fit its window? Phone (390 px) and desktop (1280 px) sizes, and what sticks out."""

from __future__ import annotations

SIZES = {"phone": (390, 844), "desktop": (1280, 800)}

# The elements whose right edge passes the window's (deepest first), but for those inside a box
# that scrolls or clips: what makes the page scroll sideways, for the failure message.
_STICKING_OUT = """() => {
  const clipped = (node) => {
    for (let up = node.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') return true;
    }
    return false;
  };
  const out = [];
  for (const node of document.body.querySelectorAll('*')) {
    const box = node.getBoundingClientRect();
    if (box.width && box.right > window.innerWidth + 0.5 && !clipped(node)) {
      const classes = typeof node.className === 'string' && node.className
        ? '.' + node.className.split(' ').join('.') : '';
      const id = node.id ? '#' + node.id : '';
      out.push(`${node.tagName.toLowerCase()}${id}${classes} right=${Math.round(box.right)}`);
    }
  }
  return out.reverse().slice(0, 8);
}"""


async def assert_fits(page: object, what: str) -> None:
    """No horizontal overflow: the page is no wider than its window."""
    width, inner = await page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    if width > inner:
        culprits = await page.evaluate(_STICKING_OUT)
        raise AssertionError(f"{what}: {width} px wide in a {inner} px window: {culprits}")
