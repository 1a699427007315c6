"""Events per second into stratified reservoirs, beside a plain per-event loop (issue 13).

A generated stream of DataFrame chunks (an id, two float features, a label over ``--strata``
strata with skewed frequencies: the rarest about 1.6 % of events) is fed batch by batch into
``StratifiedReservoir(capacity, by="label")`` (Algorithm L and R), timing only ``add``; the
stream is never materialised. Beside it: a plain per-event Python loop of Algorithm R with the
same strata and fixed equal quotas (no re-allocation), over ``--loop-events`` events of the
same stream (its rate is per event, so a shorter run measures it). And lists of dict rows, the
form an iterator of events gives, through the same reservoir.

river (0.26) has no reservoir sampler: its ``imblearn`` samplers re-balance classes in front
of a classifier, one event at a time, and hold no sample, so there is nothing fair to time.

Memory: after every batch the held events are checked against the cap; a second pass under
``tracemalloc`` reports the peak traced memory while ingesting ``--mem-events`` events beside
the size of the held rows, of one batch, and of the stream were it materialised.

Run ``nice -n 10 python benchmarks/reservoir_bench.py`` (10M events, about 30 s on 2
cores) or ``--events 1000000`` for a quick run.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd

from hitl_widgets.core.stream import StratifiedReservoir


def chunks(events: int, strata: int, batch: int, seed: int):
    """The stream: DataFrame chunks, made as they are asked for."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, strata + 1) ** 1.5  # Zipf-like: stratum 9 is ~1.6 % of events
    p /= p.sum()
    for start in range(0, events, batch):
        n = min(batch, events - start)
        yield pd.DataFrame({"id": np.arange(start, start + n), "x0": rng.normal(size=n),
                            "x1": rng.normal(size=n), "label": rng.choice(strata, size=n, p=p)})


def time_reservoir(args, algorithm: str) -> tuple[float, StratifiedReservoir]:
    res = StratifiedReservoir(args.capacity, by="label", algorithm=algorithm, seed=0)
    spent = 0.0
    for chunk in chunks(args.events, args.strata, args.batch, args.seed):
        t = time.perf_counter()
        res.add(chunk)
        spent += time.perf_counter() - t
        assert res.size <= args.capacity
    return args.events / spent, res


def time_dict_rows(args) -> float:
    res = StratifiedReservoir(args.capacity, by="label", seed=0)
    spent = 0.0
    for chunk in chunks(args.loop_events, args.strata, args.batch, args.seed):
        rows = chunk.to_dict("records")  # what an iterator of dict events hands over
        t = time.perf_counter()
        res.add(rows)
        spent += time.perf_counter() - t
    return args.loop_events / spent


def time_loop(args) -> float:
    """Algorithm R, one event at a time, per stratum, equal fixed quotas."""
    quota = args.capacity // args.strata
    held: dict = {}
    seen: dict = {}
    rand = random.Random(0)
    spent = 0.0
    for chunk in chunks(args.loop_events, args.strata, args.batch, args.seed):
        t = time.perf_counter()
        cols = zip(chunk["id"].tolist(), chunk["x0"].tolist(), chunk["x1"].tolist(),
                   chunk["label"].tolist(), strict=True)
        for row in cols:
            s = row[3]
            n = seen[s] = seen.get(s, 0) + 1
            box = held.setdefault(s, [])
            if len(box) < quota:
                box.append(row)
            else:
                j = rand.randrange(n)
                if j < quota:
                    box[j] = row
        spent += time.perf_counter() - t
    return args.loop_events / spent


def memory(args) -> dict:
    events = min(args.mem_events, args.events)
    res = StratifiedReservoir(args.capacity, by="label", seed=0)
    stream = chunks(events, args.strata, args.batch, args.seed)
    first = next(stream)
    batch_bytes = int(first.memory_usage(deep=True).sum())
    tracemalloc.start()
    res.add(first)
    for chunk in stream:
        res.add(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows = res.held()
    row_bytes = sum(sys.getsizeof(r) + sum(sys.getsizeof(v) for v in r.values()) for r in rows)
    return {"events": events, "peak": peak, "held_rows": len(rows), "held_bytes": row_bytes,
            "batch_bytes": batch_bytes, "stream_bytes": batch_bytes * events / args.batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--strata", type=int, default=10)
    parser.add_argument("--capacity", type=int, default=10_000, help="the memory cap (events)")
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--loop-events", type=int, default=1_000_000)
    parser.add_argument("--mem-events", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{args.events:,} events, {args.strata} strata, cap {args.capacity:,}, "
          f"batches of {args.batch:,}")
    rate_l, res = time_reservoir(args, "L")
    rate_r, _ = time_reservoir(args, "R")
    rate_dicts = time_dict_rows(args)
    rate_loop = time_loop(args)
    print(f"{'path':<52} {'events/s':>12} {'vs loop':>8}")
    for name, rate in [("StratifiedReservoir, Algorithm L, DataFrame chunks", rate_l),
                       ("StratifiedReservoir, Algorithm R, DataFrame chunks", rate_r),
                       ("StratifiedReservoir, Algorithm L, lists of dict rows", rate_dicts),
                       ("plain per-event Python loop, Algorithm R", rate_loop)]:
        print(f"{name:<52} {rate:>12,.0f} {rate / rate_loop:>7.1f}x")
    print("river 0.26: no reservoir sampler (imblearn samplers hold no sample): not timed")
    counts = res.counts()
    print("held / seen per stratum (L):",
          ", ".join(f"{s}: {c['held']}/{c['seen']:,}" for s, c in sorted(counts.items())))
    m = memory(args)
    print(f"memory over {m['events']:,} events: peak traced {m['peak'] / 2**20:.1f} MiB; held "
          f"{m['held_rows']:,} rows = {m['held_bytes'] / 2**20:.1f} MiB; one batch "
          f"{m['batch_bytes'] / 2**20:.1f} MiB; the stream materialised would be "
          f"{m['stream_bytes'] / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
