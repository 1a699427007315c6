"""How fast the project store writes and reads.

Writes: single ``Project.annotate`` calls, each its own durable transaction (WAL,
``synchronous=FULL``), as the Labeler makes one per keypress; also ``LabelingSession.submit``
followed by ``window()``, the kernel's whole share of a keypress. Measured on an empty log and
on a large one. Reads: the current labels, one annotator's labels, ``annotator_state`` (what a
session loads when another kernel wrote) and ``Project.labels()`` (the DataFrame), on logs of
10k and 100k events.

Run ``python benchmarks/store_bench.py`` (``--help`` for options). The figures depend on the
disk's fsync: give ``--dir`` a folder on the disk you care about.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from hitl_widgets import Project
from hitl_widgets.core.labeling import LabelingSession

LABELS = ["ham", "spam", "eggs"]
ANNOTATORS = ["ana", "ben", "cy", "dee"]


def make_project(folder: Path, name: str, n_items: int) -> Project:
    project = Project(folder / f"{name}.hitl", labels=LABELS)
    project.add_items(
        [f"item text {i}" for i in range(n_items)], id=[f"i{i}" for i in range(n_items)]
    )
    return project


def seed_events(project: Project, n_events: int, n_items: int, rng: random.Random) -> None:
    """Fill the log fast (batched): ~85% annotations, 10% skips, 5% retractions."""
    made, batch = 0, 10_000
    while made < n_events:
        size = min(batch, n_events - made)
        events = []
        for _ in range(int(size * 0.95)):
            kind = "annotation" if rng.random() < 0.9 else "skip"
            events.append(
                dict(
                    kind=kind,
                    item_id=f"i{rng.randrange(n_items)}",
                    annotator=rng.choice(ANNOTATORS),
                    labels=[rng.choice(LABELS)] if kind == "annotation" else None,
                    source="human" if kind == "annotation" else None,
                )
            )
        seqs = project.store.append_many(events)
        targets = rng.sample(range(len(seqs)), size - len(events))
        project.store.append_many(
            dict(
                kind="retraction",
                item_id=events[t]["item_id"],
                annotator=events[t]["annotator"],
                target=seqs[t],
            )
            for t in targets
        )
        made += size


def time_writes(project: Project, n: int, n_items: int, rng: random.Random) -> list[float]:
    out = []
    for _ in range(n):
        item, label = f"i{rng.randrange(n_items)}", rng.choice(LABELS)
        t = time.perf_counter()
        project.annotate(item, label, annotator="bench")
        out.append(time.perf_counter() - t)
    return out


def time_keypresses(project: Project, n: int) -> list[float]:
    session = LabelingSession(project, "keys", prefetch=8)
    out = []
    for _ in range(n):
        window = session.window()
        if not window:
            break
        t = time.perf_counter()
        session.submit(window[0], [LABELS[0]])
        session.window()
        session.progress()
        out.append(time.perf_counter() - t)
    session.close()
    return out


def time_call(fn, repeat: int) -> float:
    best = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t)
    return statistics.median(best)


def time_reads(project: Project, repeat: int) -> list[tuple[str, float]]:
    store = project.store
    return [
        ("current_labels() all", time_call(store.current_labels, repeat)),
        ("current_labels('ana')", time_call(lambda: store.current_labels("ana"), repeat)),
        ("annotator_state('ana')", time_call(lambda: store.annotator_state("ana"), repeat)),
        ("Project.labels() DataFrame", time_call(project.labels, repeat)),
        (
            "LabelingSession(...).window()",
            time_call(lambda: LabelingSession(project, "ana").window(), repeat),
        ),
    ]


def write_row(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (
        f"| {name:<40} | {len(ms) / sum(ms) * 1000:>9,.0f} /s | "
        f"median {statistics.median(ms):6.2f} ms | p99 {p99:6.2f} ms |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="where to put the project files")
    parser.add_argument("--writes", type=int, default=2000, help="durable writes to time")
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[10_000, 100_000],
        help="log sizes (events) for the read timings",
    )
    parser.add_argument("--items", type=int, default=20_000, help="items in each project")
    parser.add_argument("--repeat", type=int, default=5, help="runs per read timing (median)")
    args = parser.parse_args()

    rng = random.Random(0)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        print(f"project files in {folder}; {args.items:,} items\n")
        print("Durable writes (one transaction each, WAL + synchronous=FULL)")
        empty = make_project(folder, "empty", args.items)
        print(write_row("annotate, empty log", time_writes(empty, args.writes, args.items, rng)))
        print(
            write_row(
                "session submit + window + progress",
                time_keypresses(empty, min(args.writes, args.items)),
            )
        )
        empty.close()

        reads = []
        for size in args.sizes:
            project = make_project(folder, f"log{size}", args.items)
            t = time.perf_counter()
            seed_events(project, size, args.items, rng)
            seeded = time.perf_counter() - t
            print(
                write_row(
                    f"annotate, {size:,}-event log",
                    time_writes(project, args.writes // 2, args.items, rng),
                )
            )
            reads.append((size, seeded, time_reads(project, args.repeat)))
            project.close()

        print(f"\nReads (median of {args.repeat})")
        names = [name for name, _ in reads[0][2]]
        print("| " + f"{'query':<32}" + "".join(f" | {s:>10,} ev" for s, _, _ in reads) + " |")
        print("|" + "-" * 34 + "".join("|" + "-" * 15 for _ in reads) + "|")
        for k, name in enumerate(names):
            cells = "".join(f" | {r[2][k][1] * 1000:>10.1f} ms" for r in reads)
            print(f"| {name:<32}{cells} |")
        print(
            "\nseeding (batched append_many): "
            + ", ".join(f"{s:,} events in {t:.1f} s" for s, t, _ in reads)
        )


if __name__ == "__main__":
    main()
