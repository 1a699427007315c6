"""The SpanLabeler in a real JupyterLab: keys (and, separately, the mouse) reach the store with
the offsets Python counts; overlaps, markup in the text and a kernel restart."""

from __future__ import annotations

import random
import secrets
from pathlib import Path

import pytest
from harness import expect, open_notebook

import hitl_widgets as hw

SENTENCE = "👨🏻‍🚒 Ada Lovelace met Charles Babbage in London"
XSS = '<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script> & more'
TEXTS = [SENTENCE, XSS, "مرحبا Ada 🎉 שלום", "second 👩‍👩‍👧 plain text", "third text here"]
IDS = [f"t{k}" for k in range(len(TEXTS))]
MOUSE_EVENTS = ["mousedown", "mouseup", "click", "dblclick", "mousemove", "mouseover", "contextmenu",
                "pointerdown", "pointerup", "pointermove", "wheel", "auxclick"]


def cells(project_file: str, texts=TEXTS, ids=IDS, overlapping=False, options="") -> list[str]:
    return [
        "import hitl_widgets as hw",
        f"project = hw.Project({project_file!r}, span_labels=['PER', 'ORG', 'LOC'], "
        f"relation_labels=['knows', 'born_in'], overlapping={overlapping})\n"
        f"project.add_items({texts!r}, id={ids!r})\n"
        f"w = hw.SpanLabeler(project, annotator='ana'{options})\n"
        "w",
    ]


@pytest.fixture
def project_file(jupyter_server) -> Path:
    return jupyter_server.root_dir / f"s-{secrets.token_hex(4)}.hitl"


def root(page):
    return page.locator(".hitl-spanlabeler")


def wait_for_item(page, item_id: str) -> None:
    expect(root(page)).to_have_attribute("data-item-id", item_id)


def wait_saved(page) -> None:
    expect(root(page)).to_have_attribute("data-unsaved", "0")


def stored(project_file: Path):
    with hw.Project(project_file) as p:
        return p.spans(), p.relations()


def count_mouse_events(page) -> None:
    page.evaluate("""(types) => { window.__mouse = [];
        for (const t of types) window.addEventListener(t, (e) => window.__mouse.push(t), true); }""",
                  MOUSE_EVENTS)


def focus(page) -> None:
    """Focus the widget without a mouse, and wait until it keeps the focus for two frames:
    JupyterLab moves the focus to the notebook once a run finishes, and keys sent then would
    reach the notebook instead."""
    page.wait_for_function("""() => new Promise((done) => {
        const r = document.querySelector('.hitl-spanlabeler');
        if (!r) return done(false);
        r.focus();
        requestAnimationFrame(() => requestAnimationFrame(() => done(document.activeElement === r)));
    })""")


def press(page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)


def expect_spans(page, n: int) -> None:
    expect(root(page)).to_have_attribute("data-spans", str(n))


def test_keyboard_only_three_spans_a_boundary_and_a_relation(page, jupyter_server, project_file):
    nb = open_notebook(page, jupyter_server, cells(project_file.name))
    nb.run_all()
    wait_for_item(page, "t0")
    count_mouse_events(page)
    focus(page)  # programmatic focus: no mouse event
    press(page, "ArrowRight", "Shift+ArrowRight", "1")  # "Ada Lovelace" PER
    expect_spans(page, 1)
    press(page, "ArrowRight", "ArrowRight", "1")  # "Charles" PER
    expect_spans(page, 2)
    press(page, "]")  # its end moves one token right: "Charles Babbage"
    expect(page.locator(".hitl-status")).to_contain_text("Charles Babbage")
    press(page, "ArrowRight", "ArrowRight", "3")  # "London" LOC
    expect_spans(page, 3)
    press(page, "Shift+Tab", "Shift+Tab")  # select "Ada Lovelace"
    expect(page.locator(".hitl-status")).to_contain_text("Ada Lovelace")
    press(page, "r", "Tab")  # relation from it; Tab picks the child
    expect(root(page)).to_have_attribute("data-mode", "relation")
    press(page, "1")  # "knows"
    expect(page.locator(".hitl-relation")).to_have_count(1)
    expect(page.locator(".hitl-relation")).to_contain_text("Charles Babbage")
    press(page, "Tab", "Tab", "Tab")  # past the three spans to the relation
    expect(page.locator(".hitl-relation.is-selected")).to_have_count(1)
    press(page, "Delete")
    expect(page.locator(".hitl-relation")).to_have_count(0)
    press(page, "Control+z")  # back again
    expect(page.locator(".hitl-relation")).to_have_count(1)
    press(page, "Enter")
    wait_for_item(page, "t1")
    wait_saved(page)
    assert page.evaluate("window.__mouse") == []

    spans, relations = stored(project_file)
    assert spans[["item_id", "start", "end", "label", "text"]].values.tolist() == [
        ["t0", 5, 17, "PER", "Ada Lovelace"], ["t0", 22, 37, "PER", "Charles Babbage"],
        ["t0", 41, 47, "LOC", "London"]]
    assert all(SENTENCE[s:e] == t for s, e, t in spans[["start", "end", "text"]].values)
    ada, charles = spans.span_id[0], spans.span_id[1]
    assert relations[["head", "child", "label"]].values.tolist() == [[ada, charles, "knows"]]

    # Ctrl+Z undoes within the item, then u brings the submitted item back with its spans.
    press(page, "ArrowRight", "2")
    expect_spans(page, 1)
    press(page, "Control+z")
    expect_spans(page, 0)
    press(page, "u")
    wait_for_item(page, "t0")
    expect_spans(page, 3)
    wait_saved(page)
    assert stored(project_file)[0].empty
    assert page.evaluate("window.__mouse") == []


def drag(page, text: str, nth: int = 0) -> None:
    """Select `text` in the drawn item with a real mouse drag (press, move, release)."""
    box = page.evaluate("""([needle, nth]) => {
        const segs = [...document.querySelectorAll('.hitl-spanlabeler .hitl-seg')];
        const whole = segs.map((s) => s.textContent).join('');
        let at = -1; for (let k = 0; k <= nth; k++) at = whole.indexOf(needle, at + 1);
        const point = (u) => { for (const s of segs) { const n = s.firstChild, len = s.textContent.length,
          a = Number(s.dataset.s); if (u >= a && u <= a + len && n) return [n, u - a]; } };
        const r = document.createRange();
        r.setStart(...point(at)); r.setEnd(...point(at + needle.length));
        const rects = r.getClientRects(), first = rects[0], last = rects[rects.length - 1];
        return {x0: first.left + 1, y0: first.top + first.height / 2, x1: last.right - 1, y1: last.top + last.height / 2};
    }""", [text, nth])
    page.mouse.move(box["x0"], box["y0"])
    page.mouse.down()
    page.mouse.move(box["x1"], box["y1"], steps=4)
    page.mouse.up()


def click_text(page, text: str) -> None:
    page.locator(".hitl-spanlabeler .hitl-seg", has_text=text).first.click()


def test_mouse_only_the_same_task(page, jupyter_server, project_file):
    nb = open_notebook(page, jupyter_server, cells(project_file.name))
    nb.run_all()
    wait_for_item(page, "t0")
    page.locator(".hitl-label", has_text="PER").click()
    drag(page, "da Love")  # snaps out to "Ada Lovelace"
    expect_spans(page, 1)
    drag(page, "Charles")
    expect_spans(page, 2)
    drag(page, "Charles Babbage")  # over the selected span: resizes it
    expect(page.locator(".hitl-status")).to_contain_text("Charles Babbage")
    click_text(page, "met")  # plain text: deselects, so the next label button only picks a label
    page.locator(".hitl-label", has_text="LOC").click()
    drag(page, "London")
    expect_spans(page, 3)
    click_text(page, "Ada")
    expect(page.locator(".hitl-status")).to_contain_text("Ada Lovelace")
    page.locator("button[data-action=relation]").click()
    click_text(page, "Charles")
    page.locator(".hitl-label", has_text="knows").click()
    expect(page.locator(".hitl-relation")).to_have_count(1)
    page.locator("button[data-action=submit]").click()
    wait_for_item(page, "t1")
    wait_saved(page)
    spans, relations = stored(project_file)
    assert spans[["start", "end", "label", "text"]].values.tolist() == [
        [5, 17, "PER", "Ada Lovelace"], [22, 37, "PER", "Charles Babbage"], [41, 47, "LOC", "London"]]
    assert relations["label"].tolist() == ["knows"]


def test_overlapping_spans_stack_and_one_layer_refuses(page, jupyter_server, project_file):
    nb = open_notebook(page, jupyter_server, cells(project_file.name, overlapping=True))
    nb.run_all()
    wait_for_item(page, "t0")
    focus(page)
    press(page, "ArrowRight", "ArrowRight", "1")  # "Lovelace" PER
    press(page, "ArrowLeft", "Shift+ArrowRight", "Shift+ArrowRight", "2")  # "Ada Lovelace met" ORG
    press(page, "ArrowLeft", "Shift+ArrowRight", "3")  # "Lovelace met" LOC: nested and crossing
    expect_spans(page, 3)
    # "Lovelace" lies under all three, each on its own lane, with three label chips.
    lovelace = page.locator(".hitl-seg", has_text="Lovelace")
    expect(lovelace).to_have_attribute("data-marks", "span:1 span:0 span:2")
    expect(page.locator(".hitl-chip")).to_have_count(3)
    lanes = lovelace.evaluate("(el) => getComputedStyle(el).backgroundImage")
    assert lanes.count("linear-gradient") >= 2
    press(page, "Enter")
    wait_for_item(page, "t1")
    wait_saved(page)
    spans, _ = stored(project_file)
    assert sorted(spans[["start", "end", "label"]].values.tolist()) == [
        [5, 21, "ORG"], [9, 17, "PER"], [9, 21, "LOC"]]

    # A one-layer project in the same page refuses the overlap, visibly, and stores none.
    other = project_file.with_name(f"one-{project_file.name}")
    nb2 = open_notebook(page, jupyter_server, cells(other.name))
    nb2.run_all()
    wait_for_item(page, "t0")
    focus(page)
    press(page, "ArrowRight", "Shift+ArrowRight", "1")
    press(page, "ArrowLeft", "2")
    expect(page.locator(".hitl-status.is-refused")).to_contain_text("one layer")
    expect_spans(page, 1)


def test_markup_in_the_text_stays_text(page, jupyter_server, project_file):
    nb = open_notebook(page, jupyter_server, cells(project_file.name))
    nb.run_all()
    wait_for_item(page, "t0")
    focus(page)
    press(page, "s")  # skip to the markup item
    wait_for_item(page, "t1")
    expect(page.locator(".hitl-text")).to_have_text(XSS)
    press(page, "1", "ArrowRight", "2")
    expect_spans(page, 2)
    press(page, "Enter")
    wait_for_item(page, "t2")
    wait_saved(page)
    assert page.evaluate("window.__xss") is None
    assert page.locator(".hitl-spanlabeler img, .hitl-spanlabeler script").count() == 0
    spans, _ = stored(project_file)
    assert spans["text"].tolist() == ['<img', 'src=x']


def test_spans_survive_a_kernel_restart(page, jupyter_server, project_file):
    nb = open_notebook(page, jupyter_server, cells(project_file.name))
    nb.run_all()
    wait_for_item(page, "t0")
    focus(page)
    press(page, "End", "3", "Enter")  # "London" LOC
    wait_for_item(page, "t1")
    wait_saved(page)
    nb.restart_kernel()
    nb.run_all()
    wait_for_item(page, "t1")  # resumes at the first item not answered
    focus(page)
    press(page, "s")
    wait_for_item(page, "t2")
    # Right-to-left text: ← moves on in reading order, as on screen; "Ada" PER.
    press(page, "ArrowLeft", "1", "Enter")
    wait_for_item(page, "t3")
    wait_saved(page)
    spans, _ = stored(project_file)
    assert spans[["item_id", "text", "label"]].values.tolist() == [
        ["t0", "London", "LOC"], ["t2", "Ada", "PER"]]
    assert nb.eval("len(w.project.spans())") == 2


PIECES = ["a", "b", " ", "\r\n", "\n", "é", "e\u0301", "n\u0303\u0323", "مرحبا", "😀", "🚒", "👨🏻‍🚒",
          "👩‍👩‍👧‍👦", "🇫🇷", "\u200d", "𝔘", "中"]


def random_texts(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(12, 24))) for _ in range(n)]


def utf16_boundaries(text: str) -> list[int]:
    """The UTF-16 offsets between characters (none inside a surrogate pair), computed from the
    encoding alone."""
    out, u = [0], 0
    for ch in text:
        u += len(ch.encode("utf-16-le")) // 2
        out.append(u)
    return out


def test_200_random_selections_match_pythons_code_points(page, jupyter_server, project_file):
    rng = random.Random(2026)
    texts = random_texts(rng, 10)
    ids = [f"r{k}" for k in range(len(texts))]
    nb = open_notebook(page, jupyter_server, cells(project_file.name, texts, ids, overlapping=True,
                                                   options=", snap=False"))
    nb.run_all()
    expected: dict[str, set] = {}
    for item_id, text in zip(ids, texts, strict=True):
        wait_for_item(page, item_id)
        focus(page)
        cuts = utf16_boundaries(text)
        pairs = set()
        while len(pairs) < 20:
            a, b = sorted(rng.sample(cuts, 2))
            pairs.add((a, b, rng.choice("123")))
        for a, b, key in sorted(pairs):
            shown = page.evaluate("""([a, b]) => {
                const segs = [...document.querySelectorAll('.hitl-spanlabeler .hitl-seg')];
                const point = (u, end) => { for (const s of segs) { const n = s.firstChild,
                  len = s.textContent.length, at = Number(s.dataset.s);
                  if (n && (end ? u > at && u <= at + len : u >= at && u < at + len)) return [n, u - at]; } };
                const r = document.createRange();
                r.setStart(...point(a, false)); r.setEnd(...point(b, true));
                const sel = getSelection(); sel.removeAllRanges(); sel.addRange(r);
                return r.toString();
            }""", [a, b])
            assert shown == text.encode("utf-16-le")[2 * a:2 * b].decode("utf-16-le")
            dbg = page.evaluate("""() => { const s = getSelection(), r = s.getRangeAt(0);
                return [s.isCollapsed, r.startContainer.nodeName, r.startOffset, r.endContainer.nodeName, r.endOffset,
                  r.startContainer.parentElement.dataset.s, r.endContainer.parentElement.dataset.s, r.toString().length]; }""")
            page.keyboard.press(key)
            made = len(expected.get(item_id, ())) + 1
            if root(page).get_attribute("data-spans") != str(made):
                status = page.locator(".hitl-status").text_content()
                raise AssertionError(f"{item_id} {text!r} ({a}, {b}) key {key}: {status} {dbg}")
            cp_a = len(text.encode("utf-16-le")[:2 * a].decode("utf-16-le"))
            cp_b = len(text.encode("utf-16-le")[:2 * b].decode("utf-16-le"))
            expected.setdefault(item_id, set()).add((cp_a, cp_b, ["PER", "ORG", "LOC"][int(key) - 1]))
        expect_spans(page, 20)
        page.keyboard.press("Enter")
    wait_for_item(page, "")
    wait_saved(page)
    spans, _ = stored(project_file)
    got: dict[str, set] = {}
    for row in spans.itertuples():
        got.setdefault(row.item_id, set()).add((row.start, row.end, row.label))
        assert texts[ids.index(row.item_id)][row.start:row.end] == row.text
    mismatches = sum(len(expected[i] ^ got.get(i, set())) for i in ids)
    assert len(spans) == 200 and mismatches == 0


def test_suggestions_drawn_dashed_accepted_edited_dismissed(page, jupyter_server, project_file):
    suggest = ("def suggest(text):\n"
               "    return [(text.index('Ada'), text.index('Ada') + 3, 'PER', 0.9),\n"
               "            (text.index('Charles'), text.index('Charles') + 7, 'PER', 0.8),\n"
               "            (text.index('London'), text.index('London') + 6, 'LOC', 0.4)]\n")
    cell = cells(project_file.name, options=", suggest=suggest")
    nb = open_notebook(page, jupyter_server, [cell[0], suggest, cell[1]])
    nb.run_all()
    wait_for_item(page, "t0")
    expect(page.locator(".hitl-chip.is-suggestion")).to_have_count(3)
    focus(page)
    press(page, "a")  # accept the first suggestion: "Ada" PER
    expect_spans(page, 1)
    press(page, "]")  # edit it: "Ada Lovelace"
    press(page, "Tab")  # the next suggestion: "Charles"
    expect(page.locator(".hitl-status")).to_contain_text("Suggested PER")
    press(page, "Delete")  # dismissed
    press(page, "Tab")  # "London" LOC: accepted as it is
    press(page, "a")
    expect(page.locator(".hitl-chip.is-suggestion")).to_have_count(0)
    press(page, "ArrowLeft", "1")  # "in" PER, by hand
    press(page, "Enter")
    wait_for_item(page, "t1")
    wait_saved(page)
    with hw.Project(project_file) as p:
        spans, events = p.spans(), p.events()
        seq = p.span_suggestions(["t0"])["t0"]["suggestion_seq"]
        outcomes = p.span_outcomes()
    by_id = {e.seq: (e.extra or {}).get("suggestion_id") for e in events.itertuples()}
    got = [(r.text, r.label, by_id[r.span_id]) for r in spans.itertuples()]
    assert got == [("Ada Lovelace", "PER", f"{seq}:0"), ("in", "PER", None),
                   ("London", "LOC", f"{seq}:2")]
    # Every suggested span ends as one outcome, and the hand-made one is "added".
    assert sorted(zip(outcomes["outcome"], outcomes["label_final"].fillna("-"), strict=True)) == [
        ("accepted", "LOC"), ("added", "PER"), ("deleted", "-"), ("edited", "PER")]
