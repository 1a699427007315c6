"""Query latency of active learning: modAL beside the live loop, one process, same pool and model.

The pool is random data from a seeded generator (10k / 100k / 1M rows x 128 float32 features,
four classes from a hidden linear rule); the model is one LogisticRegression fitted by modAL's
own ``ActiveLearner`` on 300 labeled rows. For each size a real project file holds the pool as
items (the 300 labeled rows first, labeled in it by "ana"), and ``hw.ActiveLearning`` runs on it
with that model class and those features: the code a user runs.

Measured, median of several repetitions:

- **modAL query**: ``learner.query(pool, n_instances=b)`` with ``margin_sampling``: modAL's
  strategy runs ``predict_proba`` over the whole pool on every query.
- **ours between retrains**: ``ActiveLearning.next_ids(project, "ana", set(), b)``, what the
  Labeler asks the queue for on a keypress, after the annotator labeled the first 1,000 items
  the model ranked (they are skipped, as in real use). It reads the order kept since the
  retrain; no model call, no ranking.
- **ours after a retrain** (in the background thread): ``PoolScorer.rescore(model, pool,
  exclude=labeled)`` as ``ActiveLearning`` calls it, with modAL's fitted model: scoring the pool
  plus putting it in asking order (``asking_order``, the one ranking policy), against a bare
  ``predict_proba(pool)``; and the ordering step alone.
- **same ranking**: on the same model, the first ``b`` items of our asking order equal modAL's
  chosen set for margin and least confidence (``uncertainty_sampling``), checked where the
  batch edge has no tie.

Run ``.venv/bin/python benchmarks/active_learning.py`` (about 4 minutes, most of it adding 1M
items to the project file; 2.5 GB of memory at 1M rows) or ``--quick`` (10k and 100k rows).
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from modAL.uncertainty import classifier_margin, margin_sampling, uncertainty_sampling
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _modal_compat import PATCHED, ActiveLearner  # noqa: E402

from hitl_widgets.core.active import (  # noqa: E402
    ActiveLearning,  # noqa: E402
    PoolScorer,
    asking_order,
)
from hitl_widgets.core.project import Project  # noqa: E402

N_FEATURES, N_CLASSES, N_LABELED, N_RECENT = 128, 4, 300, 1000
LABELS = [str(c) for c in range(N_CLASSES)]
BATCHES = (1, 10, 100)


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def paired_ms(first, second, repeat: int) -> tuple[float, float]:
    """Medians of two functions timed alternately, so a busy spell of the machine falls on
    both rather than on one."""
    a, b = [], []
    for _ in range(repeat):
        for fn, out in ((first, a), (second, b)):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(a) * 1e3, statistics.median(b) * 1e3


def make_data(max_rows: int, seed: int = 0):
    """Generated data: a hidden linear rule with noise decides each row's class."""
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((N_FEATURES, N_CLASSES)).astype(np.float32)
    pool = rng.standard_normal((max_rows, N_FEATURES), dtype=np.float32)
    X_lab = rng.standard_normal((N_LABELED, N_FEATURES), dtype=np.float32)
    noise = rng.gumbel(size=(N_LABELED, N_CLASSES)) * 4
    y_lab = (X_lab @ weights + noise).argmax(axis=1)
    return pool, X_lab, y_lab


def same_set(ours: np.ndarray, theirs: np.ndarray, scores: np.ndarray, kept: np.ndarray,
             b: int) -> str:
    """'yes' / 'no', or 'tie' when the b-th and (b+1)-th best scores are equal, by modAL's
    ``scores`` or by our ``kept`` ones (any set of the tied items is then right). Ours must
    also come best first by modAL's scores, except within our ties: margins of float32
    probabilities closer than float32 resolves are equal scores for us, in the seeded tie order."""
    for values in (scores, kept):
        edge = np.sort(values)[::-1][b - 1:b + 1]
        if len(edge) == 2 and edge[0] == edge[1]:
            return "tie"
    steps = np.diff(scores[ours])
    ordered = bool(np.all((steps <= 0) | (np.diff(kept[ours]) == 0)))
    return "yes" if set(ours.tolist()) == set(np.asarray(theirs).tolist()) and ordered else "no"


def live_loop(X: np.ndarray, y_lab: np.ndarray, tmp: str):
    """A project holding the pool as items, the first N_LABELED labeled, a landed model, and
    the first N_RECENT items it ranked labeled since: the live loop between two retrains."""
    ids = [f"r{k}" for k in range(len(X))]
    project = Project(Path(tmp) / f"pool{len(X)}.hitl", labels=LABELS)
    project.add_items([f"row {k}" for k in range(len(X))], id=ids)
    al = ActiveLearning(project, model=LogisticRegression(max_iter=1000), features=X,
                        retrain_every=10**9, seed=0, test=(X[:50], y_lab[:50]))
    for k, label in enumerate(y_lab):
        project.annotate(ids[k], LABELS[label], annotator="ana")
    al.retrain(wait=True)
    if al.status()["error"]:
        raise RuntimeError(al.status()["error"])
    for item_id in al.next_ids(project, "ana", set(), N_RECENT):
        project.annotate(item_id, LABELS[0], annotator="ana")
    return project, al


def run_size(pool, X_lab, y_lab, learner, model, n_rows: int, repeat: int) -> list[dict]:
    # The labeled rows are the first items of the pool, as in a project that labeled them.
    X = np.concatenate([X_lab, pool[:n_rows - N_LABELED]])
    labeled = np.arange(N_LABELED)
    # Small pools are quick to time and their figures the noisiest: give them more runs.
    repeat *= 5 if n_rows <= 10_000 else 2 if n_rows <= 100_000 else 1
    margin_scorer = PoolScorer("margin", seed=0)  # the settings ActiveLearning's defaults give
    bare, rescore = paired_ms(lambda: model.predict_proba(X),
                              lambda: margin_scorer.rescore(model, X, exclude=labeled), repeat)
    scores = margin_scorer.scores
    order_ms = median_ms(lambda: asking_order(scores, np.random.default_rng(0)), repeat)
    lc_scorer = PoolScorer("least_confidence", seed=0).rescore(model, X)
    proba = model.predict_proba(X)
    modal_margin = classifier_margin(model, X)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        project, al = live_loop(X, y_lab, tmp)
        print(f"  {n_rows:>9,} x {N_FEATURES}  project built and {N_LABELED} + {N_RECENT} "
              f"labeled in {time.perf_counter() - start:.0f} s", flush=True)
        rows = []
        try:
            for b in BATCHES:
                modal = median_ms(lambda b=b: learner.query(X, n_instances=b), repeat)
                ours = median_ms(lambda b=b: al.next_ids(project, "ana", set(), b), 7 * repeat)
                checks = [
                    same_set(margin_scorer.next(b), learner.query(X, n_instances=b)[0],
                             -modal_margin, margin_scorer.scores, b),
                    same_set(lc_scorer.next(b), uncertainty_sampling(model, X, n_instances=b)[0],
                             -proba.max(axis=1), lc_scorer.scores, b),
                ]
                rows.append({"rows": n_rows, "batch": b, "modal": modal, "next": ours,
                             "bare": bare, "rescore": rescore, "order": order_ms,
                             "same": "/".join(checks)})
                print(f"  {n_rows:>9,} x {N_FEATURES}  batch {b:>3}: modAL {modal:8.2f} ms, "
                      f"ours next_ids {ours:6.3f} ms, same ranking (margin/least conf.) "
                      f"{'/'.join(checks)}", flush=True)
        finally:
            al.close()
            project.close()
    print(f"  {n_rows:>9,} x {N_FEATURES}  rescore + order {rescore:.1f} ms (order alone "
          f"{order_ms:.1f} ms) vs bare predict_proba {bare:.1f} ms ({rescore / bare:.2f}x)",
          flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| pool (rows × 128 float32) | batch | modAL query (ms) | ours between retrains (ms) "
        "| modAL / ours | ours after a retrain (ms) | of which ordering (ms) "
        "| bare predict_proba (ms) | after a retrain / bare | same ranking (margin / least conf.) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['rows']:,} | {r['batch']} | {r['modal']:.1f} | {r['next']:.4f} "
            f"| {r['modal'] / r['next']:,.0f}× | {r['rescore']:.1f} | {r['order']:.1f} "
            f"| {r['bare']:.1f} | {r['rescore'] / r['bare']:.2f}× | {r['same']} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k rows only")
    parser.add_argument("--repeat", type=int, default=None,
                        help="repetitions per figure (default 5, --quick 3)")
    args = parser.parse_args(argv)
    sizes = (10_000, 100_000) if args.quick else (10_000, 100_000, 1_000_000)
    repeat = args.repeat or (3 if args.quick else 5)
    pool, X_lab, y_lab = make_data(max(sizes))
    # modAL fits the model on the labeled rows (this needs the check_X_y shim on new
    # scikit-learn); ours scores that same fitted object.
    learner = ActiveLearner(LogisticRegression(max_iter=1000), query_strategy=margin_sampling,
                            X_training=X_lab, y_training=y_lab)
    model = learner.estimator
    print(f"modAL check_X_y shim {'applied' if PATCHED else 'not needed'}; "
          f"{N_CLASSES} classes, {N_LABELED} labeled rows; median of {repeat} runs at 1M, "
          f"x2 at 100k, x5 at 10k (x7 for ours next)")
    rows = []
    for n_rows in sizes:
        rows += run_size(pool, X_lab, y_lab, learner, model, n_rows, repeat)
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
