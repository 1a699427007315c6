"""Span agreement beside seqeval and nervaluate, on the same data in one process.

Data: ``--items`` generated sentences (default 10,000) of 12-30 whitespace tokens, each with
0-4 gold entities (PER, ORG, LOC, MISC) of 1-3 tokens; three annotators copy each entity with
noise (10 % dropped, 10 % a boundary moved by one token, 5 % another label) and add a spurious
entity to 5 % of items. Spans never overlap within an annotator, so the references apply.
Seeded.

Timed (best of ``--repeat``; the references once at 10k items, they take seconds):

- ``span_f1(spans, n_boot=0)``: every pair x label x {exact, partial}; and with ``n_boot=1000``;
- seqeval ``classification_report(mode="strict", scheme=IOB2)`` per pair, on IOB2 tag lists built
  beforehand (building them is not timed); exact match only;
- nervaluate ``Evaluator(..., loader="dict").evaluate()`` per pair on character offsets: its four
  schemes per label;
- ``span_consensus`` and ``token_agreement`` (Krippendorff's alpha over BIO tags) for scale.

Every row checks the values: micro exact F1 per pair equals seqeval's and nervaluate's
``strict`` F1; micro partial F1 per pair beside nervaluate's ``ent_type`` F1 (equal where no span
overlaps two of the other annotator's; the difference is printed). Prints a markdown table.
Run ``.venv/bin/python benchmarks/span_agreement.py`` (about a minute on 2 cores) or ``--quick``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from hitl_widgets.core.quality import span_consensus, span_f1, token_agreement

LABELS = ["LOC", "MISC", "ORG", "PER"]
ANNOTATORS = ["ann1", "ann2", "ann3"]


def best_time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def make_data(n_items: int, seed: int = 0):
    """Texts, token offsets, and per annotator per item a list of token spans (first, last, label)."""
    rng = np.random.default_rng(seed)
    texts, offsets, marks = {}, {}, {who: {} for who in ANNOTATORS}
    for i in range(n_items):
        n = int(rng.integers(12, 31))
        words = ["w" * int(rng.integers(1, 9)) for _ in range(n)]
        starts = np.cumsum([0] + [len(w) + 1 for w in words[:-1]])
        item = f"doc{i:06d}"
        texts[item] = " ".join(words)
        offsets[item] = [(int(s), int(s) + len(w)) for s, w in zip(starts, words, strict=True)]
        gold, free = [], 0
        for _ in range(int(rng.integers(0, 5))):
            first = free + int(rng.integers(0, 4))
            last = first + int(rng.integers(0, 3))
            if last >= n - 1:
                break
            gold.append((first, last, LABELS[int(rng.integers(0, 4))]))
            free = last + 2  # one O token at least between entities: room to move a boundary
        for who in ANNOTATORS:
            mine = []
            for first, last, label in gold:
                r = rng.random()
                if r < 0.10:
                    continue
                if r < 0.20:  # one boundary moves by one token, staying in the entity's room
                    if rng.random() < 0.5 and last > first:
                        last -= 1
                    else:
                        last += 1
                if rng.random() < 0.05:
                    label = LABELS[(LABELS.index(label) + 1) % 4]
                mine.append((first, last, label))
            if rng.random() < 0.05 and free < n:
                mine.append((n - 1, n - 1, LABELS[int(rng.integers(0, 4))]))
            marks[who][item] = mine
    return texts, offsets, marks


def to_frame(offsets, marks) -> pd.DataFrame:
    rows = [(item, who, offsets[item][f][0], offsets[item][la][1], lab)
            for who, per in marks.items() for item, spans in per.items() for f, la, lab in spans]
    return pd.DataFrame(rows, columns=["item_id", "annotator", "start", "end", "label"])


def iob2(spans, n):
    tags = ["O"] * n
    for first, last, label in spans:
        tags[first] = f"B-{label}"
        for k in range(first + 1, last + 1):
            tags[k] = f"I-{label}"
    return tags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1,000 items, 2 repeats")
    args = parser.parse_args()
    n_items, repeat = (1_000, 2) if args.quick else (args.items, args.repeat)
    from nervaluate import Evaluator
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    texts, offsets, marks = make_data(n_items)
    spans = to_frame(offsets, marks)
    items = sorted(texts)
    submitted = [(item, who) for item in items for who in ANNOTATORS]
    pairs = [(a, b) for k, a in enumerate(ANNOTATORS) for b in ANNOTATORS[k + 1:]]
    print(f"{n_items:,} items x {len(ANNOTATORS)} annotators, {len(spans):,} spans, "
          f"{len(pairs)} pairs\n")

    t_ours, ours = best_time(lambda: span_f1(spans, submitted=submitted, n_boot=0), repeat)
    t_boot, _ = best_time(lambda: span_f1(spans, submitted=submitted, n_boot=1000), 1)
    per_pair = ours.pairs.groupby(["annotator_a", "annotator_b", "match"])[["tp", "fp", "fn"]].sum()
    micro = {k: 2 * r.tp / (2 * r.tp + r.fp + r.fn) for k, r in per_pair.iterrows()}

    tags = {who: [iob2(marks[who][item], len(offsets[item])) for item in items]
            for who in ANNOTATORS}

    def run_seqeval():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {(a, b): classification_report(tags[a], tags[b], mode="strict", scheme=IOB2,
                                                  output_dict=True, zero_division=0)
                    for a, b in pairs}

    dicts = {who: [[{"label": lab, "start": offsets[item][f][0],
                     "end": offsets[item][la][1] - 1}  # nervaluate's ends are inclusive
                    for f, la, lab in marks[who][item]] for item in items] for who in ANNOTATORS}

    def run_nervaluate():
        return {(a, b): Evaluator(dicts[a], dicts[b], tags=LABELS, loader="dict").evaluate()
                for a, b in pairs}

    t_seq, seq = best_time(run_seqeval, 1)
    t_ner, ner = best_time(run_nervaluate, 1)
    t_cons, cons = best_time(lambda: span_consensus(spans, submitted=submitted), repeat)
    t_tok, alpha = best_time(lambda: token_agreement(spans, texts, submitted=submitted), repeat)

    d_seq = max(abs(micro[(a, b, "exact")] - seq[(a, b)]["micro avg"]["f1-score"])
                for a, b in pairs)
    d_strict = max(abs(micro[(a, b, "exact")] - ner[(a, b)]["overall"]["strict"].f1)
                   for a, b in pairs)
    d_ent = max(abs(micro[(a, b, "partial")] - ner[(a, b)]["overall"]["ent_type"].f1)
                for a, b in pairs)
    rows = [
        ["pairwise F1, exact (seqeval: strict IOB2)", fmt_s(t_ours), fmt_s(t_seq),
         f"{t_seq / t_ours:.0f}×", f"{d_seq:.1e}"],
        ["pairwise F1, exact + partial (nervaluate: 4 schemes)", fmt_s(t_ours), fmt_s(t_ner),
         f"{t_ner / t_ours:.0f}×", f"strict {d_strict:.1e}, ent_type {d_ent:.1e}"],
        ["the same with 1,000 bootstrap resamples", fmt_s(t_boot), "–", "–", ""],
        ["span_consensus (flagged items, reasons)", fmt_s(t_cons), "–", "–",
         f"{len(cons.flagged):,} flagged"],
        ["token_agreement (α over BIO tags)", fmt_s(t_tok), "–", "–", f"α = {alpha:.3f}"],
    ]
    print("| what | hitl_widgets | reference | speed-up | \\|diff\\| |")
    print("|---|--:|--:|--:|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    s = ours.summary.set_index(["match", "average"])["f1"]
    print(f"\nmicro F1: exact {s[('exact', 'micro')]:.4f}, partial {s[('partial', 'micro')]:.4f}")


if __name__ == "__main__":
    main()
