"""The Labeler in a real JupyterLab: keys reach the store, a kernel restart loses nothing."""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path

import pytest
from harness import expect, open_notebook

import hitl_widgets as hw

XSS = ['<script>window.__xss = "script"</script>', '<img src=x onerror="window.__xss = \'img\'">']
TEXTS = XSS + ["مرحبا بالعالم — right to left", "emoji 🎉👩‍💻 text"] + [
    f"message number {k}" for k in range(4, 30)
]
IDS = [f"t{k:02d}" for k in range(len(TEXTS))]


def labeler_cells(project_file: str, annotator: str = "ana", multi: bool = False) -> list[str]:
    return [
        "import hitl_widgets as hw",
        f"project = hw.Project({project_file!r}, labels=['ham', 'spam', 'eggs'], "
        f"multi_label={multi}, guidelines={{'spam': {{'description': 'ads', 'examples': ['WIN!']}}}})\n"
        f"project.add_items({TEXTS!r}, id={IDS!r})\n"
        f"w = hw.Labeler(project, annotator={annotator!r})\n"
        "w",
    ]


@pytest.fixture
def project_file(jupyter_server) -> Path:
    return jupyter_server.root_dir / f"p-{secrets.token_hex(4)}.hitl"


def root(page):
    return page.locator(".hitl-labeler")


def wait_for_item(page, item_id: str) -> None:
    expect(root(page)).to_have_attribute("data-item-id", item_id)


def wait_saved(page) -> None:
    expect(root(page)).to_have_attribute("data-unsaved", "0")


def stored(project_file: Path):
    with hw.Project(project_file) as p:
        return p.labels(), p.events()


def test_label_undo_skip_restart_resume(page, jupyter_server, project_file):
    nb = open_notebook(page, jupyter_server, labeler_cells(project_file.name))
    nb.run_all()
    wait_for_item(page, "t00")
    root(page).click()

    # Markup in the data is shown as text and never runs.
    expect(page.locator(".hitl-text")).to_have_text(XSS[0])
    keys = ["1", "2"] * 10
    page.keyboard.press(keys[0])
    wait_for_item(page, "t01")
    expect(page.locator(".hitl-text")).to_have_text(XSS[1])
    for k, key in enumerate(keys[1:], start=2):
        page.keyboard.press(key)  # an annotator reads each item before the next key
        wait_for_item(page, IDS[k])
    page.keyboard.press("Backspace")  # undo t19
    wait_for_item(page, "t19")
    page.keyboard.press("s")  # skip it
    wait_for_item(page, "t20")
    wait_saved(page)
    assert page.evaluate("window.__xss") is None
    assert page.locator(".hitl-labeler script, .hitl-labeler .hitl-text img").count() == 0

    labels, events = stored(project_file)
    expected = {IDS[k]: ["ham", "spam"][k % 2] for k in range(19)}
    assert dict(zip(labels["item_id"], labels["label"], strict=True)) == expected
    assert events["kind"].value_counts().to_dict() == {"annotation": 20, "retraction": 1, "skip": 1}
    assert (events.query("kind == 'annotation'")["ms_on_item"] >= 0).all()

    nb.restart_kernel()
    nb.run_all()
    wait_for_item(page, "t20")  # resumes at the first item not labeled or skipped
    root(page).click()
    page.keyboard.press("3")
    wait_for_item(page, "t21")
    wait_saved(page)
    labels, _ = stored(project_file)
    assert len(labels) == 20 and labels.iloc[-1]["label"] == "eggs"
    assert nb.eval("len(w.project.labels())") == 20


def test_suggestion_accept_with_enter_and_buttons(page, jupyter_server, project_file):
    cells = labeler_cells(project_file.name)
    cells.insert(1, "")
    nb = open_notebook(page, jupyter_server, cells)
    nb.run_all()
    wait_for_item(page, "t00")
    nb.eval("project.suggest(['t00'], ['spam'], [0.93]) and None")
    expect(page.locator(".hitl-suggestion")).to_contain_text("spam")
    root(page).click()
    page.keyboard.press("Enter")
    wait_for_item(page, "t01")
    page.locator(".hitl-label", has_text="eggs").click()
    wait_for_item(page, "t02")
    wait_saved(page)
    labels, events = stored(project_file)
    assert labels["label"].tolist() == ["spam", "eggs"]
    first = events.query("kind == 'annotation'").iloc[0]
    assert first["suggestion"] == ["spam"] and first["suggestion_score"] == pytest.approx(0.93)
    assert "shown" in set(events["kind"])


def test_multi_label_toggle_and_submit(page, jupyter_server, project_file):
    nb = open_notebook(page, jupyter_server, labeler_cells(project_file.name, multi=True))
    nb.run_all()
    wait_for_item(page, "t00")
    root(page).click()
    for key in ["1", "3", "3", "2"]:  # toggles: eggs on and off again
        page.keyboard.press(key)
    expect(page.locator(".hitl-label[aria-pressed=true]")).to_have_count(2)
    page.keyboard.press("Enter")
    wait_for_item(page, "t01")
    wait_saved(page)
    labels, _ = stored(project_file)
    assert labels["label"].tolist() == [("ham", "spam")]


def test_two_annotators_on_one_file(page, jupyter_server, project_file):
    nb = open_notebook(page, jupyter_server, labeler_cells(project_file.name, annotator="bob"))
    with hw.Project(project_file, labels=["ham", "spam", "eggs"]) as p:
        p.add_items(TEXTS, id=IDS)
        p.annotate("t00", "ham", annotator="bob")
        p.annotate("t01", "ham", annotator="ana")
    nb.run_all()
    wait_for_item(page, "t01")  # bob's first unlabeled item; ana's label does not count
    root(page).click()
    page.keyboard.press("2")
    wait_for_item(page, "t02")
    wait_saved(page)
    labels, _ = stored(project_file)
    assert sorted(zip(labels["item_id"], labels["annotator"], strict=True)) == [
        ("t00", "bob"), ("t01", "ana"), ("t01", "bob")]


def test_notebook7_smoke(page, jupyter_server, project_file):
    nb = open_notebook(page, jupyter_server, labeler_cells(project_file.name), frontend="notebook")
    nb.run_all()
    wait_for_item(page, "t00")
    root(page).click()
    page.keyboard.press("2")
    wait_for_item(page, "t01")
    wait_saved(page)
    labels, _ = stored(project_file)
    assert labels["label"].tolist() == ["spam"]


def test_kernel_killed_mid_labeling_keeps_every_acknowledged_label(page, jupyter_server, project_file):
    nb = open_notebook(page, jupyter_server, labeler_cells(project_file.name))
    nb.run_all()
    wait_for_item(page, "t00")
    page.evaluate("""() => {
        window.__acked = [];
        document.querySelector('.hitl-labeler').addEventListener(
            'hitl:ack', (e) => window.__acked.push(e.detail.item_id));
    }""")
    pid = nb.eval("__import__('os').getpid()")
    root(page).click()
    for k in range(6):
        page.keyboard.press("1")
        wait_for_item(page, IDS[k + 1])
    wait_saved(page)
    for k in range(6, 12):  # keys still in flight when the kernel dies
        page.keyboard.press("2")
        wait_for_item(page, IDS[k + 1])
    os.kill(pid, signal.SIGKILL)
    acked = page.evaluate("window.__acked")
    labels, _ = stored(project_file)
    saved = set(labels["item_id"])
    assert set(acked) <= saved  # nothing acknowledged is lost
    assert saved <= set(IDS[:12])  # and nothing appears that was not sent
    assert set(IDS[:6]) <= saved
