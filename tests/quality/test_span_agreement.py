"""Span F1 against seqeval (strict IOB2) and nervaluate's four schemes, the Label Studio #8950
case, the bootstrap, and bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nervaluate import Evaluator
from seqeval.metrics import classification_report
from seqeval.metrics import f1_score as seqeval_f1
from seqeval.scheme import IOB2

from hitl_widgets.core.quality import span_f1, span_tags

LABELS = ["LOC", "ORG", "PER"]


def frame(rows, columns=("item_id", "annotator", "start", "end", "label")):
    return pd.DataFrame(list(rows), columns=list(columns))


def row(result, label, match, a="a", b="b"):
    p = result.pairs
    hit = p[(p["annotator_a"] == a) & (p["annotator_b"] == b) & (p["label"] == label)
            & (p["match"] == match)]
    assert len(hit) == 1
    return hit.iloc[0]


# -- seqeval: random non-overlapping spans over a stated tokenisation ----------------------------
# A document is n tokens; token k is "w" * (k % 3 + 1), tokens joined by one space, so the
# tokenisation is whitespace (span_tags' default). A span covers whole tokens.
def doc_text(n_tokens):
    words = ["w" * (k % 3 + 1) for k in range(n_tokens)]
    starts = np.cumsum([0] + [len(w) + 1 for w in words[:-1]])
    return " ".join(words), [(int(s), int(s) + len(w)) for s, w in zip(starts, words, strict=True)]


segments = st.lists(st.tuples(st.integers(1, 4), st.sampled_from([None, *LABELS])),
                    min_size=1, max_size=8)


def spans_of(segs, n_tokens):
    """Token spans (first, last, label) laid out by segments, cut at n_tokens."""
    out, pos = [], 0
    for length, label in segs:
        if pos >= n_tokens:
            break
        last = min(pos + length, n_tokens) - 1
        if label is not None:
            out.append((pos, last, label))
        pos = last + 1
    return out


def iob2(token_spans, n_tokens):
    tags = ["O"] * n_tokens
    for first, last, label in token_spans:
        tags[first] = f"B-{label}"
        for k in range(first + 1, last + 1):
            tags[k] = f"I-{label}"
    return tags


docs = st.lists(st.tuples(st.integers(1, 12), segments, segments), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs)
def test_exact_f1_equals_seqeval_strict_iob2(data):
    rows, texts, submitted, y_a, y_b = [], {}, [], [], []
    for i, (n, seg_a, seg_b) in enumerate(data):
        text, offsets = doc_text(n)
        texts[f"d{i}"] = text
        for who, segs, tags in (("a", seg_a, y_a), ("b", seg_b, y_b)):
            token_spans = spans_of(segs, n)
            tags.append(iob2(token_spans, n))
            submitted.append((f"d{i}", who))
            rows += [(f"d{i}", who, offsets[f][0], offsets[la][1], lab)
                     for f, la, lab in token_spans]
    spans = frame(rows)
    # The tags span_tags makes are the ones written here (the tokenisation is stated).
    tags = span_tags(spans, texts, submitted=submitted)
    for who, expected in (("a", y_a), ("b", y_b)):
        got = tags[tags["annotator"] == who].groupby("item_id", sort=True)["tag"].apply(list)
        assert got.tolist() == expected
    if spans.empty:
        return
    result = span_f1(spans, submitted=submitted, n_boot=0)
    micro = result.summary.set_index(["match", "average"]).loc[("exact", "micro"), "f1"]
    assert micro == pytest.approx(seqeval_f1(y_a, y_b, mode="strict", scheme=IOB2), abs=1e-12)
    report = classification_report(y_a, y_b, mode="strict", scheme=IOB2, output_dict=True,
                                   zero_division=0)
    for label in set(spans["label"]):
        ours = row(result, label, "exact")
        ref = report[label]
        assert ours["f1"] == pytest.approx(ref["f1-score"], abs=1e-12)
        if ours["tp"] + ours["fp"]:
            assert ours["precision"] == pytest.approx(ref["precision"], abs=1e-12)
        if ours["tp"] + ours["fn"]:
            assert ours["recall"] == pytest.approx(ref["recall"], abs=1e-12)
            assert ours["tp"] + ours["fn"] == ref["support"]


# -- nervaluate: the four schemes' counts ---------------------------------------------------------
# Spans laid out in cells of CELL characters, at most one span per annotator in a cell, so no span
# overlaps two of the other side: there nervaluate's greedy matching is the maximum matching.
CELL = 8
cell = st.tuples(*[st.one_of(st.none(), st.tuples(st.integers(0, CELL - 1), st.integers(1, CELL),
                                                   st.sampled_from(LABELS)))] * 2)


def cell_spans(cells):
    rows = []
    for k, pair in enumerate(cells):
        for who, span in zip("ab", pair, strict=True):
            if span is not None:
                s, length, label = span
                e = min(s + length, CELL)
                rows.append(("d", who, k * CELL + s, k * CELL + e, label))
    return frame(rows)


def nervaluate_results(spans):
    # nervaluate's ends are inclusive.
    docs = [[{"label": r.label, "start": r.start, "end": r.end - 1}
             for r in spans[spans["annotator"] == who].itertuples()] for who in "ab"]
    return Evaluator([docs[0]], [docs[1]], tags=sorted(set(spans["label"])),
                     loader="dict").evaluate()


def expected_counts(ex, pa):
    """nervaluate's counts per scheme from our exact row ``ex`` and partial row ``pa``."""
    return {
        "strict": dict(correct=ex.tp, incorrect=ex.partial, partial=0,
                       spurious=ex.fp - ex.partial, missed=ex.fn - ex.partial),
        "exact": dict(correct=ex.tp, incorrect=ex.partial, partial=0,
                      spurious=ex.fp - ex.partial, missed=ex.fn - ex.partial),
        "partial": dict(correct=pa.tp - pa.partial, incorrect=0, partial=pa.partial,
                        spurious=pa.fp, missed=pa.fn),
        "ent_type": dict(correct=pa.tp, incorrect=0, partial=0, spurious=pa.fp, missed=pa.fn),
    }


def counts_of(result):
    return {k: getattr(result, k) for k in ("correct", "incorrect", "partial", "spurious",
                                            "missed")}


@settings(max_examples=150, deadline=None)
@given(st.lists(cell, min_size=1, max_size=10))
def test_counts_equal_nervaluate_four_schemes(cells):
    spans = cell_spans(cells)
    submitted = [("d", "a"), ("d", "b")]
    if spans.empty:
        return
    ref = nervaluate_results(spans)
    result = span_f1(spans, submitted=submitted, n_boot=0)
    for label in set(spans["label"]):  # per label: every scheme
        want = expected_counts(row(result, label, "exact"), row(result, label, "partial"))
        for scheme in ("strict", "exact", "partial", "ent_type"):
            assert counts_of(ref["entities"][label][scheme]) == want[scheme], (label, scheme)
    # Overall, label-blind schemes: the same with one label for every span.
    blind = span_f1(spans.assign(label="ANY"), submitted=submitted, n_boot=0)
    want = expected_counts(row(blind, "ANY", "exact"), row(blind, "ANY", "partial"))
    for scheme in ("exact", "partial"):
        assert counts_of(ref["overall"][scheme]) == want[scheme], scheme
    # Overall strict / ent_type: precision, recall, F1 are our micro exact / partial ones.
    labels = result.labels.groupby("match")[["tp", "fp", "fn"]].sum()
    for scheme, match in (("strict", "exact"), ("ent_type", "partial")):
        tp, fp, fn = labels.loc[match]
        theirs = ref["overall"][scheme]
        assert theirs.correct == tp
        assert theirs.actual == tp + fp and theirs.possible == tp + fn
        micro = result.summary.set_index(["match", "average"]).loc[(match, "micro"), "f1"]
        assert micro == pytest.approx(theirs.f1, abs=1e-12)


def test_semeval_scenarios_match_nervaluate():
    # The six scenarios of nervaluate's README (SemEval 2013 task 9.1), one per cell.
    spans = frame([
        ("d", "a", 0, 5, "PER"), ("d", "b", 0, 5, "PER"),      # I: same
        ("d", "b", 10, 14, "LOC"),                             # II: spurious
        ("d", "a", 20, 25, "ORG"),                             # III: missed
        ("d", "a", 30, 35, "PER"), ("d", "b", 30, 35, "ORG"),  # IV: wrong label
        ("d", "a", 40, 45, "PER"), ("d", "b", 41, 45, "PER"),  # V: wrong boundary
        ("d", "a", 50, 55, "ORG"), ("d", "b", 51, 55, "PER"),  # VI: both wrong
    ])
    ref = nervaluate_results(spans)
    result = span_f1(spans, n_boot=0)
    for label in ("PER", "ORG", "LOC"):
        want = expected_counts(row(result, label, "exact"), row(result, label, "partial"))
        for scheme in ("strict", "exact", "partial", "ent_type"):
            assert counts_of(ref["entities"][label][scheme]) == want[scheme]
    assert ref["overall"]["strict"].correct == 1
    assert row(result, "PER", "partial")[["tp", "partial"]].tolist() == [2, 1]


# -- the Label Studio #8950 case and other layers --------------------------------------------------
def test_ten_annotators_with_identical_overlapping_layers_score_one():
    layers = [(0, 20, "ORG"), (0, 8, "PER"), (4, 12, "PER"), (5, 20, "LOC"), (9, 20, "PER")]
    spans = frame((item, f"ann{k}", s, e, lab) for item in ("i1", "i2", "i3")
                  for k in range(10) for s, e, lab in layers)
    result = span_f1(spans, n_boot=100)
    assert len(result.pairs) == 45 * 3 * 2  # pairs x labels x matches
    assert (result.pairs["f1"] == 1.0).all()
    assert (result.pairs["fp"] == 0).all() and (result.pairs["fn"] == 0).all()
    assert (result.summary["f1"] == 1.0).all()
    assert (result.summary[["low", "high"]] == 1.0).all().all()
    assert (result.labels[["f1", "low", "high"]] == 1.0).all().all()


def test_overlapping_spans_of_other_labels_never_compete():
    # b's ORG span overlaps a's PER span; per layer nothing is paired across labels.
    spans = frame([("d", "a", 0, 10, "PER"), ("d", "b", 0, 10, "PER"),
                   ("d", "b", 2, 6, "ORG"), ("d", "a", 2, 6, "ORG")])
    result = span_f1(spans, n_boot=0)
    assert (result.pairs["f1"] == 1.0).all()


def test_f1_does_not_depend_on_annotator_order():
    spans = frame([("d", "a", 0, 10, "PER"), ("d", "a", 12, 20, "PER"),
                   ("d", "b", 9, 19, "PER"), ("d", "b", 15, 18, "PER"),
                   ("e", "a", 0, 3, "LOC"), ("e", "b", 0, 3, "LOC"), ("e", "b", 5, 7, "LOC")])
    swapped = spans.assign(annotator=spans["annotator"].map({"a": "z", "b": "y"}))
    one, two = span_f1(spans, n_boot=0).pairs, span_f1(swapped, n_boot=0).pairs
    assert one["f1"].tolist() == two["f1"].tolist()
    assert one["tp"].tolist() == two["tp"].tolist()
    assert one["fp"].tolist() == two["fn"].tolist()  # the reference role swaps
    # b's [9, 19) overlaps both of a's spans: the maximum matching pairs all four.
    per = row(span_f1(spans, n_boot=0), "PER", "partial")
    assert (per.tp, per.fp, per.fn) == (2, 0, 0)


def test_partial_matching_is_maximum_on_random_layers():
    rng = np.random.default_rng(3)
    for _ in range(100):
        rows = []
        for who in "ab":
            for _ in range(rng.integers(0, 5)):
                s = int(rng.integers(0, 30))
                rows.append(("d", who, s, s + int(rng.integers(1, 8)), "X"))
        spans = frame(rows)
        if spans.empty:
            continue
        a = [(r.start, r.end) for r in spans[spans.annotator == "a"].drop_duplicates().itertuples()]
        b = [(r.start, r.end) for r in spans[spans.annotator == "b"].drop_duplicates().itertuples()]
        got = span_f1(spans, submitted=[("d", "a"), ("d", "b")], n_boot=0)
        ex = row(got, "X", "exact").tp
        # brute force: exact pairs first (as many as possible), then the most overlap pairs
        short, long = (a, b) if len(a) <= len(b) else (b, a)
        best = (-1, -1)
        for perm in itertools.permutations(range(len(long)), len(short)):
            pairs = [(short[i], long[j]) for i, j in enumerate(perm)]
            n_ex = sum(x == y for x, y in pairs)
            n_ov = sum(x != y and x[0] < y[1] and y[0] < x[1] for x, y in pairs)
            best = max(best, (n_ex, n_ov))
        if a and b:
            assert (ex, row(got, "X", "partial").tp) == (best[0], best[0] + best[1])


# -- submissions with no spans, bootstrap --------------------------------------------------------
def test_annotator_with_no_spans_counts_as_all_missed_when_submitted():
    spans = frame([("d", "a", 0, 4, "PER"), ("d", "a", 5, 9, "LOC"), ("e", "a", 0, 2, "PER"),
                   ("e", "b", 0, 2, "PER")])
    without = span_f1(spans, n_boot=0)
    assert row(without, "LOC", "exact").n_items == 1  # d left out: b never saw it
    assert row(without, "PER", "exact").f1 == 1.0
    with_sub = span_f1(spans, submitted=pd.DataFrame({"item_id": ["d"], "annotator": ["b"]}),
                       n_boot=0)
    per, loc = row(with_sub, "PER", "exact"), row(with_sub, "LOC", "exact")
    assert (per.n_items, per.tp, per.fn, per.fp) == (2, 1, 1, 0)
    assert (loc.tp, loc.fn, loc.f1) == (0, 1, 0.0)


def test_a_label_no_one_used_gets_nan_scores():
    spans = frame([("d", "a", 0, 4, "PER"), ("d", "b", 0, 4, "PER")])
    result = span_f1(spans, labels=["PER", "LOC"], n_boot=0)
    assert result.pairs["label"].tolist() == ["PER", "PER", "LOC", "LOC"]
    assert np.isnan(row(result, "LOC", "exact").f1)
    assert result.summary.set_index(["match", "average"]).loc[("exact", "macro"), "f1"] == 1.0


def random_spans(rng, n_items, annotators=("a", "b", "c")):
    rows = []
    for i in range(n_items):
        truth = [(s + 1, s + 1 + int(rng.integers(1, 5)), LABELS[int(rng.integers(0, 3))])
                 for s in range(0, 40, 10) if rng.random() < 0.7]
        for who in annotators:
            for s, e, lab in truth:
                if rng.random() < 0.8:
                    rows.append((f"i{i:03d}", who, s - int(rng.random() < 0.2), e, lab))
    return frame(rows)


def test_bootstrap_equals_resampling_items_by_hand():
    spans = random_spans(np.random.default_rng(1), 30)
    result = span_f1(spans, n_boot=80, rng=np.random.default_rng(7))
    items = np.array(sorted(spans["item_id"].unique()))
    draws = np.random.default_rng(7).integers(0, len(items), size=(80, len(items)))
    micro, per_label = [], []
    for draw in draws:
        parts = [spans[spans["item_id"] == items[k]].assign(item_id=f"{n}") for n, k in
                 enumerate(draw)]
        got = span_f1(pd.concat(parts), n_boot=0, labels=LABELS)
        micro.append(got.summary.set_index(["match", "average"]).loc[("partial", "micro"), "f1"])
        per_label.append(got.labels.set_index(["label", "match"]).loc[("PER", "exact"), "f1"])
    s = result.summary.set_index(["match", "average"]).loc[("partial", "micro")]
    assert (s["low"], s["high"]) == pytest.approx(tuple(np.percentile(micro, [2.5, 97.5])))
    lab = result.labels.set_index(["label", "match"]).loc[("PER", "exact")]
    assert (lab["low"], lab["high"]) == pytest.approx(tuple(np.percentile(per_label,
                                                                          [2.5, 97.5])))
    assert s["low"] <= s["f1"] <= s["high"]


def test_bootstrap_is_seeded():
    spans = random_spans(np.random.default_rng(2), 20)
    one, two = span_f1(spans, n_boot=50), span_f1(spans, n_boot=50, rng=0)
    pd.testing.assert_frame_equal(one.summary, two.summary)
    three = span_f1(spans, n_boot=50, rng=5)
    assert not one.summary["low"].equals(three.summary["low"])
    none = span_f1(spans, n_boot=0)
    assert none.summary[["low", "high"]].isna().all().all()


# -- bad input -----------------------------------------------------------------------------------
GOOD = dict(item_id=["d", "d"], annotator=["a", "b"], start=[0, 0], end=[4, 4],
            label=["PER", "PER"])


@pytest.mark.parametrize("change, message", [
    ({"label": ["PER", None]}, "'label' is missing in rows \\[1\\]"),
    ({"label": ["PER", np.nan]}, "'label' is missing"),
    ({"annotator": [None, "b"]}, "'annotator' is missing in rows \\[0\\]"),
    ({"start": [0.5, 0]}, "not whole numbers"),
    ({"start": ["0", 0]}, "not whole numbers"),
    ({"start": [np.nan, 0]}, "'start' is missing"),
    ({"start": [-1, 0]}, "'start' is negative in rows \\[0\\]"),
    ({"end": [0, 4]}, "start >= end in rows \\[0\\]"),
    ({"end": [4, -2]}, "negative"),
    ({"start": [True, False]}, "booleans"),
    ({"item_id": [None, "d"]}, "item id is missing"),
])
def test_bad_rows_raise_naming_them(change, message):
    with pytest.raises(ValueError, match=message):
        span_f1(pd.DataFrame({**GOOD, **change}), n_boot=0)


def test_missing_columns_and_wrong_types_raise():
    with pytest.raises(ValueError, match=r"missing \['label'\]"):
        span_f1(pd.DataFrame(GOOD).drop(columns="label"))
    with pytest.raises(TypeError, match="must be a DataFrame"):
        span_f1([("d", "a", 0, 4, "PER")])
    with pytest.raises(ValueError, match=r"not in labels="):
        span_f1(pd.DataFrame(GOOD), labels=["LOC"])
    with pytest.raises(ValueError, match="every entry must be an"):
        span_f1(pd.DataFrame(GOOD), submitted=[("d",)])
    with pytest.raises(ValueError, match="n_boot"):
        span_f1(pd.DataFrame(GOOD), n_boot=-1)


def test_whole_float_offsets_and_int_ids_are_read():
    spans = pd.DataFrame({**GOOD, "start": [0.0, 0.0], "item_id": [7, "7"]})
    assert row(span_f1(spans, n_boot=0), "PER", "exact").f1 == 1.0


def test_no_pairs_gives_empty_tables():
    spans = frame([("d", "a", 0, 4, "PER")])
    result = span_f1(spans, n_boot=10)
    assert result.pairs.empty and result.n_items == 0
    assert result.summary["f1"].isna().all()


def test_submissions_with_no_spans_at_all_give_nan_not_an_error():
    empty = frame([]).astype({"start": "int64", "end": "int64"})
    result = span_f1(empty, submitted=[("d", "a"), ("d", "b")], n_boot=10)
    assert result.pairs.empty and result.n_items == 1
    assert result.summary["f1"].isna().all()
