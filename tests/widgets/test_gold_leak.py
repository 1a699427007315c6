"""No trace of gold reaches the browser: every synced trait, message and buffer is checked.

The Labeler is driven kernel-side through its intent handler while a recording comm stands where
the front end's comm would be, so what is checked is exactly what would go over the wire: the
comm's open message (the full initial state of every synced trait), each state update, and each
custom message with its buffers.

The main check is differential. Session A labels a project with gold items mixed in by the
overlap queue. Session B labels a twin project -- same items, no gold -- served in the very order
A was served, with the same key presses. If gold changed anything the browser receives (a
payload field, a shape, an id, a batch, a trait), the two recordings differ.
"""

from __future__ import annotations

import json
import re

import comm
import numpy as np
import pytest
from comm.base_comm import BaseComm
from sklearn.datasets import load_digits

import hitl_widgets as hw
from hitl_widgets.core.quality import OverlapQueue

LABELS = ["ham", "spam"]
N_TEXT, N_IMAGE = 48, 6
IDS = [f"i{k:02d}" for k in range(N_TEXT + N_IMAGE)]
GOLD = {item: LABELS[k % 2] for k, item in enumerate(IDS) if k % 4 == 1}  # 14 gold items


class RecordingComm(BaseComm):
    """The kernel end of a widget comm, recording everything it would publish."""

    sink: list[tuple[str, dict, list[bytes]]] = []

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
        self.sink.append((msg_type, json.loads(json.dumps(data or {})),
                          [bytes(b) for b in buffers or []]))


@pytest.fixture
def wire(monkeypatch):
    sink: list = []
    monkeypatch.setattr(RecordingComm, "sink", sink)
    monkeypatch.setattr(comm, "create_comm", lambda **kw: RecordingComm(**kw))
    return sink


def gold_project(make_project, name):
    """Texts and digit images, overlap 2 (a crowd's setting; gold is added by the caller)."""
    p = make_project(LABELS, 0, name=name)
    p.add_items([f"message number {k}" for k in range(N_TEXT)], id=IDS[:N_TEXT])
    p.add_items(image=load_digits().images[:N_IMAGE], id=IDS[N_TEXT:])
    p.set_overlap(2)
    return p


class FixedOrder:
    """Serves a given order (blind, as the overlap queue is): the twin session's queue."""

    blind = True

    def __init__(self, order):
        self.order = order

    def next_ids(self, project, annotator, exclude, n):
        return [i for i in self.order if i not in exclude][:n]


def drive(widget, actions=None, seed=7):
    """Label until the window is empty, with some skips, undos and fetches; return the actions."""
    rng = np.random.default_rng(seed)
    done, client_seq = [], 0
    replay = iter(actions) if actions is not None else None
    while True:
        if replay is not None:
            action = next(replay, None)
            if action is None:
                return done
        else:
            if not widget.window:
                return done
            item, roll = widget.window[0], rng.random()
            action = (("skip", item) if roll < 0.08 and len(done) < 40 else
                      ("undo", item) if roll < 0.16 and done and done[-1][0] == "submit" else
                      ("fetch", item) if roll < 0.2 else
                      ("submit", item, LABELS[int(rng.integers(2))]))
            if action[0] == "undo":
                action = ("undo", done[-1][1])
        client_seq += 1
        if action[0] == "submit":
            msg = {"type": "submit", "item_id": action[1], "labels": [action[2]], "ms_on_item": 500}
        elif action[0] == "fetch":
            msg = {"type": "fetch", "item_ids": list(widget.window)}
        else:
            msg = {"type": action[0], "item_id": action[1], "ms_on_item": 500}
        widget._dispatch(widget, {**msg, "client_seq": client_seq}, [])
        assert not widget.error, widget.error
        done.append(action)


def normalised(sink):
    """Drop what differs between any two runs: event ids (the log holds other events too),
    the clock-driven rate and time left, and the random ids of widget models."""
    out = []
    for msg_type, data, buffers in sink:
        text = json.dumps(data, sort_keys=True)
        text = re.sub(r'"event_id": \d+', '"event_id": 0', text)
        text = re.sub(r'"(per_minute|eta_seconds)": [0-9.e+-]+', r'"\1": 0', text)
        text = re.sub(r"IPY_MODEL_[0-9a-f]+", "IPY_MODEL_", text)  # random widget model ids
        out.append((msg_type, text, buffers))
    return out


def payloads(sink):
    for _, data, _ in sink:
        content = data.get("content") or {}
        if data.get("method") == "custom" and content.get("type") == "items":
            yield from content["items"]


def test_gold_leaves_no_trace_in_traits_messages_or_buffers(make_project, wire):
    a = gold_project(make_project, "a.hitl")
    a.set_gold(GOLD)
    widget = hw.Labeler(a, annotator="ana", queue=OverlapQueue(gold_rate=0.3, seed=11), prefetch=4)
    actions = drive(widget)
    widget.close()
    wire_a = list(wire)

    labeled = {act[1] for act in actions if act[0] == "submit"}
    assert len(labeled & set(GOLD)) >= 8, "too few gold items were served to test anything"
    assert {act[0] for act in actions} == {"submit", "skip", "undo", "fetch"}
    assert any(m == "comm_open" for m, _, _ in wire_a) and any(b for _, _, b in wire_a)

    # 1. Nothing says "gold" anywhere, in any trait, message or buffer.
    for _, data, buffers in wire_a:
        assert "gold" not in json.dumps(data).lower()
        assert all(b"gold" not in b.lower() for b in buffers)

    # 2. Gold payloads have the shape of every other payload of their kind, and the ids sent
    #    are the items' own ids, in one format.
    shapes = {}
    for p in payloads(wire_a):
        shape = (p["kind"], tuple(sorted((k, type(v).__name__) for k, v in p.items())))
        shapes.setdefault(p["item_id"] in GOLD, set()).add(shape)
        if p["item_id"] in GOLD:
            assert GOLD[p["item_id"]] not in json.dumps(p), p
    assert shapes[True] <= shapes[False]
    ids_sent = {p["item_id"] for p in payloads(wire_a)}
    ids_sent |= {i for _, d, _ in wire_a for i in (d.get("state") or {}).get("window", [])}
    assert ids_sent <= set(IDS) and all(re.fullmatch(r"i\d\d", i) for i in ids_sent)

    # 3. The twin: no gold, same order, same keys. The browser receives the same bytes.
    order = list(dict.fromkeys(e["item_id"] for e in a.store.events() if e["kind"] == "assignment"))
    wire.clear()
    b = gold_project(make_project, "b.hitl")
    twin = hw.Labeler(b, annotator="ana", queue=FixedOrder(order), prefetch=4)
    drive(twin, actions)
    twin.close()
    assert normalised(wire) == normalised(wire_a)

    # And the kernel side did record the gold answers and score them.
    assert a.gold_accuracy(min_count=1)["n"].tolist() == [len(labeled & set(GOLD))]


def test_the_view_code_has_no_notion_of_gold():
    from pathlib import Path

    js = (Path(hw.__file__).parent / "js" / "labeler.js").read_text().lower()
    assert "gold" not in js
