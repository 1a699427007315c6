"""CorrectionCost: the live plot of what correcting span suggestions costs draws the engine's own
table, follows new submissions (in this kernel and another), and refuses what it cannot show."""

from __future__ import annotations

import asyncio

import pytest

import hitl_widgets as hw
from hitl_widgets.core.spans import correction_cost, keyword_suggester, span_outcomes

TEXTS = ["Ada met Charles in London", "Grace lives in Paris", "Alan went to Zurich"]
IDS = ["a", "b", "c"]


@pytest.fixture
def project(tmp_path):
    p = hw.Project(tmp_path / "s.hitl", span_labels=["PER", "LOC"])
    p.add_items(TEXTS, id=IDS)
    p.suggest_spans(keyword_suggester({"PER": ["Ada", "Charles", "Grace"],
                                       "LOC": ["London", "Paris"]}), model_version="kw1")
    yield p
    p.close()


def submit_from_suggestions(project, item_id, keep: int):
    """Keep the first ``keep`` suggested spans as they are (accepted), drop the rest."""
    got = project.span_suggestions([item_id])[item_id]["spans"][:keep]
    project.submit_spans(item_id, [{k: s[k] for k in ("start", "end", "label", "suggestion_id")}
                                   for s in got], annotator="ana", ms_on_item=3000)


def test_it_draws_the_engines_table_and_follows_submissions(project):
    w = hw.CorrectionCost(project, refresh_s=0)
    assert w.cost.empty and "0 suggested spans" in w.summary.value
    submit_from_suggestions(project, "a", keep=2)  # Ada, Charles accepted; London deleted
    want = correction_cost(span_outcomes(project))
    assert w.cost.equals(want)
    bars = {t.name: list(t.y) for t in w.figure.data if t.name in ("accepted", "deleted")}
    assert bars == {"accepted": list(want["accepted"]), "deleted": list(want["deleted"])}
    assert 'data-suggested="3"' in w.summary.value and 'data-accepted="2"' in w.summary.value
    w.close()
    submit_from_suggestions(project, "b", keep=1)  # closed: no redraw, nothing raised
    assert w.cost.equals(want)


def test_in_a_loop_it_follows_another_kernel(project, tmp_path):
    other = hw.Project(tmp_path / "s.hitl")

    async def main():
        w = hw.CorrectionCost(project, refresh_s=0.05)
        for _ in range(500):
            await asyncio.sleep(0.01)
            if w.cost is not None:
                break
        submit_from_suggestions(other, "b", keep=2)  # written by another connection
        for _ in range(1000):
            await asyncio.sleep(0.01)
            if w.cost is not None and len(w.cost) and w.cost["accepted"].sum() == 2:
                break
        return w

    w = asyncio.run(main())
    other.close()
    assert w.cost["accepted"].sum() == 2 and w.cost.equals(correction_cost(span_outcomes(project)))
    w.close()


def test_bad_input(project, tmp_path):
    with pytest.raises(TypeError, match="needs a hitl_widgets.Project"):
        hw.CorrectionCost("s.hitl")
    with pytest.raises(ValueError, match="refresh_s"):
        hw.CorrectionCost(project, refresh_s=-1)
    plain = hw.Project(tmp_path / "plain.hitl", labels=["a", "b"])
    with pytest.raises(ValueError, match="no span task"):
        hw.CorrectionCost(plain)
    plain.close()
