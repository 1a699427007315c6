"""How long the overlap queue takes to choose an annotator's next items, on a large project.

A project of ``--items`` texts (default 100,000) with overlap k = 2 and one gold item in 200;
``--settled`` of them (default 60 %) already carry their two labels. For two new annotators, a
``LabelingSession`` on an ``OverlapQueue`` (prefetch 8) is opened, then 300 times: submit the
head of the window, time the next ``window()`` (the kernel's share of a keypress that the
browser's prefetched items hide). Also the first window of a new session, and the window after
an undo (which rescans from the start).

Run ``python benchmarks/overlap_queue.py``; to compare with another checkout of the package, run
it again with ``PYTHONPATH=<that checkout>``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import hitl_widgets as hw
from hitl_widgets.core.labeling import LabelingSession
from hitl_widgets.core.quality import OverlapQueue


def build(folder: Path, n_items: int, n_settled: int) -> hw.Project:
    project = hw.Project(folder / "overlap.hitl", labels=["a", "b"])
    ids = [f"i{k:07d}" for k in range(n_items)]
    project.add_items([f"text {k}" for k in range(n_items)], id=ids)
    project.set_overlap(2)
    project.set_gold({ids[k]: "a" for k in range(7, n_items, 200)})
    rng = np.random.default_rng(0)
    settled = [ids[k] for k in rng.choice(n_items, n_settled, replace=False)]
    project.store.append_many(
        dict(kind="annotation", item_id=i, annotator=who, labels=["a"], source="human")
        for i in settled for who in ("x", "y"))
    return project


def time_session(project: hw.Project, who: str, cycles: int) -> dict[str, float]:
    session = LabelingSession(project, who, queue=OverlapQueue(gold_rate=0.05, seed=1), prefetch=8)
    start = time.perf_counter()
    window = session.window()
    first = time.perf_counter() - start
    steady = []
    for _ in range(cycles):
        session.submit(window[0], ["a"])
        start = time.perf_counter()
        window = session.window()
        steady.append(time.perf_counter() - start)
    session.undo()
    start = time.perf_counter()
    session.window()
    after_undo = time.perf_counter() - start
    session.close()
    steady.sort()
    return {"first": first, "median": statistics.median(steady),
            "p95": steady[int(0.95 * len(steady))], "after_undo": after_undo}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--settled", type=float, default=0.6, help="share already at k")
    parser.add_argument("--cycles", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project = build(Path(folder), args.items, int(args.settled * args.items))
        print(f"hitl_widgets from {Path(hw.__file__).parent}; {args.items:,} items, "
              f"{args.settled:.0%} settled, k = 2")
        for who in ("c", "d"):
            t = time_session(project, who, args.cycles)
            print(f"{who}: first window {1e3 * t['first']:.1f} ms | next window median "
                  f"{1e3 * t['median']:.2f} ms, p95 {1e3 * t['p95']:.2f} ms | after an undo "
                  f"{1e3 * t['after_undo']:.1f} ms")
        project.close()


if __name__ == "__main__":
    main()
