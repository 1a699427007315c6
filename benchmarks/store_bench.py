"""How fast the project store writes and reads.

Writes: single ``Project.annotate`` calls, each its own durable transaction (WAL,
``synchronous=FULL``), as the Labeler makes one per keypress; also ``LabelingSession.submit``
followed by ``window()``, the kernel's whole share of a keypress. Measured on an empty log and
on a large one. Reads: the current labels, one annotator's labels, ``annotator_state`` (what a
session loads when another kernel wrote) and ``Project.labels()`` (the DataFrame), on logs of
10k and 100k events.

``--keypress-items 10000 1000000 10000000`` times only the keypress (submit + window +
progress, and each part) on projects of those sizes; ``--reload 1000000 100000`` times only
``window()`` after another connection's label (the session's reload) on that many items and
events. Both add items through ``Project.add_items`` in batches, as a user would.

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


ADD_BATCH = 250_000  # items per add_items call: one transaction each, bounded memory


def make_project(folder: Path, name: str, n_items: int) -> Project:
    """A project of ``n_items`` texts, added through ``Project.add_items`` as users do, in
    batches (one call of 10M items would hold all their records in memory at once)."""
    project = Project(folder / f"{name}.hitl", labels=LABELS)
    for start in range(0, n_items, ADD_BATCH):
        stop = min(n_items, start + ADD_BATCH)
        project.add_items(
            [f"item text {i}" for i in range(start, stop)],
            id=[f"i{i}" for i in range(start, stop)],
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


def time_keypresses(project: Project, n: int, budget: float | None = None) -> dict[str, list[float]]:
    """Seconds per keypress: submit, the next window, progress, and all three together.

    ``budget``: set a rate and this budget first, so every window and progress also checks
    the money spent (read fresh, as across kernels), and send ``ms_on_item`` as the widget does.
    """
    if budget is not None:
        project.set_rate("*", 18.0)
        project.set_budget(budget)
    ms = 1_500 if budget is not None else None
    session = LabelingSession(project, "keys", prefetch=8)
    session.progress()  # the Labeler draws progress when it opens: the first count is not a key
    out: dict[str, list[float]] = {"all": [], "submit": [], "window": [], "progress": []}
    for _ in range(n):
        window = session.window()
        if not window:
            break
        t0 = time.perf_counter()
        session.submit(window[0], [LABELS[0]], ms_on_item=ms)
        t1 = time.perf_counter()
        session.window()
        t2 = time.perf_counter()
        session.progress()
        t3 = time.perf_counter()
        for part, took in zip(out, (t3 - t0, t1 - t0, t2 - t1, t3 - t2), strict=True):
            out[part].append(took)
    session.close()
    return out


def keypress_table(folder: Path, sizes: list[int], n: int, budget: float | None = None) -> None:
    """submit + window + progress on projects of each size (an empty log, a new annotator);
    with ``budget``, under a budget cap."""
    print("| items | add_items | submit + window + progress, median | p99 | "
          "submit | window | progress (medians) |")
    print("|--:|--:|--:|--:|--:|--:|--:|")
    for size in sizes:
        t = time.perf_counter()
        project = make_project(folder, f"keys{size}", size)
        added = time.perf_counter() - t
        parts = {k: sorted(s * 1000 for s in v)
                 for k, v in time_keypresses(project, min(n, size), budget).items()}
        ms = parts["all"]
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        medians = " | ".join(f"{statistics.median(parts[k]):.3f} ms"
                             for k in ("submit", "window", "progress"))
        print(
            f"| {size:,} | {added:.1f} s ({size / added:,.0f} /s) | "
            f"{statistics.median(ms):.2f} ms | {p99:.2f} ms | {medians} |",
            flush=True,
        )
        project.close()
        for path in folder.glob(f"keys{size}.hitl*"):
            path.unlink()  # 10M items take about 1 GB: keep one size on disk at a time


def reload_timings(folder: Path, n_items: int, n_events: int, n: int, rng: random.Random) -> None:
    """What a session pays when another kernel wrote: ``window()`` after another connection's
    label, against ``window()`` when nothing changed, and the full ``annotator_state`` read."""
    project = make_project(folder, "reload", n_items)
    seed_events(project, n_events, n_items, rng)
    other = Project(project.path)  # a second connection, as a second kernel has
    session = LabelingSession(project, "ana", prefetch=8)
    session.window()
    quiet, after = [], []
    for _ in range(n):
        t = time.perf_counter()
        session.window()
        quiet.append(time.perf_counter() - t)
        other.annotate(
            f"i{rng.randrange(n_items)}", rng.choice(LABELS), annotator=rng.choice(ANNOTATORS)
        )
        t = time.perf_counter()
        session.window()
        after.append(time.perf_counter() - t)
    store = project.store
    full = time_call(lambda: store.annotator_state("ana"), 5)
    done, skipped = store.annotator_state("ana")
    top = store.max_seq()
    gaps = [g for g in (1, 100, 1_000, 10_000, 100_000, 1_000_000) if g <= n_events]

    def catch_up(gap: int) -> None:  # what a session's reload does after `gap` new events
        _, touched, _ = store.annotator_changes("ana", top - gap)
        store.annotator_state("ana", touched)

    # Code before the incremental reload has no annotator_changes: it is timed without this.
    can = hasattr(store, "annotator_changes")
    caught = [(gap, time_call(lambda g=gap: catch_up(g), 5)) for gap in gaps if can]
    session.close()
    other.close()
    project.close()
    print(f"{n_items:,} items, {n_events:,} events by {len(ANNOTATORS)} annotators")
    print(write_row("window(), nothing changed", quiet))
    print(write_row("window() after another kernel's label", after))
    print(f"annotator_state('ana'), the full read ({len(done):,} labeled, {len(skipped):,} "
          f"skipped): {full * 1000:.1f} ms (median of 5)")
    if caught:
        print("catching up after new events (median of 5): " + ", ".join(
            f"{gap:,}: {t * 1000:.2f} ms" for gap, t in caught))


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
    parser.add_argument(
        "--keypress-items",
        type=int,
        nargs="+",
        default=None,
        help="only time --writes keypresses (submit + window + progress) on projects of these "
        "many items, e.g. 10000 1000000 10000000 (10M: about 1 GB and 3-4 minutes to add)",
    )
    parser.add_argument(
        "--reload",
        type=int,
        nargs=2,
        default=None,
        metavar=("ITEMS", "EVENTS"),
        help="only time a session's window() after another connection's label, on a project "
        "of ITEMS items and EVENTS events, e.g. 1000000 100000",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="with --keypress-items: set a rate and this budget first (e.g. 1e9, never "
        "reached), so each keypress pays for the budget check",
    )
    args = parser.parse_args()

    rng = random.Random(0)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        if args.keypress_items or args.reload:
            if args.keypress_items:
                keypress_table(folder, args.keypress_items, args.writes, args.budget)
            if args.reload:
                reload_timings(folder, *args.reload, args.writes, rng)
            return
        print(f"project files in {folder}; {args.items:,} items\n")
        print("Durable writes (one transaction each, WAL + synchronous=FULL)")
        empty = make_project(folder, "empty", args.items)
        print(write_row("annotate, empty log", time_writes(empty, args.writes, args.items, rng)))
        print(
            write_row(
                "session submit + window + progress",
                time_keypresses(empty, min(args.writes, args.items))["all"],
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
