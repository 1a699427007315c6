"""What following other kernels costs a view's kernel: ``Project.poll()`` per tick (issue 14).

The Dashboard and the LFStudio call ``project.poll()`` every 0.1-0.5 s on the kernel's loop to
hear labels written in other kernels. Timed on a project of N labels (``live_views.build``:
N/3 generated texts x 3 annotators), nothing new (the common tick) and after another
connection's label (a tick that announces it; listeners are not counted).

Run ``python benchmarks/poll_cost.py --labels 10000 1000000``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from live_views import build

import hitl_widgets as hw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    print(f"{'labels':>10} | {'poll, nothing new':>18} | {'poll, another kernel labeled':>28}")
    for n in args.labels:
        path = build(folder, n)
        with hw.Project(path) as lead, hw.Project(path) as other:
            idle, busy = [], []
            for k in range(args.repeat):
                t = time.perf_counter()
                assert not lead.poll()
                idle.append(time.perf_counter() - t)
                other.annotate(f"i{k}", "ham", annotator="dee")
                t = time.perf_counter()
                assert lead.poll()
                busy.append(time.perf_counter() - t)
        print(f"{n:>10,} | {statistics.median(idle) * 1e3:>15.3f} ms | "
              f"{statistics.median(busy) * 1e3:>25.3f} ms")


if __name__ == "__main__":
    main()
