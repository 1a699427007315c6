"""The Labeler reads well in JupyterLab's light and dark themes; images draw; screenshots.

Set HITL_SCREENSHOTS=1 to refresh the README's pictures in docs/.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from harness import expect, open_notebook

DOCS = Path(__file__).resolve().parents[2] / "docs"

SMS_CELL = """
import hitl_widgets as hw
from hitl_widgets.datasets import sms_spam
sms = sms_spam()
project = hw.Project({name!r}, labels=["ham", "spam"], guidelines={{
    "ham": {{"description": "A personal or expected message.", "examples": ["Are you home yet?"]}},
    "spam": {{"description": "Unsolicited advertising, prize or premium-rate bait.",
             "examples": ["WINNER!! Claim your prize"]}}}})
project.add_items(sms.iloc[[1, 2, 3, 4, 5]], text="text", id="sms_id")
project.suggest(["sms0001"], ["spam"], [0.97])
for k in (2, 3):
    project.annotate(f"sms000{{k}}", "ham", annotator="you")
hw.Labeler(project, annotator="you")
"""

IMAGE_CELL = """
import os, hitl_widgets as hw
from hitl_widgets.core.store._media import array_to_png
from hitl_widgets.datasets import digits
images, _ = digits()
os.makedirs("imgs", exist_ok=True)
project = hw.Project({name!r}, labels=[str(d) for d in range(10)], image_root="imgs")
project.add_items(image=images[:2], id=["d0", "d1"], value_range=(0, 16))
with open("imgs/gone.png", "wb") as fh:
    fh.write(array_to_png(images[2], (0, 16)))
project.add_items(path=["gone.png"], id=["gone"])
os.remove("imgs/gone.png")  # the file disappears after it was added
hw.Labeler(project, annotator="you")
"""

CONTRAST = """
(el) => {
  const rgb = (s) => s.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let bgEl = el, bg = getComputedStyle(el).backgroundColor;
  while (bgEl && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent')) {
    bgEl = bgEl.parentElement; bg = bgEl ? getComputedStyle(bgEl).backgroundColor : 'rgb(255,255,255)';
  }
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(rgb(bg))].sort((x, y) => y - x);
  return {ratio: (a + 0.05) / (b + 0.05), bg};
}
"""


def set_theme(page, theme: str) -> None:
    page.evaluate("(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme)
    light = theme == "JupyterLab Light"
    page.wait_for_function("(light) => document.body.dataset.jpThemeLight === String(light)", arg=light)


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_text_is_readable_in_both_themes(page, jupyter_server, theme, tmp_path):
    name = f"look-{secrets.token_hex(4)}.hitl"
    nb = open_notebook(page, jupyter_server, [SMS_CELL.format(name=name)])
    set_theme(page, theme)
    nb.run_all()
    root = page.locator(".hitl-labeler")
    expect(root).to_have_attribute("data-item-id", "sms0001")
    expect(page.locator(".hitl-suggestion")).to_contain_text("spam")
    for selector in (".hitl-text", ".hitl-progress", ".hitl-label"):
        contrast = page.locator(selector).first.evaluate(CONTRAST)
        assert contrast["ratio"] >= 4.5, (selector, theme, contrast)  # WCAG AA for body text
    page.locator(".hitl-guidelines summary").click()
    expect(page.locator(".hitl-guidelines")).to_contain_text("premium-rate bait")
    dark = theme.endswith("Dark")
    target = DOCS / ("labeler-dark.png" if dark else "labeler.png")
    if os.environ.get("HITL_SCREENSHOTS") != "1":
        target = tmp_path / target.name
    page.locator(".jp-OutputArea-output").filter(has=root).screenshot(path=str(target))
    assert target.stat().st_size > 5_000


def test_digit_images_draw_large_and_crisp(page, jupyter_server):
    name = f"img-{secrets.token_hex(4)}.hitl"
    nb = open_notebook(page, jupyter_server, [IMAGE_CELL.format(name=name)])
    nb.run_all()
    img = page.locator(".hitl-labeler img")
    expect(img).to_be_visible()
    page.wait_for_function("() => { const i = document.querySelector('.hitl-labeler img');"
                           " return i && i.complete && i.naturalWidth === 8; }")
    box = img.bounding_box()
    assert box["width"] >= 150 and box["height"] >= 150
    assert img.evaluate("(i) => getComputedStyle(i).imageRendering") == "pixelated"
    page.locator(".hitl-labeler").click()
    page.keyboard.press("1")
    expect(page.locator(".hitl-labeler")).to_have_attribute("data-item-id", "d1")
    page.keyboard.press("2")
    expect(page.locator(".hitl-labeler")).to_have_attribute("data-item-id", "gone")
    expect(page.locator(".hitl-image-placeholder")).to_contain_text("cannot read 'gone.png'")
