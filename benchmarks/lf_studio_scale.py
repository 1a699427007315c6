"""What the LFStudio costs the kernel per new human label on big projects (issue 14).

The project of :func:`live_views.build` (N labels: N/3 generated texts x 3 annotators), five
keyword / regex LFs on those texts, one LFStudio on it with an LF's "disagrees" page open (the
page is redrawn on each label too). Then one more human label at a time by a fourth annotator,
through ``project.annotate`` as a Labeler in the same kernel writes it; the studio hears of it
and updates. Per label:

- **state**: the kernel time the studio spends bringing its state up to date (the human-label
  vector Y and the table's accuracy columns): the handler's time minus the redraw (median);
- **redraw**: building and setting the traits the view receives (``_publish``; median over the
  labels that redrew, i.e. moved some item's Y), how many did, the handler's worst time, and the
  bytes of the update messages sent (JSON, what the kernel puts on the wire; mean per label);
- **open**: constructing the studio (applying the LFs, reading texts and Y), once.

``--open-in-loop`` measures instead what opening holds a notebook's kernel: the studio built
inside a running asyncio loop (as in a kernel), its heavy work in a worker thread; the kernel's
time in the constructor and in landing the result, the loop's longest stall meanwhile (a 5 ms
ticker; the worker shares the GIL), and the time until the table landed.

Medians over ``--repeat`` labels. Run
``python benchmarks/lf_studio_scale.py --labels 10000 100000 1000000``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from live_views import LABELS, build  # noqa: E402

import hitl_widgets as hw  # noqa: E402
from hitl_widgets.core.weak import keyword_lf, regex_lf  # noqa: E402
from hitl_widgets.lf_studio import LFStudio  # noqa: E402


def lfs() -> list:
    """LFs on "generated text k": they vote on some items by the digits of k, and overlap."""
    return [regex_lf("ends_7", r"7$", "spam", labels=LABELS),
            regex_lf("ends_3", r"3$", "ham", labels=LABELS),
            regex_lf("teens", r"text 1\d\b", "eggs", labels=LABELS),
            regex_lf("double_0", r"00", "spam", labels=LABELS),
            keyword_lf("generated", ["generated"], "ham", labels=LABELS)]


class Timed:
    """Wraps a bound method of the studio and keeps each call's duration."""

    def __init__(self, studio, name: str):
        self.times: list[float] = []
        inner = getattr(studio, name)

        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.times.append(time.perf_counter() - t)

        setattr(studio, name, wrapper)


def measure(path: Path, n: int, repeat: int) -> dict:
    with hw.Project(path) as project:
        t = time.perf_counter()
        studio = LFStudio(project, lfs())
        opened = time.perf_counter() - t
        sent: list[int] = []
        # DummyComm outside a kernel: record what would go on the wire instead
        studio.comm.send = lambda data=None, buffers=None, **kw: sent.append(len(json.dumps(data)))
        studio._on_page({"lf": "ends_7", "kind": "disagrees", "offset": 0, "request_id": None})
        # The subscription holds the bound method, so wrap what it calls: the handler itself
        # (through the project's listener list) and the redraw inside it.
        publish = Timed(studio, "_publish")
        handler: list[float] = []
        inner = studio._on_project_change

        def on_change(kind, info):
            t = time.perf_counter()
            inner(kind, info)
            handler.append(time.perf_counter() - t)

        studio._unsubscribe()
        studio._unsubscribe = project.subscribe(on_change)
        rng = random.Random(1)
        per_label = []  # (handler, redraw, bytes sent)
        for _ in range(repeat):
            publish.times.clear()
            sent.clear()
            project.annotate(f"i{rng.randrange(n // 3)}", rng.choice(LABELS), annotator="dee")
            per_label.append((handler[-1], sum(publish.times), sum(sent)))
        studio.close()
    redrawn = [r for _, r, _ in per_label if r]
    return {"open": opened, "state": statistics.median(h - r for h, r, _ in per_label),
            "redraw": statistics.median(redrawn) if redrawn else 0.0,
            "redrawn": len(redrawn), "n": len(per_label),
            "max": max(h for h, _, _ in per_label),
            "bytes": statistics.mean(b for _, _, b in per_label)}


def measure_open_in_loop(path: Path) -> dict:
    """Open the studio inside a running loop, as a notebook does; what it holds the loop for."""
    async def run() -> dict:
        with hw.Project(path) as project:
            stalls: list[float] = []
            done = asyncio.Event()

            async def ticker() -> None:
                last = time.perf_counter()
                while not done.is_set():
                    await asyncio.sleep(0.005)
                    now = time.perf_counter()
                    stalls.append(now - last - 0.005)
                    last = now

            tick = asyncio.ensure_future(ticker())
            await asyncio.sleep(0.05)
            t0 = time.perf_counter()
            studio = LFStudio(project, lfs())
            built = time.perf_counter() - t0
            landed = Timed(studio, "_land")
            while studio.updating or not studio.rows:
                await asyncio.sleep(0.005)
            total = time.perf_counter() - t0
            done.set()
            await tick
            studio.close()
            return {"constructor": built, "land": sum(landed.times), "stall": max(stalls),
                    "total": total}

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=None, help="where the project files go")
    parser.add_argument("--open-in-loop", action="store_true",
                        help="measure what opening holds a notebook's kernel, and nothing else")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp())
    if args.open_in_loop:
        print("| labels | constructor | landing | longest loop stall | table landed after |")
        print("|--:|--:|--:|--:|--:|")
        for n in args.labels:
            path = folder / f"views_{n}.hitl"
            if not path.exists():
                build(folder, n)
            r = measure_open_in_loop(path)
            print(f"| {n:,} | {r['constructor'] * 1e3:.1f} ms | {r['land'] * 1e3:.1f} ms "
                  f"| {r['stall'] * 1e3:.1f} ms | {r['total']:.2f} s |", flush=True)
        return
    print("| labels | items | open | state per label (median) | redraw (median of those "
          "redrawn) | redrawn | handler per label (max) | sent per label (mean) |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|")
    for n in args.labels:
        path = folder / f"views_{n}.hitl"
        if not path.exists():
            build(folder, n)
        work = folder / f"studio_{n}.hitl"  # a copy: the measured labels leave the base as built
        shutil.copyfile(path, work)
        r = measure(work, n, args.repeat)
        work.unlink()
        print(f"| {n:,} | {n // 3:,} | {r['open']:.2f} s | {r['state'] * 1e3:.1f} ms "
              f"| {r['redraw'] * 1e3:.1f} ms | {r['redrawn']}/{r['n']} "
              f"| {r['max'] * 1e3:.1f} ms | {r['bytes'] / 1e3:.2f} kB |", flush=True)


if __name__ == "__main__":
    main()
