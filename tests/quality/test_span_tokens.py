"""BIO tags per token and token-level agreement, against krippendorff and scikit-learn."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from hitl_widgets.core.quality import pairwise_kappa, span_tags, token_agreement

TEXTS = {"d1": "Ada Lovelace met Charles Babbage in London .",
         "d2": "The Analytical Engine was never built ."}


def frame(rows):
    return pd.DataFrame(rows, columns=["item_id", "annotator", "start", "end", "label"])


SPANS = frame([
    ("d1", "x", 0, 12, "PER"), ("d1", "x", 17, 32, "PER"), ("d1", "x", 36, 42, "LOC"),
    ("d1", "y", 0, 12, "PER"), ("d1", "y", 25, 32, "PER"), ("d1", "y", 36, 42, "LOC"),
    ("d1", "z", 0, 3, "PER"), ("d1", "z", 36, 42, "ORG"),
    ("d2", "x", 4, 21, "ORG"), ("d2", "y", 4, 21, "ORG"),
])


def tag_matrix(tags):
    return tags.pivot_table(index=["item_id", "token"], columns="annotator", values="tag",
                            aggfunc="first")


def test_tags_are_iob2_over_whitespace_tokens():
    tags = tag_matrix(span_tags(SPANS, TEXTS, submitted=[("d2", "z")]))
    assert tags.loc["d1", "x"].tolist() == ["B-PER", "I-PER", "O", "B-PER", "I-PER", "O",
                                           "B-LOC", "O"]
    assert tags.loc["d1", "z"].tolist() == ["B-PER", "O", "O", "O", "O", "O", "B-ORG", "O"]
    # z submitted d2 with no spans: every token O, not left out.
    assert tags.loc["d2", "z"].tolist() == ["O"] * 7


def test_partly_covered_tokens_are_tagged_whole_and_regex_tokenizers_work():
    spans = frame([("a", "x", 4, 6, "LOC"), ("a", "y", 3, 12, "LOC")])
    text = {"a": "in New York, today"}
    tags = tag_matrix(span_tags(spans, text, tokenizer=r"\w+|[^\w\s]"))
    assert tags.loc["a", "x"].tolist() == ["O", "B-LOC", "O", "O", "O"]
    assert tags.loc["a", "y"].tolist() == ["O", "B-LOC", "I-LOC", "I-LOC", "O"]
    by_chars = span_tags(spans, text, tokenizer=lambda t: [(k, k + 1) for k in range(len(t))])
    assert (by_chars["tag"] != "O").sum() == 2 + 9


def test_emoji_offsets_are_code_points():
    text = {"a": "👨🏻‍🚒 firemen drive firetrucks"}
    spans = frame([("a", "x", 19, 29, "VEH")])
    assert text["a"][19:29] == "firetrucks"
    assert span_tags(spans, text)["tag"].tolist() == ["O", "O", "O", "B-VEH"]


def test_alpha_and_kappa_equal_the_reference_packages():
    tags = tag_matrix(span_tags(SPANS, TEXTS))
    codes = {t: k for k, t in enumerate(sorted(set(tags.stack().dropna())))}
    matrix = tags.apply(lambda col: col.map(codes)).to_numpy(dtype=float).T  # raters x units
    want = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert token_agreement(SPANS, TEXTS) == pytest.approx(want, abs=1e-12)
    two = SPANS[SPANS["annotator"] != "z"]
    want = cohen_kappa_score(tags["x"], tags["y"])
    assert token_agreement(two, TEXTS, metric="cohen_kappa") == pytest.approx(want, abs=1e-12)
    table = token_agreement(SPANS, TEXTS, metric=pairwise_kappa)
    xy = table[(table.annotator_a == "x") & (table.annotator_b == "y")]["kappa"].item()
    assert xy == pytest.approx(want, abs=1e-12)


def test_fleiss_needs_every_item_tagged_by_the_same_annotators():
    with pytest.raises(ValueError, match="same number of ratings"):
        token_agreement(SPANS, TEXTS, metric="fleiss_kappa")
    full = token_agreement(SPANS, TEXTS, metric="fleiss_kappa", submitted=[("d2", "z")])
    assert -1 <= full <= 1
    with pytest.raises(ValueError, match="cohen_kappa compares two annotators"):
        token_agreement(SPANS, TEXTS, metric="cohen_kappa")
    with pytest.raises(ValueError, match="Unknown metric"):
        token_agreement(SPANS, TEXTS, metric="alpha")


def test_identical_taggings_agree_perfectly():
    spans = frame([(item, w, s, e, lab) for w in ("a", "b", "c")
                   for item, s, e, lab in (("d1", 0, 12, "PER"), ("d2", 4, 21, "ORG"))])
    assert token_agreement(spans, TEXTS) == 1.0


@pytest.mark.parametrize("spans, texts, error, message", [
    (frame([("d1", "x", 0, 3, "PER"), ("d1", "x", 2, 12, "PER")]), TEXTS, ValueError,
     "spans sharing a token"),
    (frame([("d1", "x", 3, 4, "PER")]), TEXTS, ValueError, "cover no token"),
    (frame([("d1", "x", 40, 99, "PER")]), TEXTS, ValueError, "past their item's text"),
    (frame([("d3", "x", 0, 2, "PER")]), TEXTS, ValueError, "no text for items \\['d3'\\]"),
    (frame([("d1", "x", 0, 2, "PER")]), ["Ada"], TypeError, "texts must map"),
    (frame([("d1", "x", 0, 2, "PER")]), {"d1": 5}, TypeError, "not str"),
])
def test_bad_input_raises(spans, texts, error, message):
    with pytest.raises(error, match=message):
        span_tags(spans, texts)


def test_a_tokenizer_with_overlapping_tokens_is_refused():
    with pytest.raises(ValueError, match="tokenizer's offsets for item 'd1'"):
        span_tags(frame([("d1", "x", 0, 3, "PER")]), TEXTS, tokenizer=lambda t: [(0, 3), (2, 5)])


def test_a_span_text_that_no_longer_matches_raises():
    spans = frame([("d1", "x", 0, 3, "PER")]).assign(text=["Bob"])
    with pytest.raises(ValueError, match="has text 'Bob', but the item's text there is 'Ada'"):
        span_tags(spans, TEXTS)
    assert span_tags(spans.assign(text=["Ada"]), TEXTS)["tag"].iloc[0] == "B-PER"


def test_texts_may_be_a_series_with_int_ids():
    spans = frame([(7, "x", 0, 3, "PER")])
    tags = span_tags(spans, pd.Series(["Ada wrote"], index=[7]))
    assert tags["item_id"].tolist() == ["7", "7"] and np.array_equal(tags["end"], [3, 9])
