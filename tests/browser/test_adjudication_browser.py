"""Adjudication in a real JupyterLab: a senior annotator resolves a flagged item.

The adjudicator's Labeler shows the other annotators' labels; a labeling Labeler on the same
project, in the same notebook, shows none. A Dashboard on the same project follows: when the
adjudicator resolves an item, its summary says so and its queue depth drops, with no gold item
named anywhere on the page.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from harness import expect, open_notebook

import hitl_widgets as hw

LABELS = ["ham", "spam", "eggs"]
IDS = [f"t{k:02d}" for k in range(8)]
VOTES = {  # ana, bob, cy
    "t01": ["spam", "spam", "spam"],  # unanimous: not flagged
    "t02": ["spam", "ham", "eggs"],  # a three-way split: flagged
    "t05": ["ham", "ham", "spam"],  # two of three (0.67 < 0.75): flagged
    # Done, so that t00 is the one item a labeling session can draw (the order is shuffled).
    "t03": ["ham", "ham", "ham"], "t04": ["eggs", "eggs", "eggs"], "t06": ["ham", "ham", "ham"],
}
GOLD_ITEM = "t07"


@pytest.fixture
def project_file(jupyter_server) -> Path:
    path = jupyter_server.root_dir / f"adj-{secrets.token_hex(4)}.hitl"
    with hw.Project(path, labels=LABELS) as p:
        p.add_items([f"message {k}" for k in range(len(IDS))], id=IDS)
        p.set_overlap(3)
        for item, votes in VOTES.items():
            for who, label in zip(["ana", "bob", "cy"], votes, strict=True):
                p.annotate(item, label, annotator=who)
        p.annotate("t00", "eggs", annotator="ana")  # one of three: still open, not for adjudication
        p.set_gold({GOLD_ITEM: "ham"})  # for the dashboard's gold accuracy; never served here
        p.annotate(GOLD_ITEM, "spam", annotator="ana")
    return path


def test_adjudicator_resolves_a_flagged_item(page, jupyter_server, project_file):
    pytest.importorskip("hitl_widgets.core.quality", reason="flags come from core.quality")
    nb = open_notebook(page, jupyter_server, [
        "import hitl_widgets as hw\n"
        f"project = hw.Project({project_file.name!r})",
        'sam = hw.Labeler(project, annotator="sam", queue=project.adjudication_queue())\nsam',
        'dee = hw.Labeler(project, annotator="dee", queue=project.overlap_queue(gold_rate=0))\ndee',
        "dash = hw.Dashboard(project, refresh_s=0.1, min_count=1)\ndash",
    ])
    nb.run_all()
    adjudicator, labeler = page.locator(".hitl-labeler").nth(0), page.locator(".hitl-labeler").nth(1)
    expect(adjudicator).to_have_attribute("data-item-id", "t02")
    expect(labeler).to_have_attribute("data-item-id", "t00")

    others = adjudicator.locator(".hitl-others tr")
    expect(others).to_have_count(3)
    assert sorted(others.all_inner_texts()) == sorted(
        f"{who}\t{label}" for who, label in zip(["ana", "bob", "cy"], VOTES["t02"], strict=True))
    summary = page.locator(".hitl-dashboard .hitl-dashboard-summary")
    expect(summary).to_contain_text("resolved 0 of 2 flagged")
    expect(summary).to_have_attribute("data-queue-adjudication", "2")
    expect(page.locator(".hitl-dashboard .main-svg").first).to_be_visible()  # plotly drew
    # The labeling session draws t00, which ana labeled: her label is not in that view.
    expect(labeler.locator(".hitl-others")).to_have_count(0)
    shown = labeler.locator(".hitl-item").inner_text()
    assert "message 0" in shown and "ana" not in shown and "eggs" not in shown

    adjudicator.click()
    page.keyboard.press("2")  # spam
    expect(adjudicator).to_have_attribute("data-item-id", "t05")
    expect(adjudicator.locator(".hitl-progress")).to_contain_text("1 / 2 done")
    expect(adjudicator).to_have_attribute("data-unsaved", "0")
    # The dashboard redraws from the resolution, on the kernel's loop.
    expect(summary).to_contain_text("resolved 1 of 2 flagged")
    expect(summary).to_have_attribute("data-queue-adjudication", "1")
    expect(summary).to_contain_text("1 to adjudicate")
    # The project lead sees ana's gold accuracy, but no gold item or answer reaches the page
    # (tests/widgets/test_gold_leak.py checks every trait and message of the labeling widgets).
    expect(summary).to_contain_text("0 of 1 gold items right")
    assert GOLD_ITEM not in page.locator(".hitl-dashboard").inner_text()
    assert GOLD_ITEM not in page.locator(".hitl-labeler").nth(1).inner_text()
    assert GOLD_ITEM not in nb.eval("dash.figure.to_json()")

    with hw.Project(project_file) as p:
        resolved = p.resolutions()
        assert resolved[["item_id", "label", "annotator"]].values.tolist() == [["t02", "spam", "sam"]]
        assert p.labels().query("annotator == 'sam'").empty  # a resolution is not a vote
        flags = p.flags().set_index("item_id")
        assert sorted(flags.index) == ["t02", "t05"]
        assert flags.loc["t02", "resolved"] and not flags.loc["t05", "resolved"]
    assert nb.eval("sam.progress['done']") == 1
