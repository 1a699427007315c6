"""Seconds per entity in the SpanLabeler, keyboard only against mouse only, on a scripted task.

The same task is done twice in a real JupyterLab with headless Chromium (tests/browser/harness.py),
once with keys only and once with the mouse only, each by a script that acts as a person would:
the keyboard path moves the token caret with ``→``, extends with ``Shift+→``, presses a label's
key and ``Enter``; the mouse path clicks a label button when the label changes (first a click on
plain text if a span is selected, which the button would relabel), drags over the entity's text
and clicks Submit. Both runs must store exactly the expected spans (checked), so
the two action logs describe the same work.

A script is not a person, so its wall time says little about people. The figure is the
Keystroke-Level Model's estimate (Card, Moran and Newell, 1980) over the actions each path
really took: K = 0.28 s a keystroke (an average typist), P = 1.1 s to point the mouse, B = 0.1 s a
button press or release, and M = 1.35 s of thought per entity on both paths (finding it and
choosing its label), so the difference between the two is the mechanics alone. The generated
sentences (clearly synthetic) hold two entities each, one of two tokens.

    .venv/bin/python benchmarks/span_entry_cost.py [--items 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))
sys.path.insert(0, str(REPO))

import harness  # noqa: E402

import hitl_widgets as hw  # noqa: E402

K, P, B, M = 0.28, 1.1, 0.1, 1.35  # seconds: keystroke, point, button press or release, mental
WAIT_MS = 15_000
LABELS = ["PER", "ORG", "LOC"]
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus"]
CITY = ["London", "Paris", "Zurich", "Boston", "Delft", "Kyoto", "Oslo", "Lima"]


def task(n: int) -> tuple[list[str], list[list[tuple[int, int, str, int, int]]]]:
    """Generated sentences and, per sentence, its entities as (start, end, label, first token,
    token count), in text order."""
    texts, entities = [], []
    for k in range(n):
        words = ["Yesterday", "the", "team", "said", "that", FIRST[k % 8], LAST[(k * 3) % 8],
                 "will", "visit", CITY[(k * 5) % 8], "next", "spring", "for", "a", "talk"]
        shift = k % 3  # the entities move around a little from item to item
        words = words[:4] + ["indeed"] * shift + words[4:]
        text = " ".join(words)
        starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
        person, city = 5 + shift, 9 + shift
        entities.append([
            (starts[person], starts[person + 1] + len(words[person + 1]), "PER", person, 2),
            (starts[city], starts[city] + len(words[city]), "LOC", city, 1)])
        texts.append(text)
    return texts, entities


def cells(project_file: str, texts: list[str], annotator: str) -> list[str]:
    ids = [f"s{k:03d}" for k in range(len(texts))]
    return ["import hitl_widgets as hw\n"
            f"project = hw.Project({project_file!r}, span_labels={LABELS!r})\n"
            f"project.add_items({texts!r}, id={ids!r})\n"
            f"w = hw.SpanLabeler(project, annotator={annotator!r})\n"
            "w"]


def wait_item(page, k: int) -> None:
    harness.expect(page.locator(".hitl-spanlabeler")).to_have_attribute(
        "data-item-id", f"s{k:03d}", timeout=WAIT_MS)


def keyboard(page, entities) -> dict:
    """Keys only; the caret starts on the first token of each item."""
    page.wait_for_function("""() => new Promise((done) => {
        const r = document.querySelector('.hitl-spanlabeler'); r.focus();
        requestAnimationFrame(() => requestAnimationFrame(() => done(document.activeElement === r)));
    })""")
    keys = 0
    for k, item in enumerate(entities):
        wait_item(page, k)
        caret = 0
        for n, (_, _, label, token, count) in enumerate(item):
            moves = ["ArrowRight"] * (token - caret) + ["Shift+ArrowRight"] * (count - 1)
            for key in [*moves, str(LABELS.index(label) + 1)]:
                page.keyboard.press(key)
                keys += 1
            harness.expect(page.locator(".hitl-spanlabeler")).to_have_attribute(
                "data-spans", str(n + 1))
            caret = token + count - 1  # the caret rests on the span's last token
        page.keyboard.press("Enter")
        keys += 1
    return {"K": keys, "P": 0, "B": 0}


def mouse(page, entities) -> dict:
    """The mouse only: a label button when the label changes (after a click on plain text when a
    span is selected, or the button would relabel it), a drag, the Submit button."""
    points = buttons = 0
    current = None
    for k, item in enumerate(entities):
        wait_item(page, k)
        for n, (start, end, label, _, _) in enumerate(item):
            if label != current:
                if n:  # the span just made is selected, and a label button would relabel it:
                    # a click on plain text first ("the" is never part of an entity here)
                    page.locator(".hitl-spanlabeler .hitl-seg", has_text="the").first.click()
                    points, buttons = points + 1, buttons + 2
                page.locator(".hitl-label", has_text=label).click()
                points, buttons, current = points + 1, buttons + 2, label
            box = page.evaluate("""([a, b]) => {
                const segs = [...document.querySelectorAll('.hitl-spanlabeler .hitl-seg')];
                const point = (u) => { for (const s of segs) { const t = s.firstChild,
                  len = s.textContent.length, at = Number(s.dataset.s);
                  if (u >= at && u <= at + len && t) return [t, u - at]; } };
                const r = document.createRange(); r.setStart(...point(a)); r.setEnd(...point(b));
                const rects = r.getClientRects(), f = rects[0], l = rects[rects.length - 1];
                return {x0: f.left + 1, y0: f.top + f.height / 2, x1: l.right - 1,
                        y1: l.top + l.height / 2};
            }""", [start, end])  # plain ASCII text: code points are UTF-16 units here
            page.mouse.move(box["x0"], box["y0"])
            page.mouse.down()
            page.mouse.move(box["x1"], box["y1"], steps=4)
            page.mouse.up()
            points, buttons = points + 2, buttons + 2  # point to the start, drag to the end
            harness.expect(page.locator(".hitl-spanlabeler")).to_have_attribute(
                "data-spans", str(n + 1))
        page.locator("button[data-action=submit]").click()
        points, buttons = points + 1, buttons + 2
    return {"K": 0, "P": points, "B": buttons}


def klm(ops: dict, entities: int) -> float:
    return (ops["K"] * K + ops["P"] * P + ops["B"] * B + entities * M) / entities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    texts, entities = task(args.items)
    want = sorted((f"s{k:03d}", s, e, lab) for k, item in enumerate(entities)
                  for s, e, lab, _, _ in item)
    results = {}
    with tempfile.TemporaryDirectory(prefix="hitl-bench-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
        server = harness.start_server(Path(tmp), nodelay=False)
        try:
            for name, drive in (("keyboard only", keyboard), ("mouse only", mouse)):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.set_default_timeout(WAIT_MS)
                page = context.new_page()
                file = f"entry-{name.split()[0]}.hitl"
                nb = harness.open_notebook(page, server, cells(file, texts, "bench"),
                                           name=f"entry-{name.split()[0]}")
                nb.run_all()
                wait_item(page, 0)
                started = time.monotonic()
                ops = drive(page, entities)
                harness.expect(page.locator(".hitl-spanlabeler")).to_have_attribute(
                    "data-unsaved", "0", timeout=WAIT_MS)
                elapsed = time.monotonic() - started
                context.close()
                with hw.Project(server.root_dir / file, read_only=True) as p:
                    got = sorted(p.spans()[["item_id", "start", "end", "label"]]
                                 .itertuples(index=False, name=None))
                assert got == want, f"{name}: stored spans differ from the task's"
                results[name] = (ops, elapsed)
        finally:
            harness.stop_server(server)
            browser.close()
    n = len(want)
    print(f"{args.items} generated sentences, {n} entities (half of them two tokens long); both "
          "runs stored exactly the expected spans")
    print("| path | keystrokes | pointings | button presses + releases | KLM seconds per entity "
          "| script's wall time per entity |")
    print("|---|--:|--:|--:|--:|--:|")
    for name, (ops, elapsed) in results.items():
        print(f"| {name} | {ops['K']} | {ops['P']} | {ops['B']} | {klm(ops, n):.2f} s | "
              f"{elapsed / n:.2f} s |")
    kb, ms = (klm(results[x][0], n) for x in ("keyboard only", "mouse only"))
    print(f"keyboard only: {ms / kb:.2f}x faster per entity than the mouse by the KLM "
          f"(K={K}, P={P}, B={B}, M={M} per entity on both)")


if __name__ == "__main__":
    main()
