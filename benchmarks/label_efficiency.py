"""Label efficiency on scikit-learn's digits: how many labels each strategy needs.

The loop of ``hw.simulate`` with an oracle: a fixed, seeded, stratified test split (30 %), the
rest is the pool; start from 10 random labels, add 10 per round up to 300, 5 seeds,
LogisticRegression. Strategies: random, least confidence, margin, entropy, and the diversity
batch (margin scores, k-center greedy on the pixels). Prints, as markdown, accuracy at
50 / 100 / 200 / 300 labels (mean ± half-width of the 95 % t-interval over seeds) and, for
each uncertainty strategy, the labels needed to reach random sampling's 300-label accuracy
(target: at most 60 % of the 300).

``--png docs/learning_curve.png`` also writes the figure: plotly renders it to a
self-contained HTML page (plotly.js inline, nothing fetched) and the system Chromium
screenshots it through Playwright.

Run ``.venv/bin/python benchmarks/label_efficiency.py`` (``--help`` for options); about half a
minute on two idle cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import hitl_widgets as hw
from hitl_widgets.core.active import DEFAULT_STRATEGIES

STRATEGIES = list(DEFAULT_STRATEGIES)  # every strategy but BALD (it needs a torch model)
CHECKPOINTS = [50, 100, 200, 300]
CHROMIUM = "/usr/bin/chromium"


def digits_split(features: str, test_size: float, seed: int):
    """(X_pool, y_pool, X_test, y_test); pixels as they come (0-16), in [0, 1], or standardized
    inside the model (so the scaler is fitted on the labelled rows only)."""
    X, y = load_digits(return_X_y=True)
    if features == "unit":
        X = X / 16.0
    X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=test_size,
                                                      random_state=seed, stratify=y)
    return X_pool, y_pool, X_test, y_test


def make_model(features: str, C: float):
    model = LogisticRegression(C=C, max_iter=2000)
    return make_pipeline(StandardScaler(), model) if features == "standard" else model


def accuracy_table(result, checkpoints) -> str:
    s = result.summary[result.summary.n_labels.isin(checkpoints)]
    lines = ["| strategy | " + " | ".join(f"{n} labels" for n in checkpoints) + " |",
             "|---|" + "---:|" * len(checkpoints)]
    for strategy in STRATEGIES:
        rows = s[s.strategy == strategy].set_index("n_labels")
        if rows.empty:
            continue
        cells = [f"{rows.at[n, 'mean']:.3f} ± {rows.at[n, 'ci_high'] - rows.at[n, 'mean']:.3f}"
                 for n in checkpoints if n in rows.index]
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def reach_table(result, budget: int) -> str:
    reach = result.labels_to_reach()  # target: random sampling's mean accuracy at the budget
    target = reach.target.iloc[0]
    lines = [f"Labels to reach random sampling's {budget}-label accuracy ({target:.3f}); "
             "mean over seeds of each seed's first round at or above it:", "",
             "| strategy | labels | share of budget | seeds reaching it | on the mean curve |",
             "|---|---:|---:|---:|---:|"]
    for r in reach[reach.strategy != "random"].itertuples():
        labels = "not reached by every seed" if np.isnan(r.labels) else f"{r.labels:.0f}"
        share = "" if np.isnan(r.labels) else f"{r.share_of_budget:.0%}"
        mean_curve = "—" if np.isnan(r.labels_mean_curve) else f"{r.labels_mean_curve:.0f}"
        lines.append(f"| {r.strategy} | {labels} | {share} | {r.seeds_reached}/{r.seeds} | "
                     f"{mean_curve} |")
    return "\n".join(lines)


def render_png(fig, path: Path, width: int = 900, height: int = 500) -> None:
    """Screenshot ``fig`` with the system Chromium (no kaleido, nothing downloaded)."""
    from playwright.sync_api import sync_playwright

    fig = fig.update_layout(width=width, height=height)
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "figure.html"
        fig.write_html(page_file, include_plotlyjs=True, full_html=True,
                       config={"displayModeBar": False})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM)
            try:
                page = browser.new_page(viewport={"width": width + 20, "height": height + 20},
                                        device_scale_factor=2)
                page.goto(page_file.as_uri())
                page.wait_for_selector(".main-svg")
                page.locator(".plotly-graph-div").screenshot(path=str(path))
            finally:
                browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=300)
    ap.add_argument("--initial", type=int, default=10)
    ap.add_argument("--step", type=int, default=10)
    ap.add_argument("--test-size", type=float, default=0.3)
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--features", choices=["unit", "raw", "standard"], default="unit",
                    help="pixels / 16 (default), raw 0-16, or standardized in the model")
    ap.add_argument("--C", type=float, default=1.0, help="LogisticRegression's C")
    ap.add_argument("--n-jobs", type=int, default=None, help="worker processes (default: one)")
    ap.add_argument("--png", type=Path, default=None, help="also write the figure here")
    args = ap.parse_args()

    X, y, X_test, y_test = digits_split(args.features, args.test_size, args.split_seed)
    model = make_model(args.features, args.C)
    start = time.perf_counter()
    result = hw.simulate(X, y, model=model, strategies=STRATEGIES, seeds=args.seeds,
                         budget=args.budget, initial=args.initial, step=args.step,
                         test=(X_test, y_test), n_jobs=args.n_jobs)
    elapsed = time.perf_counter() - start
    fits = len(result.curves)

    print(f"digits: pool {len(y)}, test {len(y_test)} (seed {args.split_seed}); features "
          f"{args.features}; {model!r}")
    print(f"{len(STRATEGIES)} strategies x {args.seeds} seeds, {args.initial} + {args.step}/round "
          f"to {args.budget}: {fits} fits in {elapsed:.1f} s (n_jobs={args.n_jobs})\n")
    print("Test accuracy (mean ± 95 % CI half-width over seeds):\n")
    print(accuracy_table(result, [n for n in CHECKPOINTS if n <= args.budget]))
    print()
    print(reach_table(result, args.budget))
    for note in result.notes:
        print(f"\nnote: {note}")
    if args.png:
        target = result.labels_to_reach().target.iloc[0]
        fig = result.figure.update_layout(
            title=f"Digits, LogisticRegression: accuracy vs labels (mean ± 95 % CI, "
                  f"{args.seeds} seeds)")
        fig.add_hline(y=target, line=dict(color="#7f7f7f", dash="dot", width=1),
                      annotation_text=f"random at {args.budget}",
                      annotation_position="bottom right")
        render_png(fig, args.png)
        print(f"\nwrote {args.png}")


if __name__ == "__main__":
    main()
