"""The Snorkel spam tutorial reproduced with hitl_widgets' engine, on the YouTube Spam Collection.

Data: ``../shared/datasets/youtube_spam`` (Alberto, Lochter & Almeida 2015; not part of this
repository; the script exits with a message when it is absent, or set ``HITL_DATASETS``).
Split as in the tutorial: each file shuffled with ``random_state=123``; train = files 01-04
(labels hidden from the LFs and models), test = 250 rows of file 05 (stratified, seed 123).

LFs as in the tutorial: keywords "my", "subscribe", "http", "please"/"plz" (spam), "song" (ham),
regex "check.*out" (spam), short comment (< 5 words, ham); TextBlob polarity > 0.9 and
subjectivity >= 0.5 (ham) when ``textblob`` is installed; the spaCy person detector is skipped
(its model is not installable offline). Ours are vectorised; the tutorial's row-wise versions run
through Snorkel once, to check L is identical.

Reported beside the tutorial's published figures (majority vote 84.0 %, label model 86.0 %,
logistic regression on n-grams trained on the label model's labels 94.4 %): our majority vote,
Snorkel's LabelModel fitted through ``fit_label_model``, the same end classifier, and a
SIMULATION of 100 human labels chosen by the engine (the label model's least confident train
items; the oracle is the train set's true labels) against 100 random ones.

Usage: ``.venv/bin/python benchmarks/youtube_spam_snorkel.py``
"""

from __future__ import annotations

import os
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from hitl_widgets.core.active import margin, rank
from hitl_widgets.core.weak import (
    apply_lfs,
    compare_label_models,
    fit_label_model,
    keyword_lf,
    lf_summary,
    majority_vote,
    regex_lf,
    threshold_lf,
    torch_threads,
    vectorized_lf,
)

HAM, SPAM, ABSTAIN = 0, 1, -1
TUTORIAL = {"majority vote": 0.840, "label model": 0.860, "end classifier": 0.944}


def dataset_dir() -> Path | None:
    root = os.environ.get("HITL_DATASETS")
    candidates = [Path(root)] if root else []
    here = Path(__file__).resolve().parents[1]
    candidates += [here.parent / "shared" / "datasets", Path("/work/shared/datasets")]
    for c in candidates:
        if (c / "youtube_spam").is_dir():
            return c / "youtube_spam"
    return None


def load(folder: Path):
    """The tutorial's split: (train without labels used, true train labels, test, test labels)."""
    from sklearn.model_selection import train_test_split

    frames = []
    for k, path in enumerate(sorted(folder.glob("Youtube0*.csv")), start=1):
        df = pd.read_csv(path)
        df.columns = [c.lower() for c in df.columns]
        df = df.drop(columns="comment_id").rename(columns={"class": "label", "content": "text"})
        df["video"] = k
        frames.append(df.sample(frac=1, random_state=123).reset_index(drop=True))
    train = pd.concat(frames[:4]).reset_index(drop=True)
    _, test = train_test_split(frames[4], test_size=250, random_state=123,
                               stratify=frames[4].label)
    y_train = train.pop("label").to_numpy()
    y_test = test.pop("label").to_numpy()
    return train, y_train, test.reset_index(drop=True), y_test


def textblob_scores(text: pd.Series) -> pd.DataFrame:
    from textblob import TextBlob

    scores = [TextBlob(t).sentiment for t in text]
    return pd.DataFrame({"polarity": [s.polarity for s in scores],
                         "subjectivity": [s.subjectivity for s in scores]}, index=text.index)


def have_textblob() -> bool:
    try:
        import textblob  # noqa: F401
    except ImportError:
        return False
    return True


def our_lfs(with_textblob: bool) -> list:
    @vectorized_lf()
    def short_comment(df):
        return np.where(df["text"].str.split().str.len() < 5, HAM, ABSTAIN)

    lfs = [
        keyword_lf("keyword_my", ["my"], SPAM),
        keyword_lf("keyword_subscribe", ["subscribe"], SPAM),
        keyword_lf("keyword_http", ["http"], SPAM),
        keyword_lf("keyword_please", ["please", "plz"], SPAM),
        keyword_lf("keyword_song", ["song"], HAM),
        regex_lf("regex_check_out", r"check.*out", SPAM, flags=re.I),
        short_comment,
    ]
    if with_textblob:
        lfs += [threshold_lf("textblob_polarity", "polarity", ">", 0.9, HAM),
                threshold_lf("textblob_subjectivity", "subjectivity", ">=", 0.5, HAM)]
    return lfs


def tutorial_lfs(with_textblob: bool) -> list:
    """The tutorial's row-wise LFs (TextBlob read from the precomputed columns)."""
    from snorkel.labeling import LabelingFunction

    def keyword(name, words, label):
        return LabelingFunction(
            name, lambda x: label if any(w in x.text.lower() for w in words) else ABSTAIN)

    lfs = [
        keyword("keyword_my", ["my"], SPAM),
        keyword("keyword_subscribe", ["subscribe"], SPAM),
        keyword("keyword_http", ["http"], SPAM),
        keyword("keyword_please", ["please", "plz"], SPAM),
        keyword("keyword_song", ["song"], HAM),
        LabelingFunction("regex_check_out", lambda x: SPAM if re.search(
            r"check.*out", x.text, flags=re.I) else ABSTAIN),
        LabelingFunction("short_comment",
                         lambda x: HAM if len(x.text.split()) < 5 else ABSTAIN),
    ]
    if with_textblob:
        lfs += [LabelingFunction("textblob_polarity",
                                 lambda x: HAM if x.polarity > 0.9 else ABSTAIN),
                LabelingFunction("textblob_subjectivity",
                                 lambda x: HAM if x.subjectivity >= 0.5 else ABSTAIN)]
    return lfs


def end_classifier(texts_train, y_train, texts_test, y_test, texts_pool=None, weights=None):
    """The tutorial's end model: n-gram counts (1-5) and liblinear logistic regression.
    Returns its test accuracy, and with ``texts_pool`` also its probabilities there."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = CountVectorizer(ngram_range=(1, 5))
    X_train = vectorizer.fit_transform(texts_train)
    model = LogisticRegression(C=1e3, solver="liblinear")
    model.fit(X_train, y_train, sample_weight=weights)
    acc = float((model.predict(vectorizer.transform(texts_test)) == y_test).mean())
    if texts_pool is None:
        return acc
    return acc, model.predict_proba(vectorizer.transform(texts_pool))


def weak_training_set(train, probs, covered, human: dict[int, int] | None = None):
    """Covered rows with the label model's hard labels, human labels replacing or adding rows."""
    labels = pd.Series(np.where(covered, probs.argmax(axis=1), -1), index=train.index)
    for row, label in (human or {}).items():
        labels[row] = label
    keep = labels != -1
    return train.loc[keep, "text"], labels[keep].to_numpy()


def main() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)  # scipy, inside Snorkel
    folder = dataset_dir()
    if folder is None:
        sys.exit("youtube_spam data set not found: set HITL_DATASETS to the folder holding "
                 "youtube_spam/ (see the shared datasets README)")
    train, y_train, test, y_test = load(folder)
    with_textblob = have_textblob()
    if with_textblob:
        train = train.join(textblob_scores(train["text"]))
        test = test.join(textblob_scores(test["text"]))
    print(f"train {len(train)} (labels hidden), test {len(test)}; TextBlob LFs: "
          f"{'yes' if with_textblob else 'no (textblob not installed)'}; spaCy LF: skipped")

    lfs = our_lfs(with_textblob)
    start = time.perf_counter()
    L_train = apply_lfs(train, lfs)
    t_apply = time.perf_counter() - start
    L_test = apply_lfs(test, lfs)
    from snorkel.labeling import PandasLFApplier

    start = time.perf_counter()
    L_snorkel = PandasLFApplier(tutorial_lfs(with_textblob)).apply(train, progress_bar=False)
    t_snorkel = time.perf_counter() - start
    print(f"L identical to Snorkel's PandasLFApplier with the tutorial's LFs: "
          f"{np.array_equal(L_train, L_snorkel)} (ours {t_apply * 1e3:.0f} ms, "
          f"Snorkel {t_snorkel * 1e3:.0f} ms)")
    print("\nLF summary on the train set against its true labels (for inspection only):")
    print(lf_summary(L_train, lfs, y_train).round(3).to_string())

    rows = []
    mv_test = majority_vote(L_test, 2, "random")
    rows.append(("majority vote (test)", (mv_test == y_test).mean(), TUTORIAL["majority vote"]))
    model = fit_label_model(L_train, 2, seed=123, n_epochs=500, log_freq=100)
    with torch_threads(1):
        lm_test = model.predict(L_test, tie_break_policy="random")
        probs_train = model.predict_proba(L_train)
    rows.append(("label model (test)", (lm_test == y_test).mean(), TUTORIAL["label model"]))

    covered = (L_train != ABSTAIN).any(axis=1)
    texts, labels = weak_training_set(train, probs_train, covered)
    acc_weak, end_probs = end_classifier(texts, labels, test["text"], y_test, train["text"])
    rows.append((f"end classifier on label-model labels ({covered.sum()} covered rows)",
                 acc_weak, TUTORIAL["end classifier"]))

    # Probabilistic labels as sample weights: each covered row once per class, weighted by p.
    both = train.loc[covered, "text"]
    acc_soft = end_classifier(pd.concat([both, both]), np.repeat([HAM, SPAM], len(both)),
                              test["text"], y_test,
                              weights=np.concatenate([probs_train[covered, 0],
                                                      probs_train[covered, 1]]))
    rows.append(("end classifier, label-model probabilities as sample weights", acc_soft,
                 TUTORIAL["end classifier"]))

    # SIMULATION: 100 human labels, oracle = the true train labels; the engine picks by margin.
    unsure = margin(probs_train)
    picks = {
        "engine-chosen: least confident covered items": rank(
            unsure, 100, np.random.default_rng(0), exclude=~covered),
        "engine-chosen: least confident items (no-vote items first)": rank(
            unsure, 100, np.random.default_rng(0)),
        "engine-chosen: the end classifier's least confident items": rank(
            margin(end_probs), 100, np.random.default_rng(0)),
    }
    for seed in range(5):
        picks[f"random {seed}"] = np.random.default_rng(seed).choice(len(train), 100,
                                                                     replace=False)
    random_accs = []
    for name, pick in picks.items():
        texts, labels = weak_training_set(train, probs_train, covered,
                                          {int(i): int(y_train[i]) for i in pick})
        acc = end_classifier(texts, labels, test["text"], y_test)
        if name.startswith("random"):
            random_accs.append(acc)
        else:
            right = (probs_train.argmax(axis=1)[pick] == y_train[pick]).mean()
            rows.append((f"+100 human labels, {name} (label model was right on "
                         f"{100 * right:.0f} % of them), simulated", acc, None))
    rows.append((f"+100 human labels, random (mean of 5 draws, {100 * min(random_accs):.1f} "
                 f"to {100 * max(random_accs):.1f} %), simulated", float(np.mean(random_accs)),
                 None))
    Y_human = np.full(len(train), -1)  # an unbiased sample, to judge the models on
    Y_human[picks["random 0"]] = y_train[picks["random 0"]]
    table = pd.DataFrame(rows, columns=["result", "ours", "Snorkel tutorial"])
    pd.set_option("display.width", 160)
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{100 * v:.1f} %"))
    print("\nWhich to trust, judged on 100 random human labels of train (compare_label_models):")
    print(compare_label_models(L_train, Y_human, 2, label_model=model).round(3).to_string())


if __name__ == "__main__":
    main()
