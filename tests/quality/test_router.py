"""The router queue: task types ranked by skill, a cap, variety, k kept across kernels; and the
round-robin queue. (Both also run the whole queue conformance suite.)"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from hitl_widgets import Project
from hitl_widgets.core.labeling import LabelingSession
from hitl_widgets.core.quality import RoundRobinQueue, RouterQueue

N = 40  # items: i00..i19 news, i20..i39 sports; the first 10 of each are gold


def _typed_project(make_project, name="router.hitl"):
    project = make_project(items=0, name=name)
    ids = [f"i{k:02d}" for k in range(N)]
    project.add_items(pd.DataFrame({"text": [f"text {k}" for k in range(N)], "id": ids,
                                    "src": ["news"] * 20 + ["sports"] * 20}),
                      text="text", id="id", fields=["src"])
    project.set_gold({i: "ham" for i in ids[:10] + ids[20:30]})
    project.set_overlap(1)
    return project


def _answer_gold(project, annotator, news_right, sports_right):
    """The annotator answers the 10 news and the 10 sports gold items, this many right."""
    for k in range(10):
        project.annotate(f"i{k:02d}", "ham" if k < news_right else "spam", annotator=annotator)
        project.annotate(f"i{20 + k:02d}", "ham" if k < sports_right else "spam",
                         annotator=annotator)


def _src(item_id):
    return "news" if int(item_id[1:]) < 20 else "sports"


def test_a_specialist_gets_their_type_and_the_generalist_the_other(make_project):
    project = _typed_project(make_project)
    _answer_gold(project, "spec", news_right=10, sports_right=5)
    _answer_gold(project, "gen", news_right=8, sports_right=8)
    queue = RouterQueue("src", gold_rate=0, explore=0)
    assert {_src(i) for i in queue.next_ids(project, "spec", set(), 5)} == {"news"}
    assert {_src(i) for i in queue.next_ids(project, "gen", set(), 5)} == {"sports"}
    # The baseline ranks by accuracy alone: gen, a little better at news, gets news too.
    # (On a second file with the same answers: gen holds leases on the sports items above.)
    other = _typed_project(make_project, "baseline.hitl")
    _answer_gold(other, "spec", news_right=10, sports_right=5)
    _answer_gold(other, "gen", news_right=9, sports_right=8)
    base = RouterQueue("src", gold_rate=0, policy="baseline")
    assert {_src(i) for i in base.next_ids(other, "gen", set(), 5)} == {"news"}


def test_a_clearly_worse_annotator_is_held_off_a_type_while_a_better_one_is_active(make_project):
    project = _typed_project(make_project)
    _answer_gold(project, "good", news_right=10, sports_right=10)
    _answer_gold(project, "weak", news_right=2, sports_right=9)
    queue = RouterQueue("src", gold_rate=0, explore=0)
    served = queue.next_ids(project, "weak", set(), 20)
    assert served and {_src(i) for i in served} == {"sports"}  # no news for weak
    assert len(served) == 10


def test_gold_served_beside_a_type_is_of_that_type(make_project):
    # spec is given news only (the floor keeps sports for gen): a sports gold item would stand out.
    project = _typed_project(make_project)
    ids = [f"i{k:02d}" for k in range(N)]
    project.remove_gold(ids[:10] + ids[20:30])
    for k in range(10):  # gold answered by the others decides the skills, on other items
        project.annotate(ids[k], "ham", annotator="gen")
        project.annotate(ids[20 + k], "ham", annotator="gen")
    project.set_gold({i: "ham" for i in ids[:10] + ids[20:30]})
    for k in range(10):
        project.annotate(ids[k], "ham", annotator="spec")
        project.annotate(ids[20 + k], "ham" if k < 2 else "spam", annotator="spec")
    project.remove_gold(ids[:10] + ids[20:30])
    project.set_gold({i: "ham" for i in ids[10:15] + ids[30:35]})  # fresh gold for spec
    queue = RouterQueue("src", gold_rate=0.5, explore=0, seed=1)
    served = queue.next_ids(project, "spec", set(), 8)
    assert {_src(i) for i in served} == {"news"}
    assert set(served) & set(ids[10:15]), "no gold was served"


def test_a_new_annotator_is_served_and_exploration_is_reproducible(make_project):
    project = _typed_project(make_project)
    _answer_gold(project, "old", news_right=9, sports_right=9)
    first = RouterQueue("src", gold_rate=0, seed=4).next_ids(project, "new", set(), 6)
    again = RouterQueue("src", gold_rate=0, seed=4).next_ids(project, "new", set(), 6)
    assert len(first) == 6 and first == again


def test_the_cap_stops_an_annotator_and_counts_the_items_in_hand(make_project):
    project = _typed_project(make_project)
    queue = RouterQueue("src", gold_rate=0, cap=3)
    session = LabelingSession(project, "ana", queue=queue, prefetch=2)
    assert len(session.window()) == 2
    labeled, skipped = [], False
    while window := session.window():
        if len(labeled) == 1 and not skipped:
            session.skip(window[0])  # a skipped item does not make room beyond the cap
            skipped = True
            continue
        session.submit(window[0], ["ham"])
        labeled.append(window[0])
    assert len(project.labels(annotator="ana")) == 3
    assert queue.next_ids(project, "ana", set(), 5) == []
    assert queue.next_ids(project, "bo", set(), 5)  # the cap is per annotator
    session.close()


def test_variety_allows_at_most_n_of_one_type_in_a_row_while_another_has_items(make_project):
    project = _typed_project(make_project)
    _answer_gold(project, "spec", news_right=10, sports_right=6)
    _answer_gold(project, "other", news_right=6, sports_right=7)
    session = LabelingSession(project, "spec", prefetch=1,
                              queue=RouterQueue("src", gold_rate=0, explore=0, variety=2))
    types = []
    while window := session.window():
        session.submit(window[0], ["ham"])
        types.append(_src(window[0]))
    runs, run = [], 1
    for before, after in zip(types, types[1:], strict=False):
        run = run + 1 if after == before else 1
        runs.append(run)
    assert sorted(types) == ["news"] * 10 + ["sports"] * 10
    assert types[:2] == ["news", "news"]  # the preferred type leads
    last_switch = max(k for k in range(1, len(types)) if types[k] != types[k - 1])
    assert max(runs[: last_switch - 1]) <= 2, types
    session.close()


@pytest.mark.parametrize("kw, match", [
    (dict(cap=0), "cap"), (dict(variety=1.5), "variety"), (dict(explore=-1), "explore"),
    (dict(policy="greedy"), "policy"), (dict(window_s=0), "window_s"), (dict(task_type=3), "task_type")])
def test_bad_router_arguments_are_refused(kw, match):
    with pytest.raises((TypeError, ValueError), match=match):
        RouterQueue(**kw)


def test_a_task_type_that_raises_in_the_queue_writes_nothing_and_says_which_item(make_project):
    project = _typed_project(make_project)
    n_events = len(project.events())

    def fails_on_i07(record):
        if record["item_id"] == "i07":
            raise KeyError("topic")
        return "x"

    queue = RouterQueue(fails_on_i07)
    for _ in range(2):  # and again: the queue did not keep a half-read pool
        with pytest.raises(ValueError, match="fails_on_i07.*'i07'"):
            queue.next_ids(project, "ana", set(), 3)
    assert len(project.events()) == n_events
    with pytest.raises(TypeError, match="unhashable"):
        RouterQueue(lambda r: {"a": 1}).next_ids(project, "ana", set(), 3)


@pytest.mark.parametrize("name", ["", "   ", "<b>ana</b>"])
def test_an_empty_or_html_annotator_name_is_refused_by_the_session(make_project, name):
    project = _typed_project(make_project)
    n_events = len(project.events())
    with pytest.raises(ValueError, match="annotator"):
        LabelingSession(project, name, queue=RouterQueue("src"))
    assert len(project.events()) == n_events


def test_round_robin_serves_in_the_order_added_to_whoever_asks(make_project):
    project = make_project(items=6, name="rr.hitl")
    project.set_overlap(1)
    queue = RoundRobinQueue()
    assert queue.next_ids(project, "ana", set(), 2) == ["0", "1"]
    assert queue.next_ids(project, "bo", set(), 2) == ["2", "3"]
    assert queue.next_ids(project, "ana", {"0", "1"}, 3) == ["4", "5"]


def test_project_router_queue_is_a_router_queue(make_project):
    project = _typed_project(make_project)
    queue = project.router_queue("src", cap=5)
    assert isinstance(queue, RouterQueue) and queue.cap == 5 and queue.blind


# -- two kernels -----------------------------------------------------------------------------------
WORKER = textwrap.dedent(
    """
    import json, sys
    from hitl_widgets import Project
    from hitl_widgets.core.labeling import LabelingSession
    from hitl_widgets.core.quality import RouterQueue

    path, annotator, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    project = Project(path)
    session = LabelingSession(project, annotator, prefetch=3,
                              queue=RouterQueue("src", gold_rate=0.2, seed=seed))
    print(json.dumps({"op": "ready"}), flush=True)
    sys.stdin.readline()  # everyone starts together
    n = 0
    while (window := session.window()) and n < 500:
        session.submit(window[0], ["ham" if n % 3 else "spam"])
        n += 1
    session.close()
    project.close()
    print(json.dumps({"op": "done", "n": n}), flush=True)
    """
)


@pytest.mark.timeout(180)
def test_three_kernels_never_overfill_k_through_the_router(tmp_path):
    path = tmp_path / "shared.hitl"
    ids = [f"i{k:02d}" for k in range(60)]
    with Project(path, labels=["ham", "spam"]) as project:
        project.add_items(pd.DataFrame({"text": [f"t {k}" for k in range(60)], "id": ids,
                                        "src": ["a", "b", "c"] * 20}),
                          text="text", id="id", fields=["src"])
        project.set_overlap(2)
        project.set_gold({i: "ham" for i in ids[:6]})
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = [subprocess.Popen([sys.executable, str(script), str(path), who, str(k)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for k, who in enumerate(["ana", "bo", "cy"])]
    for proc in procs:
        assert json.loads(proc.stdout.readline())["op"] == "ready"
    for proc in procs:
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    for k, proc in enumerate(procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and not err.strip(), f"worker {k} failed:\n{err.decode()}"
        assert json.loads(out.splitlines()[-1])["op"] == "done"
    with Project(path) as project:
        coverage = project.coverage()
        labels = project.labels()
    regular = coverage[~coverage["gold"]]
    assert (regular["labeled"] == 2).all(), regular[regular["labeled"] != 2]
    assert not coverage["over"].any()
    assert not labels.duplicated(["item_id", "annotator"]).any()
