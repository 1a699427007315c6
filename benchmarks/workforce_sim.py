"""Routing on a SIMULATED crowd: router vs the load baseline vs round-robin vs first-come.

For each seed, one ``SimulatedCrowd`` (``hitl_widgets.core.quality``; default 600 items, 12
annotators -- generalists, one-type specialists and weak ones, skills 0.55-0.95 -- 3 task types,
3 labels) and, per arm, a real project file in a temporary folder: the crowd's items added with
their task type as a field, overlap k (default 3), 5 % of the items set as gold
(``project.set_gold``) and a gold rate of 5 % in every queue that mixes gold in. Each annotator
is a ``LabelingSession`` (prefetch 8, as the Labeler) on the arm's queue. Turns follow each
annotator's speed: a clock per annotator, the one whose clock is earliest takes the first item
of their window, submits the crowd's answer with ``ms_on_item`` = the crowd's time, and their
clock moves on by that time. An annotator with an empty window waits a simulated minute and asks
again; the run ends when the label budget (equal for every arm, default k x items) is spent or
every annotator in a row found nothing.

Arms (each a queue the package ships, the code path users run):

- ``router``: ``RouterQueue(task_type="task_type", policy="router")``;
- ``baseline``: ``RouterQueue(..., policy="baseline")``, the common accuracy / (1 + load/100);
- ``round-robin``: ``RoundRobinQueue`` (items in the order added, to whoever asks next);
- ``first-come``: ``OverlapQueue`` (each annotator's own pseudo-random order of the pool).

Then, against the simulated truth, over the non-gold items (an item with no label counts as
wrong): the accuracy of the consensus labels by majority vote and by Dawid-Skene (both from
``core.quality``; Dawid-Skene sees the gold items' labels too), and the cost, the sum of every
label's ``ms_on_item`` (read back from the project's log) times its annotator's hourly rate.
Printed as markdown: mean and 95 % t-interval over seeds per arm, the paired per-seed ratios
router / round-robin, and what the router spends to reach round-robin's final accuracy (the
first of 40 evenly spaced points of its accuracy-vs-labels curve at or above it, same seed).

Run ``.venv/bin/python benchmarks/workforce_sim.py`` (8 seeds, two at a time with ``--jobs 2``;
about 10 minutes on 2 cores, most of it in the router's skill refresh) or ``--quick`` (2 seeds of
120 items and 6 annotators). ``--arms`` picks arms; arms whose queue this
checkout lacks are skipped with a note.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
from _tables import fmt, table

import hitl_widgets.core.quality as quality
from hitl_widgets.core.project import Project
from hitl_widgets.core.quality import SimulatedCrowd, dawid_skene, majority_vote

ARMS = ("router", "baseline", "round-robin", "first-come")
CURVE_POINTS = 40


def make_queue(arm: str, *, gold_rate: float, seed: int):
    """The arm's queue, or None when this checkout does not have it."""
    if arm == "first-come":
        return quality.OverlapQueue(gold_rate=gold_rate, seed=seed)
    if arm == "round-robin":
        cls = getattr(quality, "RoundRobinQueue", None)
        return None if cls is None else cls(gold_rate=gold_rate, seed=seed)
    cls = getattr(quality, "RouterQueue", None)
    if cls is None:
        return None
    policy = "router" if arm == "router" else "baseline"
    return cls(task_type="task_type", gold_rate=gold_rate, seed=seed, policy=policy)


def run_arm(crowd: SimulatedCrowd, arm: str, folder: Path, *, k: int, budget: int,
            gold: dict[str, str], gold_rate: float, prefetch: int, seed: int) -> dict | None:
    """Label a fresh project through the arm's queue; the labels in the order given."""
    queue = make_queue(arm, gold_rate=gold_rate, seed=seed)
    if queue is None:
        return None
    project = Project(folder / f"{arm}-{seed}.hitl", labels=crowd.labels)
    try:
        project.add_items(crowd.items(), text="text", id="item_id", fields=["task_type"])
        project.set_overlap(k)
        project.set_gold(gold)
        start = time.perf_counter()
        # The crowd's own loop: turns by speed in simulated time, as notebook 07 runs it.
        given = crowd.work(project, queue, labels=budget, prefetch=prefetch)
        elapsed = time.perf_counter() - start
        events = project.events()
        events = events[events["kind"] == "annotation"]
        rates = crowd.annotators.set_index("name")["hourly_rate"]
        cost_each = (events["ms_on_item"].astype(float) / 3.6e6
                     * events["annotator"].map(rates).astype(float)).to_numpy()
        current = project.labels()
    finally:
        project.close()
    df = given.rename(columns={"item_id": "item"})[["item", "annotator", "label"]]
    return dict(log=df, cost_each=cost_each, current=current, seconds=elapsed)


def accuracy(labels: pd.DataFrame, crowd: SimulatedCrowd, scored: pd.Index) -> tuple[float, float]:
    """Majority-vote and Dawid-Skene accuracy over the ``scored`` items (no label: wrong)."""
    truth = crowd.truth.loc[scored]
    if labels.empty:
        return 0.0, 0.0
    mv = majority_vote(labels)["label"].reindex(scored)
    ds = dawid_skene(labels, progress=False).labels.reindex(scored)
    return float((mv == truth).mean()), float((ds == truth).mean())


def score_arm(run: dict, crowd: SimulatedCrowd, scored: pd.Index, k: int) -> dict:
    log, cost_each = run["log"], run["cost_each"]
    # The log holds every label in order; the project's current labels are the same set.
    assert len(run["current"]) == len(log), (len(run["current"]), len(log))
    points = np.unique(np.linspace(0, len(log), CURVE_POINTS + 1).astype(int)[1:])
    cum_cost = np.cumsum(cost_each)
    curve = [(n, cum_cost[n - 1], *accuracy(log.iloc[:n], crowd, scored)) for n in points]
    curve = pd.DataFrame(curve, columns=["labels", "cost", "mv", "ds"])
    final = curve.iloc[-1]
    per_item = log[log["item"].isin(scored)].groupby("item").size()
    people = crowd.annotators.set_index("name")
    kind = log["annotator"].map(people["kind"])
    specialist = kind == "specialist"
    own_type = log["item"].map(crowd.types) == log["annotator"].map(people["strong_type"])
    return dict(labels=len(log), cost=float(cum_cost[-1]), mv=final["mv"], ds=final["ds"],
                at_k=int((per_item >= k).sum()), curve=curve, seconds=run["seconds"],
                gold_labels=int((~log["item"].isin(scored)).sum()),
                weak_share=float((kind == "weak").mean()),
                own_type=float(own_type[specialist].mean()) if specialist.any() else float("nan"))




def reach_cost(curve: pd.DataFrame, target: float, column: str) -> tuple[float, float]:
    """(labels, cost) at the first curve point with accuracy >= target; NaN if never."""
    hit = curve[curve[column] >= target - 1e-12]
    if hit.empty:
        return float("nan"), float("nan")
    return float(hit["labels"].iloc[0]), float(hit["cost"].iloc[0])


def report(results: dict[str, list[dict]], seeds: list[int]) -> None:
    arms = [a for a in ARMS if results.get(a)]
    print(f"\nConsensus accuracy (%) on the non-gold items and cost, mean [95 % t-interval] over "
          f"{len(seeds)} seeds:\n")
    rows = []
    for arm in arms:
        r = results[arm]
        rows.append([arm, fmt([x["labels"] for x in r], digits=0),
                     fmt([x["gold_labels"] for x in r], digits=0),
                     fmt([x["at_k"] for x in r], digits=0),
                     fmt([x["mv"] for x in r], 100), fmt([x["ds"] for x in r], 100),
                     fmt([x["cost"] for x in r], digits=2),
                     fmt([x["cost"] / max(x["labels"], 1) for x in r], digits=4),
                     fmt([x["weak_share"] for x in r], 100, digits=0),
                     fmt([x["own_type"] for x in r], 100, digits=0),
                     f"{np.mean([x['seconds'] for x in r]):.1f}"])
    print(table(["arm", "labels", "of which gold", "items at k", "majority vote %",
                 "Dawid-Skene %", "cost", "cost / label", "labels by weak %",
                 "specialists on their type %", "run (s)"], rows))
    pairs = [(a, "round-robin") for a in arms if a != "round-robin" and "round-robin" in arms]
    if "router" in arms and "baseline" in arms:
        pairs.append(("router", "baseline"))
    if not pairs:
        print("\n(no round-robin or baseline arm: comparisons skipped)")
        return
    print("\nPaired per seed (same crowd): ratios of the two arms' figures and the accuracy gain; "
          "'at equal cost' is the first arm's accuracy at the last point of its curve that cost "
          "no more than the second arm's whole run, minus the second arm's final accuracy:\n")
    rows = []
    for a, b in pairs:
        ra, rb = results[a], results[b]
        row = [f"{a} / {b}"]
        for key in ("mv", "ds", "cost"):
            row.append(fmt([x[key] / y[key] for x, y in zip(ra, rb, strict=True)], digits=3))
        for key in ("mv", "ds"):
            row.append(fmt([(x[key] - y[key]) * 100 for x, y in zip(ra, rb, strict=True)],
                           digits=2))
            row.append(fmt([(at_cost(x["curve"], y["cost"], key) - y[key]) * 100
                            for x, y in zip(ra, rb, strict=True)], digits=2))
        rows.append(row)
    print(table(["arms", "MV ratio", "DS ratio", "cost ratio", "MV gain (points)",
                 "MV gain at equal cost", "DS gain (points)", "DS gain at equal cost"], rows))
    print("\nWhat each arm spends to reach the second arm's final accuracy (same seed; first of "
          f"{CURVE_POINTS} curve points at or above it):\n")
    rows = []
    for a, b in pairs:
        row = [f"{a} / {b}"]
        for key in ("mv", "ds"):
            got = [reach_cost(x["curve"], y[key], key) + (y["cost"],)
                   for x, y in zip(results[a], results[b], strict=True)]
            reached = [g for g in got if not np.isnan(g[1])]
            if reached:
                row += [f"{len(reached)}/{len(got)}", fmt([g[0] for g in reached], digits=0),
                        fmt([g[1] / g[2] for g in reached], digits=3)]
            else:
                row += [f"0/{len(got)}", "—", "—"]
        rows.append(row)
    print(table(["arms", "MV: seeds reaching", "MV: labels", "MV: cost ratio",
                 "DS: seeds reaching", "DS: labels", "DS: cost ratio"], rows))


def at_cost(curve: pd.DataFrame, budget: float, column: str) -> float:
    """Accuracy at the last curve point whose cost is within ``budget`` (0 if none is)."""
    within = curve[curve["cost"] <= budget + 1e-9]
    return float(within[column].iloc[-1]) if len(within) else 0.0


def run_seed(job: tuple) -> tuple[dict[str, dict | None], list[str]]:
    """Every arm on one seed's crowd (one process per seed with ``--jobs``)."""
    seed, args, budget, tmp = job
    crowd = SimulatedCrowd(args.items, args.annotators, n_labels=args.labels,
                           n_types=args.types, seed=seed)
    rng = np.random.default_rng([seed, 1])
    gold_ids = sorted(rng.choice(crowd.truth.index, round(args.gold * args.items), replace=False))
    gold = {i: crowd.truth[i] for i in gold_ids}
    scored = crowd.truth.index.difference(pd.Index(gold_ids))
    out, lines = {}, []
    for arm in args.arms:
        run = run_arm(crowd, arm, tmp, k=args.k, budget=budget, gold=gold,
                      gold_rate=args.gold_rate, prefetch=args.prefetch, seed=seed)
        out[arm] = None if run is None else score_arm(run, crowd, scored, args.k)
        if out[arm] is not None:
            res = out[arm]
            lines.append(f"  seed {seed} {arm:12s} labels {res['labels']:5d}  MV {res['mv']:.3f}  "
                         f"DS {res['ds']:.3f}  cost {res['cost']:8.2f}  ({res['seconds']:.1f} s)")
    return out, lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--items", type=int, default=600)
    ap.add_argument("--annotators", type=int, default=12)
    ap.add_argument("--types", type=int, default=3)
    ap.add_argument("--labels", type=int, default=3)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--budget", type=int, default=None, help="labels per arm (default k x items)")
    ap.add_argument("--gold", type=float, default=0.05, help="share of items set as gold")
    ap.add_argument("--gold-rate", type=float, default=0.05, help="queues' gold rate")
    ap.add_argument("--prefetch", type=int, default=8)
    ap.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    ap.add_argument("--dir", type=Path, default=None, help="where the project files go")
    ap.add_argument("--jobs", type=int, default=2, help="processes, one seed each at a time")
    ap.add_argument("--quick", action="store_true", help="2 seeds of 120 items, 6 annotators")
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.items, args.annotators = 2, 120, 6
    budget = args.budget or args.k * args.items
    seeds = list(range(args.seeds))
    results: dict[str, list[dict]] = {arm: [] for arm in args.arms}
    missing: set[str] = set()
    print(f"SIMULATED crowd: {args.items} items, {args.annotators} annotators, {args.types} task "
          f"types, {args.labels} labels; k={args.k}, gold {args.gold:.0%} of items, gold rate "
          f"{args.gold_rate:.0%}, budget {budget} labels per arm, prefetch {args.prefetch}; "
          f"seeds {seeds}", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        jobs = [(seed, args, budget, Path(tmp)) for seed in seeds]
        with ProcessPoolExecutor(args.jobs) if args.jobs > 1 else nullcontext() as pool:
            done = pool.map(run_seed, jobs) if pool else map(run_seed, jobs)
            for per_arm, lines in done:  # in seed order, each as soon as it is there
                print("\n".join(lines), flush=True)
                for arm, res in per_arm.items():
                    if res is None:
                        missing.add(arm)
                    else:
                        results[arm].append(res)
    for arm in sorted(missing):
        print(f"note: arm {arm!r} skipped: its queue is not in this checkout's "
              "hitl_widgets.core.quality")
    report(results, seeds)
    print(f"\nTotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
