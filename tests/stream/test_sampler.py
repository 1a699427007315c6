"""StreamSampler: a stream sampled into a real project file. What the reservoirs hold becomes
items; the state survives reopening (another kernel resumes exactly); a bad or interrupted batch
leaves the file and the sampler as they were; the queue serves what is held."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import hitl_widgets as hw
from hitl_widgets.core.labeling import LabelingSession
from hitl_widgets.core.stream import StreamSampler


def events(start: int = 0):
    """An endless, generated stream: every 4th event guessed spam."""
    for i in itertools.count(start):
        yield {"id": f"e{i}", "text": f"generated message {i}",
               "guess": "spam" if i % 4 == 0 else "ham", "score": float(i % 7)}


@pytest.fixture
def project(make_project):
    return make_project(items=0)


def sampler_on(project, name="inbox", **kwargs):
    options = dict(capacity=20, by="guess", id="id", text="text", seed=0, meta=["score"])
    return StreamSampler(project, name, **{**options, **kwargs})


def test_what_is_held_becomes_items_with_their_stratum_and_tags(project):
    sampler = sampler_on(project)
    assert sampler.ingest(events(), batch_size=250, max_events=2000) == 2000
    held = sampler.held_ids()
    counts = sampler.counts()
    assert len(held) == 20 and {c["held"] for c in counts.values()} == {10}
    assert counts["spam"]["seen"] == 500 and counts["ham"]["seen"] == 1500
    items = project.items().set_index("item_id")
    assert set(held) <= set(items.index)
    # Only what was ever held at a batch's end is in the project, far fewer than 2000.
    assert 20 <= len(items) < 400
    record = project.store.get_items([held[0]])[held[0]]
    assert record.text.startswith("generated message")
    assert record.meta["stream_stratum"] in ("spam", "ham") and "score" in record.meta
    assert record.provenance["source"] == "stream:inbox" and record.provenance["batch"] >= 1
    # The strata take turns at the head of the list.
    strata = [project.store.get_items([i])[i].meta["stream_stratum"] for i in held[:4]]
    assert sorted(strata) == ["ham", "ham", "spam", "spam"]


def test_a_reopened_sampler_continues_exactly(project, tmp_path):
    straight = sampler_on(project, "straight")
    straight.ingest(events(), batch_size=100, max_events=1000)
    first = sampler_on(project, "resumed")
    first.ingest(events(), batch_size=100, max_events=500)
    with hw.Project(tmp_path / "p.hitl") as other:  # another kernel picks it up
        again = StreamSampler.open(other, "resumed")
        assert again.held_ids() == first.held_ids() and again.counts() == first.counts()
        again.ingest(events(500), batch_size=100, max_events=500)
        assert again.held_ids() == straight.held_ids()
        assert again.counts() == straight.counts()


def test_a_bad_batch_changes_neither_the_file_nor_the_sampler(project):
    sampler = sampler_on(project)
    sampler.ingest(events(), batch_size=100, max_events=300)
    before = (sampler.held_ids(), sampler.counts(), len(project),
              project.store.get_meta("stream:inbox"))
    rows = list(itertools.islice(events(300), 100))
    twice = rows + [rows[0]]
    with pytest.raises(ValueError, match="appears twice"):
        sampler.add(twice)
    holed = [dict(r) for r in rows]
    holed[3]["score"] = float("nan")
    with pytest.raises(ValueError):
        StreamSampler(project, "strict", capacity=5, by="guess", id="id", text="text", seed=0,
                      features=["score"]).add(holed)
    no_text = [{k: v for k, v in r.items() if k != "text"} for r in rows]
    with pytest.raises(Exception, match="text"):
        sampler.add(no_text)
    after = (sampler.held_ids(), sampler.counts(), len(project),
             project.store.get_meta("stream:inbox"))
    assert after == before


def test_an_interrupt_while_writing_rolls_the_batch_back(project, monkeypatch):
    sampler = sampler_on(project)
    sampler.ingest(events(), batch_size=100, max_events=300)
    before = (sampler.held_ids(), sampler.counts(), len(project))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sampler.ledger, "set_meta", interrupted)  # after the items were added
    with pytest.raises(KeyboardInterrupt):
        sampler.ingest(events(300), batch_size=100, max_events=100)
    monkeypatch.undo()
    assert (sampler.held_ids(), sampler.counts(), len(project)) == before
    sampler.ingest(events(300), batch_size=100, max_events=100)  # and the next one works
    assert sum(c["seen"] for c in sampler.counts().values()) == 400


def test_the_queue_serves_what_is_held_and_not_what_was_pushed_out(project):
    sampler = sampler_on(project, capacity=6)
    sampler.ingest(events(), batch_size=50, max_events=100)
    session = LabelingSession(project, "ana", queue=sampler.queue())
    first = session.window()
    assert first and set(first) <= set(sampler.held_ids())
    session.submit(first[0], ["ham"])
    assert session.progress()["done"] == 1
    sampler.ingest(events(100), batch_size=50, max_events=5000)  # most of the old are gone
    served = session.window()
    assert set(served) <= set(sampler.held_ids()) and first[0] not in served
    assert project.labels()["item_id"].tolist() == [first[0]]  # its label stays
    assert "stream inbox" in sampler.queue().describe()


def test_names_and_functions(project):
    sampler_on(project)
    with pytest.raises(ValueError, match="already has a stream sampler 'inbox'"):
        sampler_on(project)
    with pytest.raises(KeyError, match=r"no stream sampler 'nope'.*\['inbox'\]"):
        StreamSampler.open(project, "nope")
    by_len = sampler_on(project, "by_len", by=lambda row: len(row["text"]) % 2)
    by_len.ingest(events(), batch_size=100, max_events=200)
    with pytest.raises(TypeError, match="by="):
        StreamSampler.open(project, "by_len")
    again = StreamSampler.open(project, "by_len", by=lambda row: len(row["text"]) % 2)
    assert again.counts() == by_len.counts() and set(again.counts()) == {0, 1}  # int strata kept
    with pytest.raises(ValueError, match="non-empty str"):
        sampler_on(project, "")


def test_a_dataframe_stream_in_chunks(project):
    frame = pd.DataFrame(list(itertools.islice(events(), 3000)))
    sampler = sampler_on(project, capacity=12)
    chunks = (frame.iloc[k:k + 700] for k in range(0, len(frame), 700))
    assert sampler.ingest(chunks) == 3000
    assert len(sampler.held_ids()) == 12
    assert np.isin(sampler.held_ids(), project.items()["item_id"]).all()
