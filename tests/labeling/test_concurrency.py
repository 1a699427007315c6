"""Several processes on one project file: a second Labeler on the same file in another kernel.

Each worker is a separate interpreter with its own connection, as a second notebook kernel would
be. Workers start together (they wait for a "go" line), write as fast as they can, and print an
acknowledgement for every call that returned. Afterwards every acknowledged event is in the log
exactly once, nothing unacknowledged is, and no ``database is locked`` (or any other error)
reached a caller.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hitl_widgets.core.labeling._session as session_module
from hitl_widgets import Project
from hitl_widgets.core.labeling import LabelingSession

LABELS = ["ham", "spam"]
N_ITEMS = 60
OPS_PER_WORKER = 250

WORKER = textwrap.dedent(
    """
    import json, random, sys, time
    from hitl_widgets import Project

    path, annotator, seed, ops = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    texts = [f"text {i}" for i in range(%(n_items)d)]
    ids = [f"i{i:02d}" for i in range(%(n_items)d)]

    def say(**message):
        sys.stdout.write(json.dumps(message) + "\\n")
        sys.stdout.flush()

    say(op="ready")
    sys.stdin.readline()  # everyone starts together
    # Both kernels run the notebook's first cells: open the project, add the same items.
    project = Project(path, labels=%(labels)r)
    project.add_items(texts, id=ids)
    for _ in range(ops):
        if rng.random() < 0.5:  # a short pause now and then, so the writers interleave
            time.sleep(rng.uniform(0, 0.002))
        roll = rng.random()
        if roll < 0.75:
            item, label = rng.choice(ids), rng.choice(%(labels)r)
            seq = project.annotate(item, label, annotator=annotator)
            say(op="ack", kind="annotation", seq=seq, item=item, annotator=annotator, labels=[label])
        elif roll < 0.9:
            item = rng.choice(ids)
            seq = project.skip(item, annotator=annotator)
            say(op="ack", kind="skip", seq=seq, item=item, annotator=annotator)
        else:
            undone = project.undo(annotator=annotator)
            say(op="ack", kind="retraction", annotator=annotator,
                target=None if undone is None else undone["seq"])
    project.close()
    say(op="done")
    """
) % {"n_items": N_ITEMS, "labels": LABELS}


def _run_workers(tmp_path, path, annotators: list[str]) -> list[list[dict]]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), who, str(k), str(OPS_PER_WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k, who in enumerate(annotators)
    ]
    for proc in procs:  # all imported and waiting
        assert json.loads(proc.stdout.readline())["op"] == "ready"
    for proc in procs:
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    results = []
    for k, proc in enumerate(procs):
        out, err = proc.communicate(timeout=120)
        err = err.decode()
        assert "database is locked" not in err, f"worker {k}: {err}"
        assert proc.returncode == 0 and not err.strip(), f"worker {k} failed:\n{err}"
        messages = [json.loads(line) for line in out.splitlines()]
        assert messages[-1]["op"] == "done", f"worker {k} stopped early"
        results.append([m for m in messages if m["op"] == "ack"])
    return results


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    "annotators",
    [["ana", "ben"], ["ana", "ana", "ben", "cy"]],
    ids=["two-annotators", "four-workers-two-share-an-annotator"],
)
def test_concurrent_writers_lose_and_duplicate_nothing(tmp_path, annotators):
    path = tmp_path / "shared.hitl"
    acks_per_worker = _run_workers(tmp_path, path, annotators)

    with Project(path) as project:
        assert len(project) == N_ITEMS
        log = {e["seq"]: e for e in project.store.events()}

    who = [log[s]["annotator"] for s in sorted(log)]
    switches = sum(a != b for a, b in zip(who, who[1:], strict=False))
    assert switches >= 10, (
        f"the writers hardly overlapped ({switches} switches); nothing was tested"
    )

    writes = [a for acks in acks_per_worker for a in acks if a["kind"] != "retraction"]
    undos = [
        a
        for acks in acks_per_worker
        for a in acks
        if a["kind"] == "retraction" and a["target"] is not None
    ]
    for acks in acks_per_worker:  # one connection's commits are ordered
        seqs = [a["seq"] for a in acks if "seq" in a]
        assert seqs == sorted(seqs)

    # Event ids handed out are unique across processes, and each is the event acknowledged.
    seqs = [a["seq"] for a in writes]
    assert len(seqs) == len(set(seqs)), "two processes were acknowledged the same event id"
    for ack in writes:
        event = log.get(ack["seq"])
        assert event is not None, f"acknowledged event {ack} is missing"
        assert (event["kind"], event["item_id"], event["annotator"], event["labels"]) == (
            ack["kind"],
            ack["item"],
            ack["annotator"],
            ack.get("labels"),
        ), ack

    # Every acknowledged undo is one retraction; no event is retracted twice.
    retractions = [e for e in log.values() if e["kind"] == "retraction"]
    targets = Counter(e["target"] for e in retractions)
    assert sorted(targets) == sorted(a["target"] for a in undos)
    assert max(targets.values(), default=1) == 1
    for ack in undos:
        target = log[ack["target"]]
        assert target["kind"] in ("annotation", "skip") and target["annotator"] == ack["annotator"]

    # Nothing else was written, and the current labels are a replay of the acknowledged events.
    assert len(log) == len(writes) + len(undos)
    retracted = set(targets)
    expected: dict[tuple[str, str], str] = {}
    for ack in sorted(writes, key=lambda a: a["seq"]):
        if ack["kind"] == "annotation" and ack["seq"] not in retracted:
            expected[(ack["item"], ack["annotator"])] = ack["labels"][0]
    with Project(path) as project:
        got = {(r.item_id, r.annotator): r.label for r in project.labels().itertuples()}
    assert got == expected


def test_session_notices_labels_written_by_another_process(tmp_path):
    path = tmp_path / "two_kernels.hitl"
    project = Project(path, labels=LABELS)
    project.add_items([f"text {i}" for i in range(20)], id=[f"i{i:02d}" for i in range(20)])
    session = LabelingSession(project, "ana", prefetch=5)
    first = session.window()
    assert first == ["i00", "i01", "i02", "i03", "i04"]

    # The other kernel: ana labels i00 and i02 and skips i03; ben labels i01.
    other = (
        "import sys; from hitl_widgets import Project\n"
        "p = Project(sys.argv[1])\n"
        "p.annotate('i00', 'spam', annotator='ana')\n"
        "p.annotate('i02', 'ham', annotator='ana')\n"
        "p.skip('i03', annotator='ana')\n"
        "p.annotate('i01', 'ham', annotator='ben')\n"
    )
    subprocess.run([sys.executable, "-c", other, str(path)], check=True, timeout=60)

    # No event reached this process's listeners: only the file's data_version tells.
    window = session.window()
    assert not {"i00", "i02", "i03"} & set(window), window
    assert window == ["i01", "i04", "i05", "i06", "i07"]
    assert session.progress()["done"] == 2

    # This kernel keeps labeling where the other left off, on the same log.
    session.submit("i01", ["spam"])
    assert session.window()[0] == "i04"
    assert set(project.labels(annotator="ana")["item_id"]) == {"i00", "i01", "i02"}
    session.close()
    project.close()


def test_labeler_window_drops_items_another_kernel_labeled_on_next_intent(tmp_path):
    import hitl_widgets as hw

    path = tmp_path / "labelers.hitl"
    project = hw.Project(path, labels=LABELS)
    project.add_items([f"text {i}" for i in range(10)], id=[f"i{i}" for i in range(10)])
    widget = hw.Labeler(project, annotator="ana", prefetch=4)
    assert widget.window == ["i0", "i1", "i2", "i3"]

    # A second Labeler, same file, same annotator, in another kernel: labels i1 and i2.
    other = (
        "import sys; import hitl_widgets as hw\n"
        "w = hw.Labeler(hw.Project(sys.argv[1]), annotator='ana', prefetch=4)\n"
        "for n, item in enumerate(['i1', 'i2']):\n"
        "    w._dispatch(w, {'type': 'submit', 'item_id': item, 'labels': ['ham'],"
        " 'client_seq': n}, [])\n"
        "assert not w.error, w.error\n"
    )
    subprocess.run([sys.executable, "-c", other, str(path)], check=True, timeout=60)

    # This kernel's next intent (a submit of i0) brings the window up to date.
    widget._dispatch(
        widget, {"type": "submit", "item_id": "i0", "labels": ["spam"], "client_seq": 1}, []
    )
    assert widget.error == ""
    assert widget.window == ["i3", "i4", "i5", "i6"]
    assert widget.progress["done"] == 3
    widget.close()
    project.close()


@pytest.mark.timeout(60)
def test_opening_a_project_another_kernel_is_creating_waits_for_it(tmp_path):
    path = tmp_path / "new.hitl"
    # The creating kernel, frozen in the moment it holds a write lock on the still-empty file
    # (as it does while switching it to WAL); it lets go after 0.3 s.
    creator = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    creator.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, creator.execute, ("COMMIT",))
    release.start()
    try:
        with Project(path, labels=LABELS) as project:
            assert list(project.schema.labels) == LABELS
    finally:
        release.join()
        creator.close()


ITEMS8 = [f"i{i}" for i in range(8)]
# One step: (connection 0 or 1, what, item, label, annotator). "session_*" go through that
# connection's LabelingSession for ana; "annotate", "skip" and "undo" through its Project for
# anyone; "retract_old" retracts an earlier event of the annotator's, not the latest, from a
# third connection (as the quality workflow's store.retract does).
two_kernel_steps = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.sampled_from(["session_submit", "session_skip", "session_undo", "annotate", "skip",
                         "undo", "retract_old"]),
        st.sampled_from(ITEMS8),
        st.sampled_from(LABELS),
        st.sampled_from(["ana", "ana", "ben"]),
    ),
    max_size=40,
)


@pytest.mark.parametrize(
    "ratio, least",
    [(session_module.FULL_RELOAD_RATIO, session_module.FULL_RELOAD_MIN), (1e9, 10**9), (1.0, 0),
     (0, 0)],
    ids=["as-shipped", "always-incremental", "full-read-past-the-items-held", "always-full"],
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=two_kernel_steps, seed=st.integers(0, 2**16))
def test_a_sessions_state_read_incrementally_equals_a_full_read(tmp_path_factory, monkeypatch,
                                                                ratio, least, steps, seed):
    # A session reloads only the items touched since the last event it read; after any mix of
    # labels, skips and undos (latest or older) from two connections, what it holds must equal
    # the annotator's whole history read afresh, whichever way the session reloads (with no
    # minimum gap, the two ways mix as the annotator's items grow).
    monkeypatch.setattr(session_module, "FULL_RELOAD_RATIO", ratio)
    monkeypatch.setattr(session_module, "FULL_RELOAD_MIN", least)
    rng = random.Random(seed)
    path = tmp_path_factory.mktemp("two") / "p.hitl"
    projects = [Project(path, labels=LABELS), Project(path)]
    admin = Project(path)
    projects[0].add_items([f"text {i}" for i in range(len(ITEMS8))], id=ITEMS8)
    sessions = [LabelingSession(p, "ana", prefetch=3) for p in projects]
    try:
        for k, what, item, label, who in steps:
            project, session = projects[k], sessions[k]
            if what == "session_submit":
                session.submit(item, [label])
            elif what == "session_skip":
                if item not in project.store.annotator_state("ana")[0]:
                    session.skip(item)
            elif what == "session_undo":
                session.undo()
            elif what == "annotate":
                project.annotate(item, label, annotator=who)
            elif what == "skip":
                project.skip(item, annotator=who)
            elif what == "undo":
                project.undo(annotator=who)
            else:
                live = [e["seq"] for e in admin.store.live_events(["annotation", "skip"])
                        if e["annotator"] == who]
                if live:
                    admin.store.retract([rng.choice(live)])
            for s in sessions:
                s.window()  # brings the session up to date with the file
                full = s.project.store.annotator_state("ana")
                assert (s._done, s._skipped) == full, (k, what, item, who)
    finally:
        for s in sessions:
            s.close()
        for p in [*projects, admin]:
            p.close()


def test_retracting_an_older_label_in_another_connection_keeps_the_item_done_until_the_last(tmp_path):
    path = tmp_path / "p.hitl"
    project, other = Project(path, labels=LABELS), Project(path)
    project.add_items(["a", "b", "c"], id=["i0", "i1", "i2"])
    session = LabelingSession(project, "ana", prefetch=3)
    first = other.annotate("i0", "ham", annotator="ana")
    second = other.annotate("i0", "spam", annotator="ana")
    assert session.window() == ["i1", "i2"]
    other.store.retract([first])  # the older label goes; the newer one still stands
    assert session.window() == ["i1", "i2"]
    other.store.retract([second])
    assert session.window() == ["i0", "i1", "i2"]
    assert session.progress()["done"] == 0
    session.close()
    other.close()
    project.close()
