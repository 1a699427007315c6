"""Weak supervision, Snorkel and hitl_widgets side by side on GENERATED comments.

For 10k / 100k / 1M rows of generated text (random words from a small vocabulary, clearly not
real data) and 10 LFs (5 keyword, 2 regex, 3 threshold), in one run:

- apply: Snorkel's ``PandasLFApplier`` with row-wise ``@labeling_function`` LFs vs
  ``apply_lfs`` with the equivalent vectorised LFs (and the row-wise LFs through ``apply_lfs`` on
  1 and 2 processes at 100k, to show what the second core buys);
- analysis with gold: ``LFAnalysis(L, lfs).lf_summary(Y)`` vs ``lf_summary(L, lfs, Y)``;
- majority vote: ``MajorityLabelVoter().predict(L)`` vs ``majority_vote(L, 2)``;
- re-applying after editing one LF at 1M rows, with the cache warm.

Outputs are checked identical wherever both sides ran. Snorkel's row-wise apply and its majority
vote (a Python loop over rows) take minutes at 1M rows: by default both are extrapolated from their
100k per-row rates (and printed as such); pass ``--full`` to measure them.

Usage: ``.venv/bin/python benchmarks/weak_supervision.py [--full] [--sizes 10000 100000]``
"""

from __future__ import annotations

import argparse
import re
import time
import warnings

import numpy as np
import pandas as pd

from hitl_widgets.core.weak import (
    LFCache,
    apply_lfs,
    keyword_lf,
    lf_summary,
    majority_vote,
    regex_lf,
    threshold_lf,
)

VOCAB = ("check out my channel please subscribe song love great video http www com free "
         "win money click here best music ever like this amazing watch new views lol").split()


def generate(n: int, seed: int = 0) -> pd.DataFrame:
    """GENERATED data: n comments of 1-15 random words, likes, replies and a gold label."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 16, n)
    words = np.array(VOCAB)[rng.integers(0, len(VOCAB), lengths.sum())]
    ends = np.cumsum(lengths)
    text = [" ".join(words[e - k:e]) for e, k in zip(ends, lengths, strict=True)]
    text = pd.Series(text, dtype="str")
    return pd.DataFrame({
        "text": text,
        "n_words": lengths,
        "likes": rng.integers(0, 500, n),
        "replies": rng.integers(0, 50, n),
        "gold": rng.integers(0, 2, n),
    })


SPEC = [  # (name, kind, argument, label); one table builds both sides' LFs
    ("kw_my", "keyword", "my", 1),
    ("kw_subscribe", "keyword", "subscribe", 1),
    ("kw_http", "keyword", "http", 1),
    ("kw_please", "keyword", "please", 1),
    ("kw_song", "keyword", "song", 0),
    ("re_check_out", "regex", r"check.*out", 1),
    ("re_free_money", "regex", r"free\s+money", 1),
    ("th_short", "threshold", ("n_words", "<", 5), 0),
    ("th_liked", "threshold", ("likes", ">=", 450), 0),
    ("th_replies", "threshold", ("replies", ">", 45), 1),
]
OPS = {"<": lambda a, b: a < b, ">=": lambda a, b: a >= b, ">": lambda a, b: a > b}


def ours(spec=SPEC) -> list:
    lfs = []
    for name, kind, arg, label in spec:
        if kind == "keyword":
            lfs.append(keyword_lf(name, [arg], label))
        elif kind == "regex":
            lfs.append(regex_lf(name, arg, label, flags=re.I))
        else:
            lfs.append(threshold_lf(name, arg[0], arg[1], arg[2], label))
    return lfs


def snorkels(spec=SPEC) -> list:
    from snorkel.labeling import LabelingFunction

    def make(kind, arg, label):  # the Snorkel tutorial's idioms, one row at a time
        if kind == "keyword":
            return lambda x: label if arg in x.text.lower() else -1
        if kind == "regex":
            return lambda x: label if re.search(arg, x.text, flags=re.I) else -1
        column, op, value = arg
        return lambda x: label if OPS[op](x[column], value) else -1

    return [LabelingFunction(name, make(kind, arg, label)) for name, kind, arg, label in spec]


def timed(f, *args, repeat: int = 1, **kwargs):
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = f(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, out


def snorkel_apply(df, lfs):
    from snorkel.labeling import PandasLFApplier

    return PandasLFApplier(lfs).apply(df, progress_bar=False)


def snorkel_summary(L, lfs, Y):
    from snorkel.labeling import LFAnalysis

    return LFAnalysis(L, lfs).lf_summary(Y)


def snorkel_vote(L):
    from snorkel.labeling.model import MajorityLabelVoter

    return MajorityLabelVoter(cardinality=2).predict(L, tie_break_policy="abstain")


def same_summary(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return all(
        [list(x) for x in a[c]] == [list(x) for x in b[c]] if c == "Polarity"
        else np.array_equal(a[c].to_numpy(), b[c].to_numpy()) for c in b.columns)


def run_size(n: int, full: bool, rate: dict) -> list[dict]:
    df = generate(n)
    data = df.drop(columns="gold")
    Y = df["gold"].to_numpy()
    lfs, slfs = ours(), snorkels()
    rows = []
    t_ours, L = timed(apply_lfs, data, lfs, repeat=3 if n < 1_000_000 else 1)
    if n <= 100_000 or full:
        t_snorkel, L_s = timed(snorkel_apply, data, slfs)
        rate["per_row"] = t_snorkel / n
        same, note = bool(np.array_equal(L, L_s)), "measured"
    else:
        t_snorkel, same, note = rate["per_row"] * n, "n/a", "EXTRAPOLATED from 100k per-row rate"
    rows.append(dict(n=n, step="apply (10 LFs)", snorkel_s=t_snorkel, ours_s=t_ours,
                     identical=same, note=note))
    t_s, s_sum = timed(snorkel_summary, L, slfs, Y)
    t_o, o_sum = timed(lf_summary, L, lfs, Y, repeat=3)
    rows.append(dict(n=n, step="lf_summary with gold", snorkel_s=t_s, ours_s=t_o,
                     identical=same_summary(o_sum, s_sum), note="measured"))
    t_o, o_mv = timed(majority_vote, L, 2, repeat=3)
    if n <= 100_000 or full:
        t_s, s_mv = timed(snorkel_vote, L)
        rate["vote_per_row"] = t_s / n
        same, note = bool(np.array_equal(s_mv, o_mv)), "measured"
    else:  # Snorkel's vote loops in Python over rows: about 8 minutes at 1M
        t_s, same = rate["vote_per_row"] * n, "n/a"
        note = "EXTRAPOLATED from 100k per-row rate"
    rows.append(dict(n=n, step="majority vote", snorkel_s=t_s, ours_s=t_o, identical=same,
                     note=note))
    return rows


def parallel_rows(n: int = 100_000) -> list[dict]:
    """Row-wise (Snorkel) LFs through apply_lfs on one and on two processes."""
    data = generate(n).drop(columns="gold")
    slfs = snorkels()
    t1, L1 = timed(apply_lfs, data, slfs, n_jobs=1)
    t2, L2 = timed(apply_lfs, data, slfs, n_jobs=2)
    return [dict(n=n, step="row-wise LFs, 1 -> 2 processes", snorkel_s=t1, ours_s=t2,
                 identical=bool(np.array_equal(L1, L2)), note="both ours; 'snorkel_s' = 1 process")]


def _edited(keyword: str) -> list:
    return ours([*SPEC[:4], ("kw_song", "keyword", keyword, 0), *SPEC[5:]])


def edit_one(n: int = 1_000_000) -> list[dict]:
    """Warm cache, then one keyword LF edited: only it re-runs (plus hashing the frame)."""
    data = generate(n).drop(columns="gold")
    cache = LFCache()
    t_cold, _ = timed(apply_lfs, data, ours(), cache=cache)
    t_edit, (_, report) = timed(apply_lfs, data, _edited("music"), cache=cache,
                                return_report=True)
    apply_lfs(data, ours(), cache=cache, data_version="v1")  # warm the caller-given version
    t_given, _ = timed(apply_lfs, data, _edited("music"), cache=cache, data_version="v1")
    t_given, _ = timed(apply_lfs, data, _edited("love"), cache=cache, data_version="v1")
    note = "'snorkel_s' = our cold apply of all 10 LFs"
    return [dict(n=n, step=f"re-apply, {report.ran} edited (frame hashed)", snorkel_s=t_cold,
                 ours_s=t_edit, identical="n/a", note=note),
            dict(n=n, step="re-apply, one LF edited (data_version given)", snorkel_s=t_cold,
                 ours_s=t_given, identical="n/a", note=note)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="measure Snorkel's apply at 1M too")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)  # scipy, inside Snorkel
    import snorkel.labeling.model  # noqa: F401 - imports torch: not in any timing below

    print("GENERATED data (random words), 10 LFs: 5 keyword, 2 regex, 3 threshold.")
    rate: dict = {}
    rows = []
    for n in sorted(args.sizes):
        if n > 100_000 and "per_row" not in rate and not args.full:  # sizes without 100k
            small = generate(10_000)
            rate["per_row"] = timed(snorkel_apply, small.drop(columns="gold"),
                                    snorkels())[0] / 10_000
            rate["vote_per_row"] = timed(snorkel_vote, apply_lfs(small, ours()))[0] / 10_000
        rows += run_size(n, args.full, rate)
        print(pd.DataFrame(rows[-3:]).to_string(index=False), flush=True)
    rows += parallel_rows(min(100_000, max(args.sizes)))
    rows += edit_one(max(args.sizes))
    table = pd.DataFrame(rows)
    table["ratio"] = table["snorkel_s"] / table["ours_s"]
    pd.set_option("display.width", 200)
    pd.set_option("display.max_colwidth", 60)
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
