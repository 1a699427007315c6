"""Keypress latency of the Labeler, against a labeler that waits for the kernel, in real JupyterLab.

Measured inside a headless Chromium page (Debian's, driven by Playwright) on a real JupyterLab
server with a real kernel, with the browser-test harness (tests/browser/harness.py):

- **next item**: keydown → the next item is drawn. A capture-phase ``keydown`` listener on
  ``document`` notes the event's ``timeStamp`` (so time the key waited behind other work in the
  page counts too); the widget's ``hitl:drawn`` event gives "DOM updated";
  one ``requestAnimationFrame`` after it gives "next frame" (the frame that shows the item starts);
  a task posted from that callback gives "frame rendered" (the main thread has done that frame's
  style, layout and paint).
- **acknowledged** (Labeler only): keydown → the kernel's ``ack`` for that label (``hitl:ack``),
  i.e. the label is durable on disk.

Keys are pressed as a person presses them: press, wait until the next item is drawn (and its
frame has run), press the next. There is no other wait. The loop learns of each draw in a
``requestAnimationFrame`` poll, so its keys land a few ms after a frame starts; a person's land
anywhere in a frame, and then the wait for the next frame alone is uniform over 0–16.7 ms at
60 Hz (p95 15.9 ms) for any widget. Read "next frame" with that in mind, and "first frame missed"
(second table) as the widget's own share: the item was not in the first frame after the key. The Labeler draws from the items it holds;
the baseline is a small anywidget defined in the notebook cell below that does what today's
notebook labelers do: send the label to the kernel, which records it in a hitl_widgets Project
(``project.annotate``) and sets a ``current`` trait to the next item, which the view draws on
``change:current``.

Each widget runs in its own notebook and kernel, against two servers: jupyter_server as users get
it (Nagle's algorithm on for the kernel websocket) and with TCP_NODELAY set. The Labeler also runs
on 8×8 digit images (scikit-learn's, via ``hitl_widgets.datasets.digits``).

    .venv/bin/python benchmarks/labeler_latency.py [--keys 200] [--warmup 10] [--json out.json]

It is a benchmark, not a test: it prints figures and PASS/MISS beside the issue's targets, and
asserts nothing about time. A run takes about 100 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))
sys.path.insert(0, str(REPO))

import harness  # noqa: E402

TARGET_NEXT_MS = 16.0  # issue "foundation": next item p95
TARGET_ACK_MS = 100.0  # issue "foundation": acknowledged p95
KEYS = ["1", "2", "3"]  # ham, spam, eggs in both widgets (the first three labels for digits)
LABELS = ["ham", "spam", "eggs"]
WAIT_MS = 15_000  # a key that draws nothing within this fails the run (a lost key)

# ---------------------------------------------------------------------------------- notebooks


def texts(n: int) -> tuple[list[str], list[str]]:
    return [f"message {k}" for k in range(n)], [f"m{k:04d}" for k in range(n)]


def labeler_text_cell(project_file: str, n: int) -> str:
    body, ids = texts(n)
    return (
        "import hitl_widgets as hw\n"
        f"project = hw.Project({project_file!r}, labels={LABELS!r})\n"
        f"project.add_items({body!r}, id={ids!r})\n"
        "w = hw.Labeler(project, annotator='bench')\n"
        "w"
    )


def labeler_digits_cell(project_file: str, n: int) -> str:
    return (
        "import hitl_widgets as hw\n"
        "from hitl_widgets.datasets import digits\n"
        "images, _ = digits()\n"
        f"project = hw.Project({project_file!r}, labels=[str(d) for d in range(10)])\n"
        f"project.add_items(image=images[:{n}], id=[f'd{{k:04d}}' for k in range({n})], "
        "value_range=(0, 16))\n"
        "w = hw.Labeler(project, annotator='bench')\n"
        "w"
    )


# The baseline's view: draws only what the kernel sets; a key sends the label and waits.
BASELINE_ESM = """
function render({ model, el }) {
  const KEYS = { "1": "ham", "2": "spam", "3": "eggs" };
  const root = document.createElement("div");
  root.className = "bench-baseline";
  root.tabIndex = 0;
  root.setAttribute("data-lm-suppress-shortcuts", "true");  // JupyterLab: leave our keys alone
  const text = document.createElement("div");
  text.className = "bench-text";
  const hint = document.createElement("div");
  hint.textContent = "1 ham · 2 spam · 3 eggs";
  root.append(text, hint);
  el.append(root);
  let shownAt = performance.now();
  const draw = () => {
    const c = model.get("current") || {};
    text.textContent = c.text ?? "";
    root.setAttribute("data-item-id", c.item_id ?? "");
    shownAt = performance.now();
    // The same event the Labeler dispatches, so one listener measures both widgets.
    root.dispatchEvent(new CustomEvent("hitl:drawn", { bubbles: true, detail: { item_id: c.item_id } }));
  };
  const onKey = (e) => {
    const label = KEYS[e.key];
    if (!label || e.repeat) return;
    e.preventDefault();
    e.stopPropagation();
    model.send({ type: "label", item_id: root.getAttribute("data-item-id"), label,
                 ms_on_item: Math.round(performance.now() - shownAt) });
  };
  const onClick = () => root.focus();
  root.addEventListener("keydown", onKey);
  root.addEventListener("click", onClick);
  model.on("change:current", draw);
  draw();
  return () => {
    model.off("change:current", draw);
    root.removeEventListener("keydown", onKey);
    root.removeEventListener("click", onClick);
  };
}
export default { render };
"""


def baseline_cell(project_file: str, n: int) -> str:
    body, ids = texts(n)
    return f'''
import anywidget
import traitlets
import hitl_widgets as hw

project = hw.Project({project_file!r}, labels={LABELS!r})
project.add_items({body!r}, id={ids!r})
ITEMS = list(zip({ids!r}, {body!r}))


class KernelWaitingLabeler(anywidget.AnyWidget):
    """Today's notebook labeler: the kernel records each label, then sets the next item."""

    _esm = {BASELINE_ESM!r}
    current = traitlets.Dict().tag(sync=True)

    def __init__(self, project, annotator):
        super().__init__()
        self.project, self.annotator, self.pos = project, annotator, 0
        self.on_msg(self._on_msg)
        self._show()

    def _show(self):
        item_id, text = ITEMS[self.pos] if self.pos < len(ITEMS) else ("", "All items labeled.")
        self.current = {{"item_id": item_id, "text": text}}

    def _on_msg(self, _widget, msg, _buffers):
        if msg.get("type") != "label" or self.pos >= len(ITEMS):
            return
        if msg.get("item_id") != ITEMS[self.pos][0]:
            return
        self.project.annotate(msg["item_id"], msg["label"], annotator=self.annotator,
                              ms_on_item=msg.get("ms_on_item"))
        self.pos += 1
        self._show()


b = KernelWaitingLabeler(project, "bench")
b
'''


# ---------------------------------------------------------------------------------- the page

# Installed once the widget is on screen. Every keydown (capture phase, before the widget sees
# it) opens a sample; the first `hitl:drawn` after it closes "DOM updated", one rAF later "next
# frame", a task posted from that rAF "frame rendered". An <img> in the item adds "decoded".
# Times count from the key event's own timeStamp, so time the event waited in the page's queue
# (behind kernel messages, say) is included.
INSTALL = """
async (rootSelector) => {
  const root = document.querySelector(rootSelector);
  const now = () => performance.now();
  const b = window.__bench = { samples: [], acks: {}, pending: null, longtasks: [] };
  // The frame interval, from a second of frames.
  const times = [];
  await new Promise((resolve) => {
    const tick = (t) => { times.push(t); if (times.length < 61) requestAnimationFrame(tick); else resolve(); };
    requestAnimationFrame(tick);
  });
  const gaps = times.slice(1).map((t, i) => t - times[i]).sort((x, y) => x - y);
  b.frameMs = gaps[Math.floor(gaps.length / 2)];
  document.addEventListener('keydown', (e) => {
    if (e.repeat || !['1', '2', '3'].includes(e.key)) return;
    b.pending = { ts: e.timeStamp, t0: now(), from: root.getAttribute('data-item-id') };
  }, true);
  document.addEventListener('hitl:drawn', (e) => {
    const s = b.pending;
    if (!s || String(e.detail.item_id) === s.from) return;
    b.pending = null;
    s.dom = now();
    s.to = String(e.detail.item_id);
    const img = root.querySelector('img');
    const decoded = img ? img.decode().then(() => { s.img = now(); }, () => { s.img = -1; })
                        : Promise.resolve();
    const frame = new Promise((resolve) => requestAnimationFrame((frameTime) => {
      s.raf = now();
      s.frameTime = frameTime;
      const ch = new MessageChannel();
      ch.port1.onmessage = () => { s.rendered = now(); resolve(); };
      ch.port2.postMessage(0);
    }));
    Promise.all([frame, decoded]).then(() => b.samples.push(s));
  }, true);
  document.addEventListener('hitl:ack', (e) => { b.acks[String(e.detail.item_id)] = now(); }, true);
  try {
    new PerformanceObserver((list) => {
      for (const t of list.getEntries()) b.longtasks.push([t.startTime, t.duration]);
    }).observe({ type: 'longtask' });
  } catch (err) { /* not supported */ }
  return b.frameMs;
}
"""


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": statistics.median(values),
        "p95": percentile(values, 95),
        "max": max(values),
    }


def drive(page, root_selector: str, keys: int, warmup: int, acks: bool) -> dict:
    """Press `warmup + keys` keys, each after the previous item was drawn; return the figures."""
    root = page.locator(root_selector)
    harness.expect(root).to_have_attribute("data-item-id", re.compile(r".+"))
    root.click()  # focus, as a person clicks into the widget once
    page.wait_for_function(
        "(sel) => document.activeElement === document.querySelector(sel)", arg=root_selector
    )
    frame_ms = page.evaluate(INSTALL, root_selector)
    total = warmup + keys
    started = time.monotonic()
    for k in range(total):
        page.keyboard.press(KEYS[k % len(KEYS)])
        # The next item is drawn and its frame has run: a person now reads it.
        page.wait_for_function(
            "(n) => window.__bench.samples.length >= n", arg=k + 1, timeout=WAIT_MS
        )
    elapsed = time.monotonic() - started
    if acks:
        harness.expect(root).to_have_attribute("data-unsaved", "0", timeout=WAIT_MS)
    data = page.evaluate("() => window.__bench")
    samples = data["samples"][warmup:]
    if len(samples) != keys:
        raise RuntimeError(f"expected {keys} samples, got {len(samples)}")
    if len({s["to"] for s in samples}) != keys:
        raise RuntimeError("an item was drawn twice: keys and draws are out of step")
    out = {
        "elapsed_s": elapsed,
        "frame_interval_ms": frame_ms,
        "dom": summary([s["dom"] - s["ts"] for s in samples]),
        "frame": summary([s["raf"] - s["ts"] for s in samples]),
        "rendered": summary([s["rendered"] - s["ts"] for s in samples]),
        "queued": summary([s["t0"] - s["ts"] for s in samples]),
        # How long after its own frame time the frame's rAF ran (the main thread was busy).
        "late": summary([s["raf"] - s["frameTime"] for s in samples]),
        # The item was not in the first frame after the key: a vsync went by without it.
        "missed_frame": sum(s["frameTime"] - s["ts"] > frame_ms + 0.5 for s in samples),
        "longtasks": len(data["longtasks"]),
        "longtask_max": max((d for _, d in data["longtasks"]), default=0.0),
    }
    if any("img" in s for s in samples):
        out["decoded"] = summary([s["img"] - s["ts"] for s in samples if s.get("img", -1) >= 0])
    if acks:
        ack_ms = [data["acks"][s["from"]] - s["ts"] for s in samples if s["from"] in data["acks"]]
        if len(ack_ms) != keys:
            raise RuntimeError(f"{keys - len(ack_ms)} keys were never acknowledged")
        out["ack"] = summary(ack_ms)
    return out


def run_widget(browser, server, name: str, cell: str, root_selector: str, args, acks: bool):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    log = harness.PageLog()
    log.attach(page)
    before = {s["id"] for s in server.api("GET", "/api/sessions")}
    try:
        nb = harness.open_notebook(page, server, [cell], name=name)
        nb.run_all()
        result = drive(page, root_selector, args.keys, args.warmup, acks)
        errors = log.unexpected_errors()
        if errors:
            raise RuntimeError("the page logged errors:\n  " + "\n  ".join(errors))
        return result
    finally:
        context.close()
        for session in server.api("GET", "/api/sessions"):  # free the core for the next run
            if session["id"] not in before:
                server.api("DELETE", f"/api/sessions/{session['id']}")


# ---------------------------------------------------------------------------------- report


def fmt(x: float) -> str:
    return f"{x:.1f}"


def ratio(baseline: float, ours: float) -> str:
    r = baseline / ours
    return f"{r:.1f}×" if r < 10 else f"{r:.0f}×"


def verdict(value: float, target: float) -> str:
    return f"{'PASS' if value <= target else 'MISS'} (p95 ≤ {target:g} ms)"


def table(results: dict, args) -> str:
    """A Markdown table: one row per server × data × measure; times in ms."""
    head = (
        "| server | data | measure | hitl p50 | hitl p95 | hitl max | baseline p50 | baseline p95 "
        "| baseline max | ratio p50 | ratio p95 | target (hitl) |\n"
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|"
    )
    rows = [head]
    measures = [
        ("dom", "next item: DOM updated", TARGET_NEXT_MS),
        ("frame", "next item: next frame", TARGET_NEXT_MS),
        ("rendered", "next item: frame rendered", None),
        ("decoded", "next item: image decoded", None),
        ("ack", "label acknowledged", TARGET_ACK_MS),
    ]
    for server_name in ("Nagle (default)", "TCP_NODELAY"):
        for data in ("text", "digits"):
            ours = results.get((server_name, data, "hitl"))
            base = results.get((server_name, data, "baseline"))
            if ours is None:
                continue
            for key, label, target in measures:
                if key not in ours:
                    continue
                o = ours[key]
                b = base.get(key) if base and key != "ack" else None
                cells = [server_name, data, label, fmt(o["p50"]), fmt(o["p95"]), fmt(o["max"])]
                if b:
                    cells += [fmt(b["p50"]), fmt(b["p95"]), fmt(b["max"]),
                              ratio(b["p50"], o["p50"]), ratio(b["p95"], o["p95"])]
                else:
                    cells += ["–"] * 5
                cells.append(verdict(o["p95"], target) if target else "")
                rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def details(results: dict, args) -> str:
    """Where the time goes, per run (ms): what the widget does not control, and what it does."""
    rows = [
        "| server | data | widget | key queued p50 / p95 | first frame missed | frame's rAF late "
        "p50 / p95 | long tasks (≥50 ms) | wall time |",
        "|---|---|---|--:|--:|--:|--:|--:|",
    ]
    for (server_name, data, widget), res in results.items():
        rows.append(
            f"| {server_name} | {data} | {widget} "
            f"| {fmt(res['queued']['p50'])} / {fmt(res['queued']['p95'])} "
            f"| {res['missed_frame']} of {args.keys} "
            f"| {fmt(res['late']['p50'])} / {fmt(res['late']['p95'])} "
            f"| {res['longtasks']} | {res['elapsed_s']:.1f} s for {args.warmup + args.keys} keys |"
        )
    return "\n".join(rows)


def machine() -> dict:
    import subprocess

    import jupyter_server
    import jupyterlab
    import playwright

    chromium = subprocess.run(
        [harness.CHROMIUM, "--version"], capture_output=True, text=True
    ).stdout.strip()
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "chromium": chromium,
        "jupyterlab": jupyterlab.__version__,
        "jupyter_server": jupyter_server.__version__,
        "playwright": playwright.__version__ if hasattr(playwright, "__version__") else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=200, help="measured keys per run (200)")
    parser.add_argument("--warmup", type=int, default=10, help="keys pressed first, not counted")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    n_items = args.keys + args.warmup + 20  # never runs out; at least 300 texts
    n_items = max(n_items, 300)

    from playwright.sync_api import sync_playwright

    harness.expect.set_options(timeout=WAIT_MS)
    info = machine()
    print(f"machine: {info['cores']} cores ({info['cpu']}), no GPU; {info['chromium']}; "
          f"JupyterLab {info['jupyterlab']}, jupyter_server {info['jupyter_server']}; "
          f"Python {info['python']}")
    print(f"{args.keys} measured keys per run after {args.warmup} warm-up keys; {n_items} items")
    results: dict = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hitl-bench-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
        try:
            for server_name, nodelay in (("Nagle (default)", False), ("TCP_NODELAY", True)):
                base = Path(tmp) / ("nodelay" if nodelay else "nagle")
                base.mkdir()
                server = harness.start_server(base, nodelay=nodelay)
                try:
                    runs = [
                        ("text", "hitl", labeler_text_cell, ".hitl-labeler", True),
                        ("text", "baseline", baseline_cell, ".bench-baseline", False),
                        ("digits", "hitl", labeler_digits_cell, ".hitl-labeler", True),
                    ]
                    for data, widget, make_cell, selector, acks in runs:
                        name = f"bench-{data}-{widget}"
                        cell = make_cell(f"{name}.hitl", n_items)
                        t = time.monotonic()
                        res = run_widget(browser, server, name, cell, selector, args, acks)
                        results[(server_name, data, widget)] = res
                        print(f"  {server_name:16} {data:6} {widget:8} "
                              f"next frame p50 {fmt(res['frame']['p50'])} "
                              f"p95 {fmt(res['frame']['p95'])} ms"
                              + (f", ack p95 {fmt(res['ack']['p95'])} ms" if acks else "")
                              + f"  ({time.monotonic() - t:.0f} s)", flush=True)
                    values = server.nodelay_values()
                    if nodelay and (not values or not all(values)):
                        raise RuntimeError(f"TCP_NODELAY was not set on the websockets: {values}")
                finally:
                    harness.stop_server(server)
        finally:
            browser.close()

    print()
    print(table(results, args))
    print()
    print(details(results, args))
    print(f"\ntotal {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(
            {"machine": info, "keys": args.keys, "warmup": args.warmup,
             "results": [{"server": s, "data": d, "widget": w, **r}
                         for (s, d, w), r in results.items()]}, indent=2))


if __name__ == "__main__":
    main()
