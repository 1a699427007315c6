"""How fast and how right the agreement and consensus engines are, beside the references.

1. Agreement at 1k / 100k / 1M items (5 raters, 5 labels, 10% of ratings missing for
   Krippendorff): ``cohen_kappa`` vs scikit-learn, ``fleiss_kappa`` vs statsmodels
   (``aggregate_raters`` + ``fleiss_kappa``, since both start from raw ratings),
   ``krippendorff_alpha`` (nominal, interval) vs the ``krippendorff`` package; then 50 labels,
   where the package builds an items x labels x labels array (so it stops at 10k items here).
2. Dawid-Skene vs crowd-kit's ``DawidSkene(n_iter=100)`` at 10k / 100k items of a simulated
   crowd (50 workers with known confusion matrices, 5 labels per item, 3 classes): time, ratio,
   whether the labels are the same, accuracy against the simulated truth.
3. Accuracy on Snow et al. (2008) RTE and TEMP (``$HITL_DATASETS/snow2008``, default
   ``../shared/datasets`` beside the repository): majority vote and Dawid-Skene beside the
   published figures. Skipped with a message if the files are absent.

Each time is the best of a few runs (one at 1M items). Prints markdown tables. Run
``.venv/bin/python benchmarks/quality.py`` (about 30 s on 2 cores) or ``--quick`` (about 6 s).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from hitl_widgets.core.quality import (
    cohen_kappa,
    dawid_skene,
    fleiss_kappa,
    krippendorff_alpha,
    majority_vote,
)

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("HITL_DATASETS", ROOT / ".." / "shared" / "datasets"))
PUBLISHED = {  # accuracy (%) reported for these data sets; None where none is cited here
    "RTE": {"majority": 89.7, "dawid_skene": 92.75},
    "TEMP": {"majority": None, "dawid_skene": None},
}


def best_time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# -- 1. agreement ---------------------------------------------------------------------------------
def ratings(rng: np.random.Generator, n: int, m: int, v: int, missing: float) -> np.ndarray:
    truth = rng.integers(0, v, n)
    out = np.where(rng.random((n, m)) < 0.7, truth[:, None], rng.integers(0, v, (n, m)))
    out = out.astype(float)
    out[rng.random((n, m)) < missing] = np.nan
    return out


def agreement_rows(sizes: list[int], many_sizes: list[int]) -> list[list[str]]:
    import krippendorff
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import aggregate_raters
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    rng = np.random.default_rng(0)
    rows = []

    def compare(name: str, n: int, ours: Callable, theirs: Callable, *args: object) -> None:
        repeat = 1 if n >= 1_000_000 else 3
        t_ours, x = best_time(lambda: ours(*args), repeat)
        t_ref, y = best_time(lambda: theirs(*args), repeat)
        rows.append([name, f"{n:,}", fmt_s(t_ours), fmt_s(t_ref), f"{t_ref / t_ours:.1f}x",
                     f"{abs(x - y):.1e}"])
        print(f"  {rows[-1]}", flush=True)

    for n in sizes:
        full = ratings(rng, n, 5, 5, 0.0)
        sparse = ratings(rng, n, 5, 5, 0.1)
        compare("Cohen's kappa (2 raters)", n, cohen_kappa, cohen_kappa_score,
                full[:, 0], full[:, 1])
        compare("Fleiss' kappa (5 raters)", n, fleiss_kappa,
                lambda r: sm_fleiss(aggregate_raters(r)[0]), full)
        for level in ("nominal", "interval"):
            compare(f"Krippendorff's alpha, {level}, 10% missing", n,
                    lambda r, lv=level: krippendorff_alpha(r, level=lv),
                    lambda r, lv=level: krippendorff.alpha(r.T, level_of_measurement=lv), sparse)
    for n in many_sizes:
        compare("Krippendorff's alpha, nominal, 50 labels", n, krippendorff_alpha,
                lambda r: krippendorff.alpha(r.T, level_of_measurement="nominal"),
                ratings(rng, n, 5, 50, 0.1))
    return rows


# -- 2. Dawid-Skene vs crowd-kit -------------------------------------------------------------------
def simulated_crowd(rng: np.random.Generator, n_items: int, n_workers: int = 50, v: int = 3,
                    per_item: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    """Workers with known confusion matrices (accuracy 0.35-0.95 on the diagonal)."""
    truth = rng.integers(0, v, n_items)
    acc = rng.uniform(0.35, 0.95, n_workers)
    off = rng.dirichlet(np.ones(v), size=(n_workers, v)) * (1 - acc)[:, None, None]
    conf = off + np.eye(v)[None] * acc[:, None, None]
    conf /= conf.sum(axis=2, keepdims=True)  # rows: true label -> P(given label)
    items = np.repeat(np.arange(n_items), per_item)
    workers = np.argsort(rng.random((n_items, n_workers)), axis=1)[:, :per_item].ravel()
    cum = np.cumsum(conf[workers, truth[items]], axis=1)
    given = (rng.random(items.size)[:, None] > cum).sum(axis=1).clip(max=v - 1)
    df = pd.DataFrame({"item": items, "annotator": workers, "label": given})
    return df, truth


def dawid_skene_rows(sizes: list[int]) -> list[list[str]]:
    from crowdkit.aggregation import DawidSkene

    rng = np.random.default_rng(1)
    rows = []
    for n in sizes:
        df, truth = simulated_crowd(rng, n)
        ck_df = df.rename(columns={"item": "task", "annotator": "worker"})
        t_ours, ours = best_time(lambda df=df: dawid_skene(df, n_iter=100), 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # crowd-kit's pandas deprecation warnings
            t_ref, ref = best_time(lambda ck_df=ck_df: DawidSkene(n_iter=100).fit(ck_df), 1)
        theirs = ref.labels_.sort_index()
        same = bool((theirs.values == ours.labels.values).all())
        rows.append([f"{n:,}", f"{len(df):,}", fmt_s(t_ours), fmt_s(t_ref),
                     f"{t_ref / t_ours:.1f}x", "yes" if same else "no",
                     f"{ours.n_iter} / {len(ref.loss_history_)}",
                     f"{(ours.labels.values == truth).mean():.2%}",
                     f"{(majority_vote(df)['label'].values == truth).mean():.2%}"])
        print(f"  {rows[-1]}", flush=True)
    return rows


# -- 3. Snow et al. (2008) ------------------------------------------------------------------------
def snow_rows() -> list[list[str]] | None:
    folder = DATASETS / "snow2008"
    rows = []
    for name in ("RTE", "TEMP"):
        path = folder / f"{name.lower()}.standardized.tsv"
        if not path.exists():
            print(f"  skipped {name}: {path} is absent (set HITL_DATASETS to the data sets)")
            continue
        raw = pd.read_csv(path, sep="\t", dtype=str)
        df = raw.rename(columns={"orig_id": "item", "!amt_worker_ids": "annotator",
                                 "response": "label"})[["item", "annotator", "label"]]
        gold = raw.drop_duplicates("orig_id").set_index("orig_id")["gold"]
        t_mv, vote = best_time(lambda df=df: majority_vote(df), 3)
        t_ds, ds = best_time(lambda df=df: dawid_skene(df), 3)
        tied = (vote["confidence"] == 0.5).to_numpy() if df["label"].nunique() == 2 else \
            np.zeros(len(vote), bool)
        right = (vote["label"] == gold.reindex(vote.index)).to_numpy()
        acc_mv = right.mean() * 100
        # With ties broken at random instead, half of the tied items are right on average.
        acc_random = (right[~tied].sum() + tied.sum() / 2) / len(right) * 100
        acc_ds = (ds.labels == gold.reindex(ds.labels.index)).mean() * 100
        pub = PUBLISHED[name]
        rows.append([name, f"{len(gold):,} items, {df['annotator'].nunique()} workers, "
                     f"{len(df):,} labels", f"{acc_mv:.2f} % ({acc_random:.2f} % with {tied.sum()} ties at random)",
                     f"{pub['majority']} %" if pub["majority"] else "-", f"{acc_ds:.2f} %",
                     f"{pub['dawid_skene']} %" if pub["dawid_skene"] else "-",
                     f"{fmt_s(t_mv)} / {fmt_s(t_ds)}"])
        print(f"  {rows[-1]}", flush=True)
    return rows or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k/10k items only (~6 s)")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [1_000, 100_000, 1_000_000]
    many = [1_000] if args.quick else [1_000, 10_000]
    ds_sizes = [10_000] if args.quick else [10_000, 100_000]

    print("Agreement ...", flush=True)
    agree = agreement_rows(sizes, many)
    print("Dawid-Skene ...", flush=True)
    ds = dawid_skene_rows(ds_sizes)
    print("Snow et al. (2008) ...", flush=True)
    snow = snow_rows()

    print("\n### Agreement (ours vs the reference)\n")
    print(table(["statistic", "items", "hitl_widgets", "reference", "speed-up", "|diff|"],
                agree))
    print("\nReferences: scikit-learn `cohen_kappa_score`; statsmodels `aggregate_raters` + "
          "`fleiss_kappa`; `krippendorff.alpha`.")
    print("\n### Dawid-Skene vs crowd-kit `DawidSkene(n_iter=100)`\n")
    print(table(["items", "labels", "hitl_widgets", "crowd-kit", "speed-up", "same labels",
                 "EM iterations (ours / theirs)", "accuracy (DS)", "accuracy (majority)"], ds))
    if snow:
        print("\n### Snow et al. (2008): accuracy against the expert labels\n")
        print(table(["data set", "size", "majority vote", "published majority", "Dawid-Skene",
                     "published Dawid-Skene", "time (majority / DS)"], snow))
        print("\nMajority ties go to the smallest label (\"0\" on RTE, \"1\" on TEMP).")
    else:
        print("\nSnow et al. (2008): skipped, the data set is absent.")


if __name__ == "__main__":
    main()
