"""A lease ends when its holder labels, skips or releases the item -- not ten minutes later.

The overlap queue takes a slot with a lease (an ``assignment`` event, 600 s by default) so that
two kernels cannot take the same last slot. Once the holder has labeled the item the slot is
the label's; once they skipped it or closed their session, it is free for others. Before this,
every lease ran its full ten minutes, so an adjudication queue opened right after a crowd
finished served nothing: the crowd's leases still counted as "someone else's".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import hitl_widgets as hw
from hitl_widgets.core.labeling import LabelingSession
from hitl_widgets.core.quality import AdjudicationQueue, OverlapQueue

LABELS = ["ham", "spam", "eggs"]
ROOT = Path(hw.__file__).resolve().parents[1]  # the package under test, for the workers


@pytest.fixture
def project(make_project):
    return make_project(LABELS, 6, ids=[f"i{k}" for k in range(6)], name="l.hitl")


def leased(project, item_id):
    return set(project.store.leases([item_id], now=time.time()).get(item_id, {}))


def test_labeling_an_item_ends_its_lease_and_undo_revives_it(project):
    project.set_overlap(2)
    ana = LabelingSession(project, "ana", queue=OverlapQueue(gold_rate=0), prefetch=2)
    first = ana.window()[0]
    assert leased(project, first) == {"ana"}
    ana.submit(first, ["ham"])
    assert leased(project, first) == set()
    assert first not in project.store.held_leases("ana", now=0)
    ana.undo()
    assert leased(project, first) == {"ana"}  # the slot is hers again while she relabels


def test_skipping_an_item_ends_its_lease_so_another_annotator_gets_it(project):
    project.set_overlap(1)
    ana = LabelingSession(project, "ana", queue=OverlapQueue(gold_rate=0), prefetch=6)
    window = ana.window()
    assert sorted(window) == [f"i{k}" for k in range(6)]  # ana holds every slot
    ana.skip(window[0])
    bob = LabelingSession(project, "bob", queue=OverlapQueue(gold_rate=0), prefetch=6)
    assert bob.window() == [window[0]]


def test_closing_a_session_releases_the_slots_its_window_held(project):
    project.set_overlap(1)
    ana = LabelingSession(project, "ana", queue=OverlapQueue(gold_rate=0), prefetch=4)
    window = ana.window()
    ana.submit(window[0], ["ham"])
    bob = LabelingSession(project, "bob", queue=OverlapQueue(gold_rate=0), prefetch=6)
    assert set(bob.window()) == {f"i{k}" for k in range(6)} - set(window)
    ana.close()
    assert set(bob.window()) == {f"i{k}" for k in range(6)} - {window[0]}
    released = [e for e in project.store.events() if (e["extra"] or {}).get("released")]
    assert sorted(e["item_id"] for e in released) == sorted(window[1:])


def test_release_ends_only_the_releasing_annotators_leases(project):
    project.set_overlap(2)
    queue = OverlapQueue(gold_rate=0)
    ana = LabelingSession(project, "ana", queue=queue, prefetch=6)
    bob = LabelingSession(project, "bob", queue=queue, prefetch=6)
    shared = set(ana.window()) & set(bob.window())
    assert len(shared) == 6
    assert queue.release(project, "ana", sorted(shared)) == len(shared)
    assert queue.release(project, "ana", sorted(shared)) == 0  # nothing left to release
    for item in shared:
        assert leased(project, item) == {"bob"}


CROWD = textwrap.dedent(
    """
    import json, sys
    from hitl_widgets import Project
    from hitl_widgets.core.labeling import LabelingSession

    project = Project(sys.argv[1])
    sessions = {who: LabelingSession(project, who, prefetch=4, queue=project.overlap_queue(gold_rate=0))
                for who in ("ana", "ben", "cy")}
    busy = True
    while busy:  # round-robin until every window is empty
        busy = False
        for who, session in sessions.items():
            window = session.window()
            if window:
                item = window[0]
                odd = who == "cy" and int(item[1:]) % 2 == 0  # cy disagrees on even items
                session.submit(item, ["spam" if odd else "ham"])
                busy = True
    print(json.dumps({"labels": len(project.labels())}), flush=True)
    sys.stdin.readline()  # the sessions stay open, as Labelers left on screen would
    """
)

ADJUDICATE = textwrap.dedent(
    """
    import json, sys
    from hitl_widgets import Project
    from hitl_widgets.core.labeling import LabelingSession

    project = Project(sys.argv[1])
    flagged = project.flag_disagreements(threshold=0.75)
    sam = LabelingSession(project, "sam", prefetch=20, queue=project.adjudication_queue())
    print(json.dumps({"flagged": flagged, "window": sam.window(),
                      "depth": project.queue_depth()["adjudication"]}), flush=True)
    """
)


@pytest.mark.timeout(120)
def test_adjudication_serves_what_a_crowd_just_flagged_without_waiting_for_leases(tmp_path):
    path = tmp_path / "crowd.hitl"
    with hw.Project(path, labels=LABELS) as project:
        project.add_items([f"text {k}" for k in range(12)], id=[f"i{k}" for k in range(12)])
        project.set_overlap(3)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    crowd = subprocess.Popen([sys.executable, "-c", CROWD, str(path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        line = crowd.stdout.readline()
        assert line, crowd.stderr.read().decode()
        assert json.loads(line) == {"labels": 36}  # 12 items x 3 annotators
        adjudicator = subprocess.run([sys.executable, "-c", ADJUDICATE, str(path)], env=env,
                                     cwd=ROOT, capture_output=True, timeout=60)
        assert adjudicator.returncode == 0, adjudicator.stderr.decode()
        seen = json.loads(adjudicator.stdout)
    finally:
        crowd.stdin.close()
        crowd.wait(timeout=30)
    assert sorted(seen["flagged"]) == sorted(f"i{k}" for k in range(0, 12, 2))
    assert seen["depth"] == 6
    assert seen["window"] == seen["flagged"]  # served at once, oldest flag first


def test_an_adjudicators_own_resolution_ends_their_lease(project):
    project.set_overlap(2)
    for item in ("i0", "i1"):
        project.annotate(item, "ham", annotator="ana")
        project.annotate(item, "spam", annotator="bob")
    sam = LabelingSession(project, "sam", queue=AdjudicationQueue(), prefetch=1)
    (first,) = sam.window()
    sam.submit(first, ["ham"])
    assert leased(project, first) == set()


RACER = textwrap.dedent(
    """
    import json, sys
    from hitl_widgets import Project
    from hitl_widgets.core.labeling import LabelingSession

    project = Project(sys.argv[1])
    session = LabelingSession(project, sys.argv[2], prefetch=2, queue=project.overlap_queue(gold_rate=0))
    sys.stdin.readline()  # start together
    got = []
    while window := session.window():
        got.append(window[0])
        session.submit(window[0], ["ham"])
    print(json.dumps(got), flush=True)
    """
)


@pytest.mark.timeout(120)
def test_a_lapsed_lease_returns_its_item_to_the_pool_exactly_once(tmp_path):
    """ana takes every item and never comes back: once her leases lapse, three annotators in
    three processes race for the items, and each item goes to exactly one of them."""
    path = tmp_path / "lapse.hitl"
    ids = [f"i{k:02d}" for k in range(24)]
    with hw.Project(path, labels=LABELS) as project:
        project.add_items([f"text {i}" for i in ids], id=ids)
        project.set_overlap(1)
        project.set_lease(0.01)  # 0.6 s, so the test does not wait ten minutes
        ana = LabelingSession(project, "ana", queue=project.overlap_queue(gold_rate=0), prefetch=24)
        assert sorted(ana.window()) == ids
        bob = LabelingSession(project, "bob", queue=project.overlap_queue(gold_rate=0), prefetch=4)
        assert bob.window() == []  # ana holds every slot
        while project.store.held_leases("ana", time.time()):
            time.sleep(0.05)
        project.set_lease(10)  # the racers' own leases must not lapse mid-race
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(path), who], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
              for who in ("cy", "dee", "eve")]
    for racer in racers:
        racer.stdin.write(b"go\n")
        racer.stdin.flush()
    got = []
    for racer in racers:
        out, err = racer.communicate(timeout=90)
        assert racer.returncode == 0, err.decode()
        got.append(json.loads(out))
    served = [i for one in got for i in one]
    assert sorted(served) == ids  # every item handed out again, none twice
    with hw.Project(path) as project:
        assert not project.coverage()["over"].any()
        assert len(project.labels()) == len(ids)
        # ana comes back: nothing of hers is left to label, and nothing is served to her twice
        assert LabelingSession(project, "ana", queue=project.overlap_queue(gold_rate=0)).window() == []


def test_the_projects_lease_length_is_read_on_every_call_unless_a_queue_sets_its_own(project):
    project.set_overlap(1)
    project.set_lease(2)
    follows, own = OverlapQueue(gold_rate=0), OverlapQueue(gold_rate=0, lease_s=30)
    before = time.time()
    LabelingSession(project, "ana", queue=follows, prefetch=1).window()
    LabelingSession(project, "bob", queue=own, prefetch=1).window()
    leases = project.store.leases([f"i{k}" for k in range(6)], time.time())
    held = {who: expiry for item in leases.values() for who, expiry in item.items()}
    assert 120 <= held["ana"] - before < 125
    assert 30 <= held["bob"] - before < 35


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "5", True, None])
def test_a_bad_lease_length_is_refused_and_nothing_is_written(project, bad):
    project.set_lease(3)
    seq = project.store.max_seq()
    with pytest.raises(ValueError, match="minutes"):
        project.set_lease(bad)
    assert project.store.lease_seconds() == 180.0 and project.store.max_seq() == seq


def test_a_lease_taken_on_a_clock_now_behind_counts_as_lapsed(project):
    """The machine's clock went back an hour after ana took the item: her lease, taken "in the
    future", does not hold the item for that hour."""
    project.set_overlap(1)
    ahead = time.time() + 3600
    project.ledger.append("assignment", "i0", annotator="ana", notify=False,
                          extra={"expires": ahead + 600, "taken": ahead})
    assert leased(project, "i0") == set()
    bob = LabelingSession(project, "bob", queue=OverlapQueue(gold_rate=0), prefetch=6)
    assert "i0" in bob.window()
