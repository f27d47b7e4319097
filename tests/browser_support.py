"""What the browser tests share: Debian's Chromium under Playwright, and the checks every admin
page must pass at every width (layout, console, axe-core).

Without /usr/bin/chromium the browser tests skip with a reason locally; under CI (CI=true) a
missing Chromium is a failure, not a skip.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def async_unsafe_allowed():
    """Playwright's sync API runs an event loop in this thread, and Django refuses ORM calls
    where one runs, including the database teardown of each test: allowed while the browser
    lives (module scope, so it outlives every test's teardown)."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(async_unsafe_allowed):
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing; CI must install it (apt-get install chromium)")
        pytest.skip(
            f"{CHROMIUM} is not installed (apt-get install chromium), or run -m 'not browser'"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def record_errors(page) -> list[str]:
    """The console errors and uncaught exceptions of a page, as they happen."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


# Run in the page. Overflow: the page wider than the window. Squeezed: text laid out in
# columns too narrow for it, measured from the line boxes the browser made, not from font
# metrics: a run of text that takes three lines or more with fewer than three characters
# per line on average (a link rendered one letter per line). Clipped: a cell or
# list cut off by its container without a scrollbar to reach it. Untold: a cell cut short
# (ellipsis) without its full text on hover.
LAYOUT_PROBLEMS = r"""
(wide) => {
  const problems = [];
  const root = document.documentElement;
  const describe = (el) => {
    const id = el.id ? "#" + el.id : "";
    const cls = el.className && typeof el.className === "string"
      ? "." + el.className.trim().split(/\s+/).join(".") : "";
    return `${el.tagName.toLowerCase()}${id}${cls}`;
  };
  if (root.scrollWidth > window.innerWidth) {
    // Name the innermost elements that stick out, so the failure says where to look.
    const out = [...document.body.querySelectorAll("*")].filter(
      (el) => el.getBoundingClientRect().right > window.innerWidth + 1);
    const innermost = out.filter((el) => !out.some((other) => other !== el && el.contains(other)));
    problems.push(`page is ${root.scrollWidth}px wide in a ${window.innerWidth}px window: `
      + innermost.slice(0, 3).map(describe).join(", "));
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\s+/g, "");
    if (text.length < 3) continue;
    const parent = node.parentElement;
    const style = getComputedStyle(parent);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0)
      .map((r) => Math.round(r.top))).size;
    if (lines >= 3 && text.length / lines < 3) {
      problems.push(`${describe(parent)} "${text.slice(0, 40)}" squeezed: ${text.length} characters on ${lines} lines (${Math.round(parent.getBoundingClientRect().width)}px wide)`);
    }
  }
  for (const table of document.querySelectorAll("table")) {
    const right = table.getBoundingClientRect().right;
    for (let box = table.parentElement; box && box !== document.body; box = box.parentElement) {
      const overflow = getComputedStyle(box).overflowX;
      if (overflow === "auto" || overflow === "scroll") {
        // A list that scrolls sideways on a desktop screen hides its last columns.
        if (wide && table.id === "result_list" && box.scrollWidth > box.clientWidth + 1) {
          problems.push(`${describe(table)} needs sideways scrolling in ${describe(box)} (${box.scrollWidth}px in ${box.clientWidth}px)`);
        }
        break;
      }
      if ((overflow === "hidden" || overflow === "clip")
          && right > box.getBoundingClientRect().right + 1) {
        problems.push(`${describe(table)} is cut off by ${describe(box)}`);
        break;
      }
    }
  }
  for (const cell of document.querySelectorAll("#result_list td, #result_list th")) {
    if (cell.scrollWidth > cell.clientWidth + 1 && cell.title !== cell.textContent.trim()) {
      problems.push(`${describe(cell)} "${cell.textContent.trim().slice(0, 40)}" is cut short with no full text on hover`);
    }
  }
  return problems;
}
"""


def layout_problems(page) -> list[str]:
    wide = page.viewport_size["width"] >= 1440
    return page.evaluate(LAYOUT_PROBLEMS, wide)


def serious_accessibility_violations(page) -> list[str]:
    """axe-core's violations of impact serious or critical, one line per rule and element."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            for node in violation["nodes"]:
                found.append(f"{violation['id']} ({violation['impact']}): {node['target']}")
    return found
