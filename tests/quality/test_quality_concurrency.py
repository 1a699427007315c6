"""Four processes label one project at once through the overlap queue.

Each worker is its own interpreter with its own connection, as a notebook kernel would be. They
start together, label what their queue serves (with skips and undos), and print an
acknowledgement for every call that returned. Afterwards: every acknowledged event is in the log
once, nothing else is, and overlap k holds -- each item has exactly k annotators, none more --
because a slot is taken by a lease written in the transaction that counted the free slots.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

from hitl_widgets import Project

LABELS = ["ham", "spam"]
N_ITEMS, K = 80, 2
GOLD = {f"i{k:02d}": LABELS[k % 2] for k in range(0, N_ITEMS, 10)}

WORKER = textwrap.dedent(
    """
    import json, random, sys, time
    from hitl_widgets import Project
    from hitl_widgets.core.quality import OverlapQueue
    from hitl_widgets.core.labeling import LabelingSession

    path, annotator, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)

    def say(**message):
        sys.stdout.write(json.dumps(message) + "\\n")
        sys.stdout.flush()

    project = Project(path)
    session = LabelingSession(project, annotator, prefetch=3,
                              queue=OverlapQueue(gold_rate=0.2, seed=seed))
    say(op="ready")
    sys.stdin.readline()  # everyone starts together
    steps = 0
    while (window := session.window()) and steps < 500:
        steps += 1
        item, roll = window[0], rng.random()
        if rng.random() < 0.7:  # a short pause now and then, so the writers interleave
            time.sleep(rng.uniform(0, 0.003))
        if roll < 0.08:
            seq = session.skip(item)
            say(op="ack", kind="skip", seq=seq, item=item, annotator=annotator)
        elif roll < 0.15:
            undone = session.undo()
            say(op="ack", kind="retraction", annotator=annotator,
                target=None if undone is None else undone["seq"])
        else:
            label = rng.choice(%(labels)r)
            seq = session.submit(item, [label])
            say(op="ack", kind="annotation", seq=seq, item=item, annotator=annotator,
                labels=[label])
    session.close()
    project.close()
    say(op="done", steps=steps)
    """
) % {"labels": LABELS}


def run_workers(tmp_path, path, annotators):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = [subprocess.Popen([sys.executable, str(script), str(path), who, str(k)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for k, who in enumerate(annotators)]
    for proc in procs:
        assert json.loads(proc.stdout.readline())["op"] == "ready"
    for proc in procs:
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    results = []
    for k, proc in enumerate(procs):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and not err.strip(), f"worker {k} failed:\n{err.decode()}"
        messages = [json.loads(line) for line in out.splitlines()]
        assert messages[-1]["op"] == "done" and messages[-1]["steps"] < 500, messages[-1]
        results.append([m for m in messages if m["op"] == "ack"])
    return results


@pytest.mark.timeout(180)
@pytest.mark.parametrize("annotators", [["ana", "ben", "cy", "dee"], ["ana", "ana", "ben", "cy"]],
                         ids=["four-annotators", "two-kernels-share-an-annotator"])
def test_four_processes_keep_overlap_k_and_lose_nothing(tmp_path, annotators):
    path = tmp_path / "shared.hitl"
    with Project(path, labels=LABELS) as project:
        project.add_items([f"text {i}" for i in range(N_ITEMS)],
                          id=[f"i{i:02d}" for i in range(N_ITEMS)])
        project.set_overlap(K)
        project.set_gold(GOLD)
    acks = [a for worker in run_workers(tmp_path, path, annotators) for a in worker]

    with Project(path) as project:
        log = {e["seq"]: e for e in project.store.events()}
        coverage = project.coverage().set_index("item_id")
        labels = project.labels()

    writes = [a for a in acks if a["kind"] != "retraction"]
    undos = [a for a in acks if a["kind"] == "retraction" and a["target"] is not None]
    human = {s: e for s, e in log.items() if e["kind"] in ("annotation", "skip", "retraction")}
    who = [human[s]["annotator"] for s in sorted(human)]
    assert sum(a != b for a, b in zip(who, who[1:], strict=False)) >= 10, "writers hardly overlapped"

    # Nothing lost, nothing duplicated: each acknowledged write is one event, as acknowledged.
    assert len({a["seq"] for a in writes}) == len(writes)
    for ack in writes:
        event = log[ack["seq"]]
        assert (event["kind"], event["item_id"], event["annotator"], event["labels"]) == (
            ack["kind"], ack["item"], ack["annotator"], ack.get("labels"))
    retracted = Counter(e["target"] for e in human.values() if e["kind"] == "retraction")
    assert sorted(retracted) == sorted(a["target"] for a in undos)
    assert max(retracted.values(), default=1) == 1
    assert len(human) == len(writes) + len(undos)

    # Overlap k holds: every regular item has exactly K annotators, gold items one per annotator.
    # The guarantee holds while the leases hold (core/quality/_routing.py): when two kernels share
    # an annotator, one may skip an item -- ending that annotator's lease, so the slot goes to
    # someone else -- while the other still shows it and labels it. That label is stored (labels
    # are never refused) and coverage reports the item "over". Only that case may exceed K.
    unleased = set()
    if len(set(annotators)) < len(annotators):  # one kernel per annotator: nothing excused
        unleased = {i for i in coverage.index[coverage["over"]] if _labeled_after_own_skip(log, i)}
    regular = coverage[~coverage["gold"] & ~coverage.index.isin(unleased)]
    assert (regular["labeled"] == K).all(), regular[regular["labeled"] != K]
    assert not coverage.loc[~coverage.index.isin(unleased), "over"].any()
    assert (coverage.loc[list(unleased), "labeled"] <= K + 1).all()
    assert not labels.duplicated(["item_id", "annotator"]).any()
    gold_labels = labels[labels["item_id"].isin(GOLD)]
    assert gold_labels.groupby("annotator").size().max() <= len(GOLD)
    assert len(gold_labels) > 0, "no gold item was served"


def _labeled_after_own_skip(log: dict, item_id: str) -> bool:
    """Whether someone labeled ``item_id`` while their own skip of it had ended their lease
    (their latest assignment or skip on it, before the label, is a skip)."""
    last: dict[str, str] = {}
    for _, e in sorted(log.items()):
        if e["item_id"] != item_id:
            continue
        if e["kind"] == "annotation" and last.get(e["annotator"]) == "skip":
            return True
        if e["kind"] in ("assignment", "skip", "annotation"):
            last[e["annotator"]] = e["kind"]
    return False
