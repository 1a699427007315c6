"""Span adjudication in a real JupyterLab: an adjudicator sees two annotators' differing spans,
starts from one annotator's, edits a span and submits, with the keyboard alone; the store has
the resolution and ``final_spans`` returns it. A labeling SpanLabeler on the same project, in
the same notebook, shows nobody else's spans."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from harness import expect, open_notebook
from test_span_labeler_browser import count_mouse_events, focus, press

import hitl_widgets as hw

TEXT = "Ada Lovelace met Charles Babbage in London"
AGREED = "Grace Hopper wrote COBOL"
SPANS = {  # two annotators who differ on TEXT and agree on AGREED
    "bob": {"t0": [(0, 12, "PER"), (17, 32, "PER")], "t1": [(0, 12, "PER")]},
    "cy": {"t0": [(0, 3, "PER"), (36, 42, "LOC")], "t1": [(0, 12, "PER")]},
}


@pytest.fixture
def project_file(jupyter_server) -> Path:
    path = jupyter_server.root_dir / f"sadj-{secrets.token_hex(4)}.hitl"
    with hw.Project(path, span_labels=["PER", "ORG", "LOC"]) as p:
        p.add_items([TEXT, AGREED], id=["t0", "t1"])
        for who, items in SPANS.items():
            for item_id, spans in items.items():
                p.submit_spans(item_id, spans, annotator=who)
    return path


def cells(project_file: Path) -> list[str]:
    return [
        "import hitl_widgets as hw\n"
        f"project = hw.Project({project_file.name!r})",
        "adjudicator = hw.SpanLabeler(project, annotator='sam', "
        "queue=project.span_adjudication_queue())\nadjudicator",
        "labeling = hw.SpanLabeler(project, annotator='dee')\nlabeling",
    ]


def test_adjudicator_copies_one_annotators_spans_edits_and_submits_by_keyboard(
        page, jupyter_server, project_file):
    nb = open_notebook(page, jupyter_server, cells(project_file))
    nb.run_all()
    adjudicator, labeling = page.locator(".hitl-spanlabeler").nth(0), page.locator(".hitl-spanlabeler").nth(1)
    expect(adjudicator).to_have_attribute("data-item-id", "t0")
    expect(labeling).to_have_attribute("data-item-id", "t0")

    rows = adjudicator.locator(".hitl-review-row")
    expect(rows).to_have_count(3)  # the consensus, bob, cy
    expect(rows.nth(1)).to_have_attribute("data-who", "bob")
    expect(rows.nth(1).locator(".hitl-review-chip")).to_have_text(["PER “Ada Lovelace”",
                                                                   "PER “Charles Babbage”"])
    expect(rows.nth(2).locator(".hitl-review-chip")).to_have_text(["PER “Ada”", "LOC “London”"])
    expect(rows.nth(0).locator(".hitl-review-chip")).to_have_count(0)  # no span has a majority
    expect(labeling.locator(".hitl-review")).to_be_hidden()  # a labeling session sees no one's
    expect(labeling.locator(".hitl-review-chip")).to_have_count(0)

    count_mouse_events(page)
    focus(page)  # the first SpanLabeler on the page: the adjudicator's
    press(page, "c")
    expect(adjudicator).to_have_attribute("data-mode", "copy")
    press(page, "1")  # start from bob's spans
    expect(adjudicator).to_have_attribute("data-spans", "2")
    expect(rows.nth(1).locator(".hitl-review-chip.is-in-draft")).to_have_count(2)
    press(page, "Tab")  # the first span from the caret: "Ada Lovelace"
    expect(adjudicator.locator(".hitl-status")).to_contain_text("Ada Lovelace")
    press(page, "Shift+]")  # its end one token inward: "Ada"
    expect(adjudicator.locator(".hitl-status")).to_contain_text("“Ada”")
    expect(rows.nth(2).locator(".hitl-review-chip.is-in-draft")).to_have_count(1)  # cy's "Ada"
    press(page, "Enter")
    expect(adjudicator.locator(".hitl-text")).to_contain_text("All items done")
    expect(adjudicator.locator(".hitl-review-row")).to_have_count(0)
    expect(adjudicator).to_have_attribute("data-unsaved", "0")
    assert page.evaluate("window.__mouse") == []

    with hw.Project(project_file) as p:
        (submission,) = p.span_submissions(annotator="sam").itertuples()
        events = p.events().set_index("seq")
        assert events.loc[submission.submission, "extra"] == {"resolution": True}
        final = p.final_spans()
        assert final[["item_id", "start", "end", "label", "text", "settled_by", "annotator"]
                     ].values.tolist() == [
            ["t0", 0, 3, "PER", "Ada", "resolution", "sam"],
            ["t0", 17, 32, "PER", "Charles Babbage", "resolution", "sam"],
            ["t1", 0, 12, "PER", "Grace Hopper", "consensus", None]]
