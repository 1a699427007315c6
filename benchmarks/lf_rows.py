"""Row-wise Snorkel LFs on real SMS messages: Snorkel's PandasLFApplier vs apply_lfs, one process.

The SMS Spam Collection (``hitl_widgets.datasets.sms_spam``, 4,862 real messages) repeated to
each size; six ``@labeling_function``s written as in Snorkel's tutorials (attribute and item
access, ``x.get``, ``x.name``). Both appliers run on the same frame; the L matrices are checked
identical and the speed-up (Snorkel time / ours) printed.

Usage: ``.venv/bin/python benchmarks/lf_rows.py [--sizes 100000 1000000]``
"""

from __future__ import annotations

import argparse
import re
import time
import warnings

import numpy as np
import pandas as pd
from snorkel.labeling import PandasLFApplier, labeling_function

from hitl_widgets.core.weak import apply_lfs
from hitl_widgets.datasets import sms_spam


@labeling_function()
def kw_free(x):
    return 1 if "free" in x.text.lower() else -1


@labeling_function()
def kw_call(x):
    return 1 if "call" in x["text"].lower() else -1


@labeling_function()
def re_money(x):
    return 1 if re.search(r"£\d+|\$\d+|\d{5,}", x.text) else -1


@labeling_function()
def short(x):
    return 0 if len(x.text.split()) < 5 else -1


@labeling_function()
def caps(x):
    return 1 if sum(c.isupper() for c in x.get("text", "")) > 10 else -1


@labeling_function()
def first_of_ten(x):
    return 0 if x.name % 10 == 0 and x.sms_id.startswith("sms") else -1


LFS = [kw_free, kw_call, re_money, short, caps, first_of_ten]


def frame(n: int) -> pd.DataFrame:
    base = sms_spam()
    return pd.concat([base] * -(-n // len(base)), ignore_index=True).head(n)


def timed(f, *args, **kwargs):
    start = time.perf_counter()
    out = f(*args, **kwargs)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    rows = []
    for n in args.sizes:
        df = frame(n)
        t_snorkel, L_snorkel = timed(PandasLFApplier(LFS).apply, df, progress_bar=False)
        t_ours, L = timed(apply_lfs, df, LFS)
        rows.append(dict(rows=n, lfs=len(LFS), snorkel_s=t_snorkel, ours_s=t_ours,
                         ratio=t_snorkel / t_ours, identical=bool(np.array_equal(L, L_snorkel))))
        print(pd.DataFrame(rows[-1:]).to_string(index=False, float_format=lambda v: f"{v:.3g}"),
              flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
