"""Active time in a real JupyterLab: a hidden page, an unfocused window and a pause without input
add nothing to the ``ms_on_item`` the store keeps (the Labeler's ``idle_after_s`` rule).

Each check bounds the stored ms by what the page could have been visible, focused and in use:
the wall time the test process measured around the item (from before the key that drew it to
after the key that labeled it) minus the period it made the page hidden, unfocused (both as the
page itself timed them) or idle (as the test waited). The 10 s of each period are the thing under
test, so they are waited for real (``page.wait_for_timeout``). A control item with input every
second must count in full: its stored ms equal what the rule gives from the page's own stamps.

Hidden: headless Chromium keeps every page ``visible``: a background tab, a minimized window
(``Browser.setWindowBounds``), a frozen page (``Page.setWebLifecycleState``) and a second tab
in the same window brought to front all left ``document.visibilityState === "visible"`` (Chromium
156, tried for this test). So the hidden page is emulated: ``visibilityState`` is overridden on
the document and a real ``visibilitychange`` event is dispatched, which is what the view listens
to. The unfocused window is real: with Playwright's focus emulation off, a second page brought
to front takes the focus and the page gets a real window ``blur`` (``document.hasFocus()`` false).
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest
from harness import expect, open_notebook

import hitl_widgets as hw

IDS = [f"t{k:02d}" for k in range(8)]
IDLE_AFTER_S = 3
PERIOD_MS = 10_000
SLACK_MS = 50  # rounding to whole ms, and the page's clock read a moment after the event

MOVES_JS = """() => {
  window.__moves = 0;
  window.addEventListener('pointermove', () => { window.__moves += 1; }, true);
}"""
HIDE_JS = """() => {
  Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
  Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
  document.dispatchEvent(new Event('visibilitychange'));
  return [document.visibilityState, performance.now()];
}"""
STAMPS_JS = """() => {
  window.__stamps = [];
  const stamp = () => window.__stamps.push(performance.now());
  window.addEventListener('pointermove', stamp, true);
  window.addEventListener('keydown', stamp, true);
  document.querySelector('.hitl-labeler').addEventListener('hitl:drawn', stamp);
}"""
SHOW_JS = """() => {
  delete document.visibilityState;
  delete document.hidden;
  document.dispatchEvent(new Event('visibilitychange'));
  return [document.visibilityState, performance.now()];
}"""


@pytest.fixture
def project_file(jupyter_server) -> Path:
    return jupyter_server.root_dir / f"p-{secrets.token_hex(4)}.hitl"


def cells(project_file: str) -> list[str]:
    return [
        "import hitl_widgets as hw",
        f"project = hw.Project({project_file!r}, labels=['ham', 'spam'])\n"
        f"project.add_items([f'message {{k}}' for k in range({len(IDS)})], id={IDS!r})\n"
        f"w = hw.Labeler(project, annotator='ana', idle_after_s={IDLE_AFTER_S})\n"
        "w",
    ]


def root(page):
    return page.locator(".hitl-labeler")


def press(page, key: str, next_id: str) -> tuple[float, float]:
    """Press ``key``, wait for ``next_id`` to be drawn; the wall times before and after, in ms."""
    before = time.monotonic() * 1000
    page.keyboard.press(key)
    expect(root(page)).to_have_attribute("data-item-id", next_id)
    return before, time.monotonic() * 1000


def move_mouse_for(page, ms: int) -> None:
    """Move the mouse once a second for ``ms``: input that would count if the page were in use."""
    for k in range(ms // 1000):
        page.mouse.move(400 + 10 * (k % 2), 300)
        page.wait_for_timeout(1000)


def ms_on_item(project_file: Path) -> dict[str, float]:
    with hw.Project(project_file) as p:
        events = p.events()
    rows = events.query("kind == 'annotation'")
    return dict(zip(rows["item_id"], rows["ms_on_item"], strict=True))


def test_hidden_unfocused_and_idle_time_add_nothing(page, jupyter_server, project_file):
    nb = open_notebook(page, jupyter_server, cells(project_file.name))
    nb.run_all()
    expect(root(page)).to_have_attribute("data-item-id", "t00")
    root(page).click()
    page.evaluate(MOVES_JS)
    bounds: dict[str, float] = {}  # item -> the most its active time can be

    # (a) t01: hidden for 10 s, with the mouse moving all along (so the idle rule cannot be what
    # zeroes it); visible time is only before the hide and after the show.
    drew, _ = press(page, "1", "t01")
    state, hidden_at = page.evaluate(HIDE_JS)
    assert state == "hidden"
    moves = page.evaluate("window.__moves")
    move_mouse_for(page, PERIOD_MS)
    state, shown_at = page.evaluate(SHOW_JS)
    assert state == "visible" and shown_at - hidden_at >= PERIOD_MS
    assert page.evaluate("window.__moves") >= moves + 9, "the moves while hidden reached the page"
    next_drew, labeled = press(page, "2", "t02")
    bounds["t01"] = labeled - drew - (shown_at - hidden_at)

    # (a') t02: the window unfocused for 10 s (a real window blur), pointer moves all along.
    drew = next_drew
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setFocusEmulationEnabled", {"enabled": False})
    other = page.context.new_page()
    other.bring_to_front()
    page.wait_for_function("!document.hasFocus()")
    blurred_at = page.evaluate("performance.now()")
    # Playwright's mouse would focus the page again: the moves here are dispatched in the page.
    for _ in range(PERIOD_MS // 1000):
        page.evaluate("window.dispatchEvent(new PointerEvent('pointermove'))")
        page.wait_for_timeout(1000)
    assert page.evaluate("!document.hasFocus()"), "the page stayed unfocused"
    page.bring_to_front()
    page.wait_for_function("document.hasFocus()")
    focused_at = page.evaluate("performance.now()")
    assert focused_at - blurred_at >= PERIOD_MS
    other.close()
    next_drew, labeled = press(page, "1", "t03")
    bounds["t02"] = labeled - drew - (focused_at - blurred_at)

    # (b) t03: 10 s without any input, then a key: the 10 s add nothing.
    drew = next_drew
    page.wait_for_timeout(PERIOD_MS)
    page.evaluate(STAMPS_JS)  # for (c): from the key that draws t04 on
    next_drew, labeled = press(page, "2", "t04")
    bounds["t03"] = labeled - drew - PERIOD_MS

    # (c) t04, the control: input every second counts in full. The page stamped the draw, and
    # stamps each move and the key; the expected ms follow from those stamps by the rule.
    move_mouse_for(page, 4000)
    press(page, "1", "t05")
    stamps = page.evaluate("window.__stamps")[1:]  # after the keydown that drew t04
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    control = sum(g for g in gaps if g <= IDLE_AFTER_S * 1000)

    expect(root(page)).to_have_attribute("data-unsaved", "0")
    stored = ms_on_item(project_file)
    for item_id, bound in bounds.items():
        assert 0 <= stored[item_id] <= bound + SLACK_MS, (item_id, stored[item_id], bound)
    assert control > 0 and abs(stored["t04"] - control) <= SLACK_MS, (stored["t04"], control)
