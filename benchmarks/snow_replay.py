"""Replaying Snow et al. (2008): does the router's choice of who answers next need fewer answers?

On the real Mechanical Turk answers of RTE (800 items, 164 workers) and TEMP (462 items, 76
workers), 10 answers per item, with the experts' gold (``$HITL_DATASETS/snow2008``, default
``../shared/datasets`` beside the repository; each data set is skipped with a message when
absent). The replay reveals the answers in rounds: in each round every item (in a seeded order)
gets one more answer, from one of the workers who answered it and has not been used on it yet.

- ``router``: before every ``--refresh`` items (default a tenth of a round), the skill
  posteriors of every worker are learned from the answers revealed so far
  (``skill_posteriors(answers)``: no gold, consensus evidence, ``method="auto"``); for each item
  the worker with the highest ``route_scores(profiles, candidates, ["all"], rng=..., explore=1)``
  among its unused workers answers (Thompson sampling, comparative advantage and the floor; no
  load: every worker is there to answer);
- ``baseline``: the same but ``policy="baseline"`` (the posterior mean, greedy);
- ``random``: a uniform choice among the unused workers.

After each quarter round: the accuracy against gold of the consensus of the revealed answers,
majority vote (ties to the smallest label) and Dawid-Skene (``core.quality``). At 10 answers per
item every arm has used every answer, so all reach the same final accuracy; the question is how
many answers each needs to come within ``--within`` (0.5 point) of it. Printed as markdown: the
curve (mean and 95 % t-interval over seeds, at 1..10 answers per item) and the answers needed
(each seed's first checkpoint within the margin; mean, interval and seeds reaching).

Run ``.venv/bin/python benchmarks/snow_replay.py`` (10 seeds, a few minutes on 2 cores) or
``--quick`` (3 seeds).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _tables import fmt, table

import hitl_widgets.core.quality as quality
from hitl_widgets.core.quality import dawid_skene, majority_vote

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("HITL_DATASETS", ROOT / ".." / "shared" / "datasets"))
ARMS = ("router", "baseline", "random")
STEPS_PER_ROUND = 4


def load(name: str) -> pd.DataFrame | None:
    path = DATASETS / "snow2008" / f"{name.lower()}.standardized.tsv"
    if not path.exists():
        print(f"skipped {name}: {path} is absent (set HITL_DATASETS to the shared data sets)")
        return None
    raw = pd.read_csv(path, sep="\t", dtype=str)
    return raw.rename(columns={"orig_id": "item_id", "!amt_worker_ids": "annotator",
                               "response": "label"})[["item_id", "annotator", "label", "gold"]]


def accuracy(revealed: pd.DataFrame, gold: pd.Series) -> tuple[float, float]:
    """Majority vote and Dawid-Skene accuracy over every item (no answer yet: wrong)."""
    df = revealed.rename(columns={"item_id": "item"})
    mv = majority_vote(df)["label"].reindex(gold.index)
    ds = dawid_skene(df, progress=False).labels.reindex(gold.index)
    return float((mv == gold).mean()), float((ds == gold).mean())


def replay(data: pd.DataFrame, arm: str, seed: int, refresh: int, explore: float) -> pd.DataFrame:
    """One replay; its curve: answers used, majority-vote and Dawid-Skene accuracy."""
    rng = np.random.default_rng([seed, ARMS.index(arm)])
    gold = data.drop_duplicates("item_id").set_index("item_id")["gold"]
    answer = {(r.item_id, r.annotator): r.label for r in data.itertuples()}
    left = {i: list(g) for i, g in data.groupby("item_id", sort=True)["annotator"]}
    items = list(left)
    rounds = max(len(w) for w in left.values())
    rows: list[tuple[str, str, str, str]] = []  # item_id, annotator, label, task_type
    curve, profiles = [], None
    step = max(1, len(items) // STEPS_PER_ROUND)
    for _ in range(rounds):
        order = rng.permutation(len(items))
        for n, pos in enumerate(order):
            item_id = items[pos]
            candidates = left[item_id]
            if not candidates:
                continue
            if arm == "random":
                who = candidates[int(rng.integers(len(candidates)))]
            else:
                if profiles is None or n % refresh == 0:
                    revealed = pd.DataFrame(rows, columns=["item_id", "annotator", "label",
                                                           "task_type"])
                    profiles = quality.skill_posteriors(revealed)  # none yet: every worker has the prior
                scores = quality.route_scores(profiles, candidates, ["all"], rng=rng,
                                              explore=explore, policy=arm)["all"].to_numpy()
                best = np.flatnonzero(scores == scores.max())
                who = candidates[int(best[rng.integers(len(best))])]
            candidates.remove(who)
            rows.append((item_id, who, answer[item_id, who], "all"))
            if (n + 1) % step == 0 or n + 1 == len(order):
                revealed = pd.DataFrame(rows, columns=["item_id", "annotator", "label",
                                                       "task_type"])
                curve.append((len(rows), *accuracy(revealed, gold)))
    return pd.DataFrame(curve, columns=["answers", "mv", "ds"]).drop_duplicates("answers")




def report(name: str, n_items: int, curves: dict[str, list[pd.DataFrame]], within: float) -> None:
    arms = [a for a in ARMS if curves.get(a)]
    seeds = len(curves[arms[0]])
    final = curves[arms[0]][0].iloc[-1]  # every arm ends with every answer: the same consensus
    print(f"\n### {name}: consensus accuracy (%) by answers per item, mean [95 % t-interval] "
          f"over {seeds} seeds\n")
    for key, title in (("mv", "majority vote"), ("ds", "Dawid-Skene")):
        rows = []
        per_item = sorted({int(a // n_items) for a in curves[arms[0]][0]["answers"]
                           if a % n_items == 0})
        for k in per_item:
            row = [str(k)]
            for arm in arms:
                row.append(fmt([c.set_index("answers").at[k * n_items, key] for c in curves[arm]],
                               100))
            if "router" in arms and "random" in arms:
                row.append(fmt([(a.set_index("answers").at[k * n_items, key]
                                 - b.set_index("answers").at[k * n_items, key]) * 100
                                for a, b in zip(curves["router"], curves["random"], strict=True)],
                               digits=2))
            rows.append(row)
        header = ["answers / item", *arms] + (["router - random (points, paired)"]
                                              if "router" in arms and "random" in arms else [])
        print(f"{title} (all answers: {final[key] * 100:.2f} %):\n")
        print(table(header, rows))
        print()
    print(f"Answers needed to come within {within:g} point of the all-answers accuracy (each "
          f"seed's first checkpoint, every {n_items // STEPS_PER_ROUND} answers):\n")
    rows = []
    for arm in arms:
        row = [arm]
        for key in ("mv", "ds"):
            target = final[key] - within / 100
            got = []
            for c in curves[arm]:
                hit = c[c[key] >= target - 1e-12]
                got.append(float(hit["answers"].iloc[0]) if len(hit) else float("nan"))
            ok = [g for g in got if not np.isnan(g)]
            row += [f"{len(ok)}/{len(got)}", fmt(ok, digits=0) if ok else "—",
                    fmt([g / n_items for g in ok], digits=2) if ok else "—"]
        rows.append(row)
    print(table(["arm", "MV: seeds", "MV: answers", "MV: per item", "DS: seeds", "DS: answers",
                 "DS: per item"], rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--sets", nargs="+", default=["RTE", "TEMP"], choices=["RTE", "TEMP"])
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    ap.add_argument("--refresh", type=int, default=None,
                    help="items between skill refreshes (default a tenth of a round)")
    ap.add_argument("--explore", type=float, default=1.0)
    ap.add_argument("--within", type=float, default=0.5, help="points below the final accuracy")
    ap.add_argument("--quick", action="store_true", help="3 seeds")
    args = ap.parse_args()
    if args.quick:
        args.seeds = 3
    needs = [a for a in args.arms if a != "random"]
    if needs and not all(hasattr(quality, f) for f in ("skill_posteriors", "route_scores")):
        print(f"note: arms {needs} skipped: skill_posteriors / route_scores are not in this "
              "checkout's hitl_widgets.core.quality")
        args.arms = [a for a in args.arms if a == "random"]
    start = time.perf_counter()
    for name in args.sets:
        data = load(name)
        if data is None:
            continue
        n_items = data["item_id"].nunique()
        refresh = args.refresh or max(1, n_items // 10)
        print(f"{name}: {n_items} items, {data['annotator'].nunique()} workers, {len(data)} "
              f"answers; skills refreshed every {refresh} items; explore {args.explore}",
              flush=True)
        curves: dict[str, list[pd.DataFrame]] = {arm: [] for arm in args.arms}
        for seed in range(args.seeds):
            for arm in args.arms:
                t = time.perf_counter()
                curves[arm].append(replay(data, arm, seed, refresh, args.explore))
                c = curves[arm][-1]
                print(f"  seed {seed} {arm:8s} MV@3 {c.set_index('answers').at[3 * n_items, 'mv']:.3f}"
                      f"  DS@3 {c.set_index('answers').at[3 * n_items, 'ds']:.3f}"
                      f"  ({time.perf_counter() - t:.1f} s)", flush=True)
        report(name, n_items, curves, args.within)
    print(f"\nTotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
