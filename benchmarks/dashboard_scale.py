"""What the Dashboard costs the kernel on big projects (issue 14): its first load, and per new
label the work to bring its numbers up to date and to redraw.

A project of N labels (``live_views.build``: N/3 generated items x 3 annotators, overlap 3, so
every item is finished), a Dashboard open on it with no event loop (each change is handled at
once, in the writer's thread). Per new label (a fourth annotator relabeling random items):

- *update*: the kernel's work bringing the Dashboard's numbers up to date after that label
  (``DashboardStats.update`` where it exists; before it, ``dashboard_data`` with a label cache);
- *redraw*: turning the numbers into the figure and the summary line (``Dashboard._draw``;
  after the change this includes building the tables from the kept state).

And, on a fresh project object, how long a Dashboard opened inside a running event loop (as in
a notebook) holds that loop, and how long until its figures are drawn.

Run ``python benchmarks/dashboard_scale.py --labels 10000 100000 1000000``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from live_views import LABELS, build  # noqa: E402

import hitl_widgets as hw  # noqa: E402
from hitl_widgets.core import quality  # noqa: E402
from hitl_widgets.dashboard import Dashboard  # noqa: E402


async def open_in_a_loop(project) -> tuple[float, float]:
    """Open a Dashboard as a notebook does (inside the kernel's running loop): how long the
    loop is held, and how long until the figures are drawn."""
    t = time.perf_counter()
    dash = Dashboard(project, refresh_s=3600)
    held = time.perf_counter() - t
    while getattr(dash, "updating", False):
        await asyncio.sleep(0.005)
    drawn = time.perf_counter() - t
    dash.close()
    return held, drawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    incremental = hasattr(quality, "DashboardStats")
    print(f"code: {'incremental (DashboardStats)' if incremental else 'full recompute (LabelCache)'}")
    print("| labels | first load | loop held at open (notebook) | update per new label | redraw |")
    print("|--:|--:|--:|--:|--:|")
    for n in args.labels:
        path = build(folder, n)
        with hw.Project(path) as project:
            project.set_overlap(3)
            t = time.perf_counter()
            dash = Dashboard(project, refresh_s=3600)  # no loop: redraws by hand below
            first = time.perf_counter() - t
            dash._unsubscribe()  # the loop below plays the subscription's part, timed
            rng = random.Random(1)
            updates, redraws = [], []
            for _ in range(args.repeat):
                project.annotate(f"i{rng.randrange(n // 3)}", rng.choice(LABELS), annotator="dee")
                t = time.perf_counter()
                if incremental:
                    dash._stats.update()
                    updates.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    dash.refresh()
                    redraws.append(time.perf_counter() - t)
                else:
                    data = quality.dashboard_data(project, cache=dash._cache, **dash._options)
                    updates.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    dash._draw(data)
                    redraws.append(time.perf_counter() - t)
            dash.close()
        with hw.Project(path) as project:  # a fresh kernel: nothing read yet
            held, drawn = asyncio.run(open_in_a_loop(project))
        print(f"| {n:,} | {first:.2f} s | {held:.2f} s (drawn after {drawn:.2f} s) | "
              f"{1000 * statistics.median(updates):.1f} ms | "
              f"{1000 * statistics.median(redraws):.1f} ms |", flush=True)


if __name__ == "__main__":
    main()
