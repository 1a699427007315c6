"""What the live views cost on big projects: ``project.labels()`` and, per new label, the
Dashboard's and the LFStudio's state (issue 14).

A project of N labels: N/3 generated texts (clearly synthetic) labeled by 3 annotators, the log
written in batches through the store. Times ``project.labels()`` on a fresh project object (the
first call reads the log) and again after one more label (what a view pays per change).

Run ``python benchmarks/live_views.py --labels 10000 100000 1000000``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import hitl_widgets as hw

LABELS = ["ham", "spam", "eggs"]
ANNOTATORS = ["ana", "ben", "cy"]


def build(folder: Path, n_labels: int) -> Path:
    path = folder / f"views_{n_labels}.hitl"
    n_items = n_labels // len(ANNOTATORS)
    with hw.Project(path, labels=LABELS) as project:
        project.add_items([f"generated text {k}" for k in range(n_items)],
                          id=[f"i{k}" for k in range(n_items)], progress=False)
        rng = random.Random(0)
        events = [dict(kind="annotation", item_id=f"i{k}", annotator=who,
                       labels=[rng.choice(LABELS)], source="human")
                  for k in range(n_items) for who in ANNOTATORS]
        for start in range(0, len(events), 100_000):
            project.store.append_many(events[start:start + 100_000])
    return path


def timed(f, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def one_more(project, rng: random.Random, n: int) -> None:
    """One more label by a fourth annotator, then what a view reads."""
    project.annotate(f"i{rng.randrange(n // 3)}", rng.choice(LABELS), annotator="dee")
    project.labels()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    print("| labels | labels(), first call | labels() after one more label |")
    print("|--:|--:|--:|")
    for n in args.labels:
        path = build(folder, n)
        with hw.Project(path) as project:
            t = time.perf_counter()
            project.labels()
            first = time.perf_counter() - t
            rng = random.Random(1)
            after = timed(lambda p=project, r=rng, n=n: one_more(p, r, n))
        print(f"| {n:,} | {first:.3f} s | {after:.3f} s |")


if __name__ == "__main__":
    main()
