"""LFStudio in a real JupyterLab: edit an LF in a new cell, the table and the change summary follow;
click an LF and page through its examples, shown as text (markup in an item is never rendered)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from harness import expect, open_notebook, wait_until_ready

import hitl_widgets as hw

XSS = '<img src=x onerror="window.__xss = 1"> you won a prize'
TEXTS = (
    [XSS]
    + [f"win a prize number {k}" for k in range(14)]
    + [f"call me back {k}" for k in range(10)]
    + [f"free entry to draw {k}" for k in range(10)]
    + [f"hi mum, home at {k}" for k in range(10)]
    + [f"see you at lunch {k}" for k in range(5)]
)
IDS = [f"s{k:02d}" for k in range(len(TEXTS))]
HUMAN = {"s01": "spam", "s02": "spam", "s03": "ham", "s15": "ham", "s16": "spam", "s25": "spam",
         "s26": "spam", "s35": "ham", "s36": "ham"}

STUDIO_CELLS = [
    "import hitl_widgets as hw\n"
    "from hitl_widgets.core.weak import keyword_lf\n"
    "project = hw.Project({name!r})\n"
    "L = project.schema.labels",
    "lfs = [keyword_lf('prize', ['prize'], 'spam', labels=L),\n"
    "       keyword_lf('call', ['call'], 'spam', labels=L),\n"
    "       keyword_lf('mum', ['mum'], 'ham', labels=L)]\n"
    "studio = hw.LFStudio(project, lfs)\n"
    "studio",
]
EDIT_CELL = "lf = keyword_lf('call', ['call', 'free'], 'spam', labels=L)\nstudio.update(lf)"


@pytest.fixture
def project_file(jupyter_server) -> Path:
    path = jupyter_server.root_dir / f"lf-{secrets.token_hex(4)}.hitl"
    with hw.Project(path, labels=["ham", "spam"]) as p:
        p.add_items(TEXTS, id=IDS)
        for item_id, label in HUMAN.items():
            p.annotate(item_id, label, annotator="ana")
    return path


def run_new_cell(page, nb, source: str) -> None:
    """Append a code cell holding ``source`` to the notebook and run it, as a user would."""
    page.evaluate(
        """
        async ([path, source]) => {
          const app = window.jupyterapp;
          const panel = [...app.shell.widgets('main')].find((w) => w.context && w.context.path === path);
          app.shell.activateById(panel.id);
          const nb = panel.content;
          nb.model.sharedModel.insertCell(nb.model.cells.length, {cell_type: 'code', source});
          nb.activeCellIndex = nb.model.cells.length - 1;
          await app.commands.execute('notebook:run-cell');
        }
        """,
        [nb.path, source],
    )
    wait_until_ready(page, nb.path)


def test_edit_an_lf_in_a_cell_and_the_table_follows(page, jupyter_server, project_file):
    nb = open_notebook(page, jupyter_server, [c.format(name=project_file.name) if "{name" in c
                                              else c for c in STUDIO_CELLS])
    nb.run_all()
    studio = page.locator(".hitl-lfstudio")
    rows = studio.locator("tbody tr[data-lf]")
    expect(rows).to_have_count(3)
    assert [r.get_attribute("data-lf") for r in rows.all()] == ["prize", "call", "mum"]
    call_coverage = studio.locator('tr[data-lf="call"] td.hitl-lf-coverage')
    expect(call_coverage).to_have_text("20.0 %")  # 10 of 50
    expect(studio.locator('tr[data-lf="prize"] td.hitl-lf-coverage')).to_have_text("30.0 %")
    expect(studio.locator('tr[data-lf="prize"] td.hitl-lf-accuracy')).to_contain_text("66.7 % (n 3")
    expect(studio.locator(".hitl-lf-info")).to_have_text("50 items · 9 with a human label")

    # Sorting is the view's own: the coverage header, twice, puts the widest LF first.
    studio.locator('th[data-key="coverage"]').click()
    studio.locator('th[data-key="coverage"]').click()
    expect(rows.first).to_have_attribute("data-lf", "prize")
    assert [r.get_attribute("data-lf") for r in rows.all()] == ["prize", "call", "mum"]

    run_new_cell(page, nb, EDIT_CELL)
    expect(call_coverage).to_have_text("40.0 %")  # "free" now votes spam too
    change = studio.locator('.hitl-lf-change[data-lf="call"]')
    expect(change).to_contain_text("coverage 20.0 % → 40.0 %")
    expect(change).to_contain_text("10 votes changed (10 newly labeled)")
    expect(studio.locator('tr[data-lf="call"] td.hitl-lf-delta')).to_have_text("10 changed")
    assert nb.eval("studio.changes['call']['n_changed']") == 10
    assert len(page.locator(".hitl-lfstudio").all()) == 1  # update() draws no second view

    change.locator("button").click()
    detail = studio.locator(".hitl-lf-detail")
    expect(detail).to_have_attribute("data-kind", "changed")
    expect(detail.locator(".hitl-lf-example")).to_have_count(10)
    expect(detail.locator(".hitl-lf-example").first).to_contain_text("before: abstain")

    # Click an LF: its examples, as text. The item holding an <img onerror> stays text.
    studio.locator('tr[data-lf="prize"]').click()
    expect(detail).to_have_attribute("data-lf", "prize")
    expect(detail).to_have_attribute("data-kind", "labels")
    expect(detail.locator(".hitl-lf-range")).to_have_text("1–10 of 15")
    first = detail.locator(".hitl-lf-example").first
    expect(first.locator(".hitl-lf-text")).to_have_text(XSS)
    expect(studio.locator("img")).to_have_count(0)
    assert page.evaluate("window.__xss") is None
    detail.locator(".hitl-lf-next").click()
    expect(detail.locator(".hitl-lf-range")).to_have_text("11–15 of 15")
    detail.locator('button[data-kind="disagrees"]').click()
    expect(detail.locator(".hitl-lf-example")).to_have_count(1)
    expect(detail.locator(".hitl-lf-example")).to_contain_text("human: ham")
    assert nb.eval("studio.selected") == "prize"

    # The label model is fitted on request only; the view says it is busy meanwhile.
    studio.locator(".hitl-lf-compare-button").click()
    expect(studio.locator('.hitl-lf-compare tr[data-model="label model"]')).to_be_visible()
    expect(studio.locator('.hitl-lf-compare tr[data-model="majority vote"]')).to_contain_text("(n 9,")
    expect(studio).to_have_attribute("data-busy", "0")

    # Rows are reachable from the keyboard too.
    studio.locator('tr[data-lf="mum"]').focus()
    page.keyboard.press("Enter")
    expect(detail).to_have_attribute("data-lf", "mum")
