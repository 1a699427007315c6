"""StreamView: live reservoir fill and drift plots follow the sampler (in this kernel and in
another) and the monitor's checks."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pandas as pd
import pytest

import hitl_widgets as hw
from hitl_widgets.core.drift import DriftMonitor
from hitl_widgets.core.stream import StreamSampler


def events(start: int = 0):
    rng = np.random.default_rng(start)
    for i in itertools.count(start):
        yield {"id": f"e{i}", "text": f"generated {i}", "guess": "spam" if i % 3 == 0 else "ham",
               "x": float(rng.normal(2.0 if i >= 600 else 0.0))}


@pytest.fixture
def project(make_project):
    return make_project(items=0)


def held(view) -> dict:
    bars = view.fill.data[0]
    return dict(zip(bars.x, bars.y, strict=True))


def test_it_follows_batches_and_checks(project):
    sampler = StreamSampler(project, "s", capacity=10, by="guess", id="id", text="text", seed=0)
    monitor = DriftMonitor(pd.DataFrame(list(itertools.islice(events(10_000), 300)))[["x"]],
                           window=100)
    view = hw.StreamView(sampler, monitor, refresh_s=0)
    assert view.fill.data[0].x in ((), None) or len(view.fill.data[0].x) == 0
    stream = events()
    for _ in range(8):
        batch = pd.DataFrame(list(itertools.islice(stream, 100)))
        sampler.add(batch)
        monitor.update(batch[["x"]], item_ids=batch["id"])
    assert held(view) == {s: c["held"] for s, c in sampler.counts().items()}
    lines = {t.name for t in view.drift.data}
    assert "x" in lines and "drifted" in lines  # the shift at event 600 was found and marked
    view.close()


def test_in_a_loop_it_follows_another_kernels_sampler(project, tmp_path):
    StreamSampler(project, "s", capacity=10, by="guess", id="id", text="text", seed=0)
    watched = StreamSampler.open(project, "s")

    async def main():
        view = hw.StreamView(watched, refresh_s=0.05)
        other = hw.Project(tmp_path / "p.hitl")
        writer = StreamSampler.open(other, "s")  # the ingestion job, another connection
        writer.ingest(events(), batch_size=100, max_events=500)
        want = writer.counts()
        for _ in range(1000):
            await asyncio.sleep(0.01)
            if held(view) and sum(view.sampler.counts()[s]["seen"] for s in want) == 500:
                break
        other.close()
        return view, want

    view, want = asyncio.run(main())
    assert view.sampler.counts() == want
    assert held(view) == {s: c["held"] for s, c in want.items()}
    view.close()


def test_bad_input(project):
    sampler = StreamSampler(project, "s", capacity=4, by="guess", id="id", text="text", seed=0)
    with pytest.raises(TypeError, match="needs a StreamSampler"):
        hw.StreamView(project)
    with pytest.raises(TypeError, match="DriftMonitor"):
        hw.StreamView(sampler, monitor="m")
    with pytest.raises(ValueError, match="refresh_s"):
        hw.StreamView(sampler, refresh_s=float("nan"))
