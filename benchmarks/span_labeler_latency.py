"""Keypress latency of the SpanLabeler in real JupyterLab: keydown → span drawn, keydown → next item.

Same method as benchmarks/labeler_latency.py (headless Chromium on a real JupyterLab server and
kernel, through tests/browser/harness.py): a capture-phase ``keydown`` listener on ``document``
notes the event's ``timeStamp``; "DOM updated" is when the widget has redrawn (a
``MutationObserver`` on the root's ``data-spans`` for a span, the ``hitl:drawn`` event for the
next item), "next frame" one ``requestAnimationFrame`` later, "frame rendered" a task posted from
that frame. Per item the loop presses ``→`` (caret to the second token), ``1`` (mark it: a span
drawn) and ``Enter`` (submit: the next item drawn), each after the previous one was drawn.
Items are sentences of 40 tokens with emoji. The server runs as users get it (Nagle on).

    .venv/bin/python benchmarks/span_labeler_latency.py [--items 150] [--warmup 5]

A benchmark, not a test: it prints figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

import harness  # noqa: E402
from labeler_latency import machine, summary  # noqa: E402

WAIT_MS = 15_000

INSTALL = """
(rootSelector) => {
  const root = document.querySelector(rootSelector);
  const now = () => performance.now();
  const b = window.__bench = { span: [], next: [], pending: null };
  const close = (s, kind) => {
    s.dom = now();
    requestAnimationFrame(() => {
      s.raf = now();
      const ch = new MessageChannel();
      ch.port1.onmessage = () => { s.rendered = now(); b[kind].push(s); };
      ch.port2.postMessage(0);
    });
  };
  document.addEventListener('keydown', (e) => {
    if (e.key === '1' || e.key === 'Enter') {
      b.pending = { ts: e.timeStamp, kind: e.key === '1' ? 'span' : 'next',
                    spans: root.getAttribute('data-spans'), from: root.getAttribute('data-item-id') };
    }
  }, true);
  new MutationObserver(() => {
    const s = b.pending;
    if (s && s.kind === 'span' && root.getAttribute('data-spans') !== s.spans) { b.pending = null; close(s, 'span'); }
  }).observe(root, { attributes: true, attributeFilter: ['data-spans'] });
  document.addEventListener('hitl:drawn', (e) => {
    const s = b.pending;
    if (s && s.kind === 'next' && String(e.detail.item_id) !== s.from) { b.pending = null; close(s, 'next'); }
  }, true);
}
"""


def cell(project_file: str, n: int) -> str:
    words = ("Ada Lovelace met Charles Babbage in London 🎉 and wrote the first program for his "
             "Analytical Engine 👩‍💻 which could compute Bernoulli numbers long before any "
             "computer existed in 1843 👨🏻‍🚒 firemen drive firetrucks").split()
    texts = [f"Item {k}: " + " ".join(words[(k + j) % len(words)] for j in range(38))
             for k in range(n)]
    ids = [f"s{k:04d}" for k in range(n)]
    return ("import hitl_widgets as hw\n"
            f"project = hw.Project({project_file!r}, span_labels=['PER', 'ORG', 'LOC'])\n"
            f"project.add_items({texts!r}, id={ids!r})\n"
            "w = hw.SpanLabeler(project, annotator='bench')\n"
            "w")


def drive(page, items: int, warmup: int) -> dict:
    root = page.locator(".hitl-spanlabeler")
    harness.expect(root).to_have_attribute("data-item-id", re.compile(r".+"))
    root.click()  # focus, as a person clicks into the widget once
    page.evaluate(INSTALL, ".hitl-spanlabeler")
    started = time.monotonic()
    for k in range(warmup + items):
        page.keyboard.press("ArrowRight")
        page.keyboard.press("1")
        page.wait_for_function("(n) => window.__bench.span.length >= n", arg=k + 1, timeout=WAIT_MS)
        page.keyboard.press("Enter")
        page.wait_for_function("(n) => window.__bench.next.length >= n", arg=k + 1, timeout=WAIT_MS)
    elapsed = time.monotonic() - started
    harness.expect(root).to_have_attribute("data-unsaved", "0", timeout=WAIT_MS)
    data = page.evaluate("() => window.__bench")
    out = {"elapsed_s": elapsed}
    for kind in ("span", "next"):
        samples = data[kind][warmup:]
        out[kind] = {stage: summary([s[stage] - s["ts"] for s in samples])
                     for stage in ("dom", "raf", "rendered")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=150, help="measured items (150)")
    parser.add_argument("--warmup", type=int, default=5, help="items done first, not counted")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    harness.expect.set_options(timeout=WAIT_MS)
    info = machine()
    print(f"machine: {info['cores']} cores ({info['cpu']}); {info['chromium']}; "
          f"JupyterLab {info['jupyterlab']}; Python {info['python']}")
    n = args.items + args.warmup + 20
    with tempfile.TemporaryDirectory(prefix="hitl-bench-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
        server = harness.start_server(Path(tmp), nodelay=False)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(WAIT_MS)
            page = context.new_page()
            nb = harness.open_notebook(page, server, [cell("bench-spans.hitl", n)], name="bench-spans")
            nb.run_all()
            res = drive(page, args.items, args.warmup)
            context.close()
        finally:
            harness.stop_server(server)
            browser.close()
    print(f"{args.items} items measured after {args.warmup} warm-up items ({res['elapsed_s']:.0f} s)")
    print("| keydown → | DOM updated p50 / p95 | next frame p50 / p95 | frame rendered p50 / p95 |")
    print("|---|---|---|---|")
    for kind, what in (("span", "span drawn (`1`)"), ("next", "next item drawn (`Enter`)")):
        r = res[kind]
        print(f"| {what} | " + " | ".join(
            f"{r[s]['p50']:.1f} / {r[s]['p95']:.1f} ms" for s in ("dom", "raf", "rendered")) + " |")


if __name__ == "__main__":
    main()
