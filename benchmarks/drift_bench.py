"""Drift checks on many features: ours beside a plain loop over scipy (issue 13).

Generated data (clearly synthetic): a reference of R rows x F numeric features (normal,
exponential and uniform columns in turn) and W-row windows, one of them with a shift in a
tenth of the features. Per window, each side computes the same numbers for every feature: the
two-sample KS test and the Wasserstein distance. The plain loop calls ``scipy.stats.ks_2samp``
and ``wasserstein_distance`` per feature; ours is ``Reference(ref).compare(window)`` (the
reference sorted once, as a ``DriftMonitor`` keeps it; its table adds the PSI and a
Benjamini-Hochberg correction), and the one-off ``compare(ref, window)``. Both sides' statistics
are checked equal before anything is timed.

Run ``python benchmarks/drift_bench.py --rows 1000000 --features 100``; with
``--false-alarms 150`` it instead measures how often a ``DriftMonitor`` raises an alert on a
stream without drift (that many seeds, 10 checks of 10 features each).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy import stats

from hitl_widgets.core.drift import Reference, compare


def data(rows: int, features: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = {}
    for k in range(features):
        kind = k % 3
        values = (rng.normal(size=rows) if kind == 0 else rng.exponential(size=rows)
                  if kind == 1 else rng.uniform(size=rows))
        if shift and k % 10 == 0:
            values = values + shift
        columns[f"f{k}"] = values
    return pd.DataFrame(columns)


def plain_loop(ref: pd.DataFrame, window: pd.DataFrame) -> list[tuple[float, float, float]]:
    out = []
    for name in ref.columns:
        a, b = ref[name].to_numpy(), window[name].to_numpy()
        ks = stats.ks_2samp(a, b)
        out.append((ks.statistic, ks.pvalue, stats.wasserstein_distance(a, b)))
    return out


def false_alarms(seeds: int, alpha: float = 0.05) -> None:
    from statsmodels.stats.proportion import proportion_confint

    from hitl_widgets.core.drift import DriftMonitor

    alerts = checks = 0
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        columns = [str(k) for k in range(10)]
        monitor = DriftMonitor(pd.DataFrame(rng.normal(size=(1000, 10)), columns=columns),
                               window=300, alpha=alpha)
        alerts += len(monitor.update(pd.DataFrame(rng.normal(size=(3000, 10)), columns=columns)))
        checks += len(monitor.history) // 10
    low, high = proportion_confint(alerts, checks, alpha=0.05, method="wilson")
    print(f"no drift, {seeds} seeds: {alerts} alerts in {checks} checks = {alerts / checks:.3f} "
          f"(95% Wilson interval {low:.3f}-{high:.3f}); chosen rate {alpha}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="reference rows")
    parser.add_argument("--window", type=int, default=None, help="window rows (default: rows)")
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--false-alarms", type=int, default=0, metavar="SEEDS")
    args = parser.parse_args()
    if args.false_alarms:
        false_alarms(args.false_alarms)
        return
    window_rows = args.window or args.rows
    ref = data(args.rows, args.features, 0)
    windows = [data(window_rows, args.features, 1 + k, shift=0.05 if k == args.windows - 1 else 0)
               for k in range(args.windows)]

    # Equal numbers first (on the first window).
    want = plain_loop(ref, windows[0])
    got = Reference(ref).compare(windows[0], correction="none")
    assert np.array_equal(got["statistic"].to_numpy(), [w[0] for w in want])
    assert np.array_equal(got["p_value"].to_numpy(), [w[1] for w in want])
    assert np.allclose(got["wasserstein"].to_numpy(), [w[2] for w in want], rtol=1e-12, atol=0)

    timings = {}
    start = time.perf_counter()
    for window in windows:
        plain_loop(ref, window)
    timings["plain scipy loop"] = (time.perf_counter() - start) / len(windows)
    start = time.perf_counter()
    for window in windows:
        compare(ref, window)
    timings["compare() (one-off)"] = (time.perf_counter() - start) / len(windows)
    start = time.perf_counter()
    base = Reference(ref)
    prepared = time.perf_counter() - start
    start = time.perf_counter()
    flagged = [base.compare(window)["drifted"].sum() for window in windows]
    timings["Reference.compare() (monitor)"] = (time.perf_counter() - start) / len(windows)

    print(f"{args.features} features, reference {args.rows:,} rows, windows of {window_rows:,} "
          f"rows; seconds per window (mean of {len(windows)}):")
    baseline = timings["plain scipy loop"]
    for name, seconds in timings.items():
        print(f"  {name:<32} {seconds:8.2f} s   {baseline / seconds:5.2f}x the plain loop")
    print(f"  preparing the reference once: {prepared:.2f} s; features flagged per window: "
          f"{flagged} (the last window has {args.features // 10} shifted)")


if __name__ == "__main__":
    main()
