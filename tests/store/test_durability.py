"""A label the API acknowledged survives the process that wrote it being killed.

A child process labels items through the public API and prints each event id once the call has
returned (an acknowledgement); before each call it prints what it is about to do (an intent).
The parent SIGKILLs it at a random moment, reopens the same file and checks the log against
what was acknowledged: every acknowledged event is there, at most the one call in flight at the
kill may also have landed, nothing else appears, history is unchanged, the file is intact, and
the current labels equal a replay of exactly those events. The same file is reused across
trials, so it grows and every trial starts from a file that survived the previous kill.

SIGKILL simulates a crashed or killed kernel, not a power cut: the OS still holds written pages.
What would fail here is an acknowledgement given before the commit (a write queue, a batch,
a deferred flush), a torn or half-applied event, or a file left unopenable.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field

import pytest

from hitl_widgets import Project

TRIALS = 24
ANNOTATORS = ("ana", "ben")
LABELS = ["ham", "spam", "eggs"]
N_ITEMS = 40

CHILD = textwrap.dedent(
    """
    import json, random, sys
    from hitl_widgets import Project

    path, seed = sys.argv[1], int(sys.argv[2])
    rng = random.Random(seed)
    project = Project(path)
    items = sorted(project.items()["item_id"])
    labels = list(project.schema.labels)

    def say(**message):
        sys.stdout.write(json.dumps(message) + "\\n")
        sys.stdout.flush()

    say(op="ready")
    for _ in range(1_000_000):
        who = rng.choice(%(annotators)r)
        roll = rng.random()
        if roll < 0.7:
            item, label = rng.choice(items), rng.choice(labels)
            say(op="intent", kind="annotation", item=item, annotator=who, labels=[label])
            seq = project.annotate(item, label, annotator=who)
            say(op="ack", kind="annotation", seq=seq, item=item, annotator=who, labels=[label])
        elif roll < 0.85:
            item = rng.choice(items)
            say(op="intent", kind="skip", item=item, annotator=who)
            seq = project.skip(item, annotator=who)
            say(op="ack", kind="skip", seq=seq, item=item, annotator=who)
        else:
            say(op="intent", kind="retraction", annotator=who)
            undone = project.undo(annotator=who)
            say(op="ack", kind="retraction", annotator=who,
                target=None if undone is None else undone["seq"])
    """
) % {"annotators": ANNOTATORS}


@dataclass
class Model:
    """What the log must hold, built only from acknowledgements (and the one in-flight call)."""

    events: dict[int, dict] = field(default_factory=dict)  # seq -> event

    def retracted(self) -> set[int]:
        return {e["target"] for e in self.events.values() if e["kind"] == "retraction"}

    def undo_target(self, annotator: str) -> int | None:
        """The seq that ``undo(annotator=...)`` must retract: the latest live annotation/skip."""
        gone = self.retracted()
        live = [
            s
            for s, e in self.events.items()
            if e["annotator"] == annotator and e["kind"] in ("annotation", "skip") and s not in gone
        ]
        return max(live, default=None)

    def current_labels(self) -> set[tuple[str, str, str]]:
        gone = self.retracted()
        latest: dict[tuple[str, str], str] = {}
        for seq in sorted(self.events):
            e = self.events[seq]
            if e["kind"] == "annotation" and seq not in gone:
                latest[(e["item_id"], e["annotator"])] = e["labels"][0]
        return {(item, who, label) for (item, who), label in latest.items()}

    def annotator_state(self, annotator: str) -> tuple[set[str], dict[str, int]]:
        gone = self.retracted()
        done, skips = set(), {}
        for seq in sorted(self.events):
            e = self.events[seq]
            if e["annotator"] != annotator or seq in gone:
                continue
            if e["kind"] == "annotation":
                done.add(e["item_id"])
            elif e["kind"] == "skip":
                skips[e["item_id"]] = seq
        return done, {i: s for i, s in skips.items() if i not in done}


def _run_and_kill(path, seed: int, rng: random.Random, script) -> tuple[str, list[dict], int]:
    """Start the child, kill it at a random moment; return (how, every complete line, rc)."""
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    how = rng.choice(
        ["after_acks", "after_acks", "mid_write", "mid_write", "after_intent", "while_opening"]
    )
    lines: list[bytes] = []
    try:
        if how == "while_opening":  # during interpreter start, import or Project(...)
            time.sleep(rng.uniform(0.0, 0.4))
        else:
            k = rng.randint(0, 150)
            acks = 0
            while True:
                line = proc.stdout.readline()
                if not line:
                    break  # the child died on its own: the return code check reports it
                lines.append(line)
                op = json.loads(line)["op"]
                acks += op == "ack"
                if how == "after_intent" and op == "intent" and acks >= k:
                    break  # kill as the call starts
                if how != "after_intent" and acks >= k:
                    if how == "mid_write":  # land somewhere inside the next commit
                        time.sleep(rng.uniform(0.0, 0.002))
                    break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # Read through the file object, not communicate(): it would skip what readline buffered.
        rest, err = proc.stdout.read(), proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    lines += rest.splitlines(keepends=True)
    # A line without its newline was cut by the kill: it acknowledges nothing.
    parsed = [json.loads(line) for line in lines if line.endswith(b"\n")]
    assert proc.returncode == -signal.SIGKILL, (
        f"the child did not run until the kill (rc={proc.returncode}):\n{err.decode()}"
    )
    return how, parsed, proc.returncode


def _db_events(project: Project) -> dict[int, dict]:
    df = project.events()
    out = {}
    for row in df.to_dict("records"):
        labels = row["labels"]
        target = row["target"]
        out[int(row["seq"])] = {
            "kind": row["kind"],
            "item_id": row["item_id"],
            "annotator": row["annotator"],
            "labels": None if not isinstance(labels, list) else labels,
            "target": None if target is None or target != target else int(target),
        }
    return out


def _expected_event(message: dict, model: Model) -> dict:
    """The event an intent or ack describes, given the log before it."""
    kind, who = message["kind"], message["annotator"]
    if kind == "retraction":
        target = model.undo_target(who)
        return {
            "kind": kind,
            "item_id": None if target is None else model.events[target]["item_id"],
            "annotator": who,
            "labels": None,
            "target": target,
        }
    return {
        "kind": kind,
        "item_id": message["item"],
        "annotator": who,
        "labels": message.get("labels"),
        "target": None,
    }


def _reconcile(model: Model, db: dict[int, dict], messages: list[dict], trial: str) -> int:
    """Check the trial's new events against its acks; extend the model; return #unacked landed."""
    known = max(model.events, default=0)
    for seq, event in model.events.items():  # history is never rewritten
        assert db.get(seq) == event, f"{trial}: event {seq} changed or vanished: {db.get(seq)}"
    new = [(seq, db[seq]) for seq in sorted(db) if seq > known]
    acks = [m for m in messages if m["op"] == "ack"]
    intents = [m for m in messages if m["op"] == "intent"]
    assert len(intents) - len(acks) in (0, 1), f"{trial}: child protocol broken: {messages[-3:]}"
    position = 0
    for ack in acks:
        expected = _expected_event(ack, model)
        if ack["kind"] == "retraction":
            assert ack["target"] == expected["target"], (
                f"{trial}: undo for {ack['annotator']} retracted {ack['target']}, "
                f"the latest live action was {expected['target']}"
            )
            if expected["target"] is None:
                continue  # nothing to undo: no event
        assert position < len(new), f"{trial}: acknowledged {ack} is missing from the log"
        seq, event = new[position]
        if ack["kind"] != "retraction":
            assert seq == ack["seq"], f"{trial}: acknowledged event {ack['seq']} is not at {seq}"
        assert event == expected, f"{trial}: event {seq} is {event}, acknowledged {expected}"
        model.events[seq] = event
        position += 1
    extra = new[position:]
    assert len(extra) <= 1, f"{trial}: unacknowledged events appeared: {extra}"
    if extra:  # the call in flight at the kill committed before it died
        assert len(intents) > len(acks), f"{trial}: an event with no call behind it: {extra}"
        seq, event = extra[0]
        expected = _expected_event(intents[-1], model)
        assert event == expected, f"{trial}: in-flight event {seq} is {event}, not {expected}"
        model.events[seq] = event
    return len(extra)


def _integrity(path) -> None:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


@pytest.mark.timeout(180)
def test_acknowledged_labels_survive_sigkill_at_random_moments(tmp_path):
    path = tmp_path / "crash.hitl"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    with Project(path, labels=LABELS) as project:
        project.add_items(
            [f"text {i}" for i in range(N_ITEMS)], id=[f"i{i:02d}" for i in range(N_ITEMS)]
        )

    rng = random.Random(20240611)
    model = Model()
    hows: dict[str, int] = {}
    landed_unacked = 0
    for trial in range(TRIALS):
        how, messages, _ = _run_and_kill(path, 1000 + trial, rng, script)
        hows[how] = hows.get(how, 0) + 1
        label = f"trial {trial} ({how}, {sum(m['op'] == 'ack' for m in messages)} acks)"
        with Project(path) as project:  # a fresh open of the file the child left behind
            landed_unacked += _reconcile(model, _db_events(project), messages, label)
            got = set(
                project.labels()[["item_id", "annotator", "label"]].itertuples(
                    index=False, name=None
                )
            )
            assert got == model.current_labels(), f"{label}: current labels differ from the replay"
            for who in ANNOTATORS:
                assert project.store.annotator_state(who) == model.annotator_state(who), label
        _integrity(path)

    assert len(model.events) > 500, "the trials wrote too little to test anything"
    assert len(hows) >= 3, f"the kill timings did not vary: {hows}"


def test_store_connection_commits_with_wal_and_full_sync(tmp_path):
    # A SIGKILL cannot show power-loss durability; these settings are what provide it.
    with Project(tmp_path / "p.hitl", labels=LABELS) as project:
        assert project.store._query("PRAGMA journal_mode")[0][0] == "wal"
        assert project.store._query("PRAGMA synchronous")[0][0] == 2  # FULL
        assert os.path.exists(str(project.path) + "-wal")
