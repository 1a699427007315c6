"""Pre-annotations: suggesters (a callable, real spaCy with an entity_ruler, regexes, keyword
lists) checked against the item text and schema, stored one suggestion per item in batches
(all or nothing per batch), read back with stable suggestion ids, and submitted spans naming
them checked against the item's latest suggestion."""

from __future__ import annotations

import math

import pytest

from hitl_widgets.core.project import Project
from hitl_widgets.core.spans import (
    SuggestError,
    keyword_suggester,
    regex_suggester,
    spacy_suggester,
)
from hitl_widgets.core.store import SchemaError, SpanError

TEXTS = {
    "a": "Ada Lovelace met Charles Babbage in London.",
    "b": "IBM hired Ada in Paris",
    "c": "👨🏻‍🚒 Ada drives to London",
    "d": "nothing here",
}


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path / "s.hitl", span_labels=["PER", "ORG", "LOC"])
    p.add_items(list(TEXTS.values()), id=list(TEXTS))
    yield p
    p.close()


def _people(text):
    """A toy model: every 'Ada' is a person, with a score."""
    at = text.find("Ada")
    return [] if at < 0 else [(at, at + 3, "PER", 0.8)]


def _events(project):
    return project.events().query("kind == 'suggestion'")


def test_callable_suggestions_are_stored_one_per_item_with_ids(project):
    report = project.suggest_spans(_people, model_version="toy-1")
    assert (report.items, report.spans, report.failed) == (4, 3, {})
    got = project.span_suggestions(list(TEXTS))
    assert set(got) == set(TEXTS)
    one = got["c"]
    assert one["model_version"] == "toy-1" and one["source"] == "model"
    (span,) = one["spans"]
    assert TEXTS["c"][span["start"]:span["end"]] == span["text"] == "Ada"
    assert span["suggestion_id"] == f"{one['suggestion_seq']}:0" and span["score"] == 0.8
    assert got["d"]["spans"] == []
    # A newer suggestion replaces the old one for reading; the old stays in the log.
    project.suggest_spans(lambda t: [], ["c"], model_version="toy-2")
    assert project.span_suggestions(["c"])["c"]["model_version"] == "toy-2"
    assert len(_events(project)) == 5


def test_span_suggestions_do_not_become_the_labelers_suggestion(tmp_path):
    p = Project(tmp_path / "both.hitl", labels=["pos", "neg"], span_labels=["PER"])
    p.add_items(["Ada is great"], id=["x"])
    p.suggest(["x"], ["pos"], [0.7], version="clf")
    p.suggest_spans(_people, model_version="ner")
    assert p.store.latest_suggestions(["x"])["x"]["labels"] == ["pos"]
    assert p.span_suggestions(["x"])["x"]["model_version"] == "ner"
    p.close()


def test_spacy_entity_ruler_suggests_mapped_labels(project):
    spacy = pytest.importorskip("spacy")
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "PERSON", "pattern": "Ada Lovelace"},
                        {"label": "PERSON", "pattern": "Ada"},
                        {"label": "GPE", "pattern": "London"},
                        {"label": "ORG", "pattern": "IBM"},
                        {"label": "DATE", "pattern": "today"}])
    suggest = spacy_suggester(nlp, label_map={"PERSON": "PER", "GPE": "LOC", "ORG": "ORG"})
    project.suggest_spans(suggest, model_version="ruler", batch_size=2)
    got = project.span_suggestions(list(TEXTS))
    texts = {i: [(s["text"], s["label"]) for s in got[i]["spans"]] for i in TEXTS}
    assert texts == {"a": [("Ada Lovelace", "PER"), ("London", "LOC")],
                     "b": [("IBM", "ORG"), ("Ada", "PER")],
                     "c": [("Ada", "PER"), ("London", "LOC")], "d": []}
    # spaCy's character offsets are code points, as the store's are (emoji before the span).
    c = got["c"]["spans"][0]
    assert (c["start"], c["end"]) == (TEXTS["c"].index("Ada"), TEXTS["c"].index("Ada") + 3)


def test_spacy_spans_key_and_unmapped_labels(project):
    spacy = pytest.importorskip("spacy")
    from spacy.tokens import Span

    nlp = spacy.blank("en")

    @spacy.Language.component("two_layers")
    def two_layers(doc):
        doc.spans["sc"] = [Span(doc, 0, 1, label="PER"), Span(doc, 0, 2, label="PER")]
        doc.spans["sc"].attrs["scores"] = [0.9, 0.3]
        return doc

    nlp.add_pipe("two_layers")
    assert spacy_suggester(nlp, spans_key="sc")("Ada Lovelace") == [(0, 3, "PER", 0.9),
                                                                    (0, 12, "PER", 0.3)]
    with pytest.raises(KeyError, match="no doc.spans\\['nope'\\]"):
        spacy_suggester(nlp, spans_key="nope")("Ada Lovelace")
    with pytest.raises(TypeError, match="spaCy pipeline"):
        spacy_suggester(lambda t: t)


def test_regex_and_keyword_suggesters_respect_word_boundaries_and_case():
    words = keyword_suggester({"ORG": ["IBM"], "LOC": ["new york", "York"]})
    assert words("IBMX and ibm in New York") == [(9, 12, "ORG", None), (16, 24, "LOC", None)]
    exact = keyword_suggester({"ORG": ["IBM"]}, case_sensitive=True)
    assert exact("ibm IBM") == [(4, 7, "ORG", None)]
    assert keyword_suggester({"LOC": ["new york", "York"]}, overlapping=True)("New York") == [
        (0, 8, "LOC", None), (4, 8, "LOC", None)]
    rx = regex_suggester({"ORG": [r"[A-Z]{3}"], "PER": r"Ada"}, overlapping=False)
    assert rx("Ada ABC") == [(0, 3, "PER", None), (4, 7, "ORG", None)]
    with pytest.raises(ValueError, match="not a regular expression"):
        regex_suggester({"ORG": "("})
    with pytest.raises(TypeError, match="wrap it"):
        keyword_suggester({"ORG": "IBM"})


@pytest.mark.parametrize("bad, reason", [
    (lambda t: [(0, 999, "PER")], "offsets must lie in"),
    (lambda t: [(0, 3, "DATE")], "DATE"),
    (lambda t: [(0, 3, "PER"), (1, 4, "ORG")], "overlap"),
    (lambda t: [(0, 3, "PER", math.nan)], "finite"),
    (lambda t: [(0, 3, "PER", "high")], "score must be a number"),
    (lambda t: [(3, 3, "PER")], "empty span"),
    (lambda t: "PER", "must return a list"),
    (lambda t: [{"start": 0, "end": 3, "label": "PER", "colour": "red"}], "unknown fields"),
])
def test_bad_model_output_is_reported_by_item_and_nothing_of_the_batch_is_written(
        project, bad, reason):
    def suggester(text):
        return bad(text) if text == TEXTS["c"] else _people(text)

    with pytest.raises(SuggestError, match=reason) as info:
        project.suggest_spans(suggester, model_version="bad", batch_size=2)
    assert set(info.value.failed) == {"c"} and "'c'" in str(info.value)
    # Batch 1 (a, b) was written; batch 2 (c, d) was not, not even d.
    assert set(project.span_suggestions(list(TEXTS))) == {"a", "b"}


def test_a_raising_suggester_is_skipped_by_item_with_errors_skip(project):
    def flaky(text):
        if "London" in text:
            raise RuntimeError("model server down")
        return _people(text)

    report = project.suggest_spans(flaky, model_version="v", errors="skip", batch_size=3)
    assert set(report.failed) == {"a", "c"}
    assert "RuntimeError: model server down" in report.failed["a"]
    assert set(project.span_suggestions(list(TEXTS))) == {"b", "d"}
    assert report.items == 2


def test_a_failing_batch_call_falls_back_to_one_text_at_a_time(project):
    class Batcher:
        def __call__(self, text):
            if text == TEXTS["b"]:
                raise ValueError("cannot read this one")
            return _people(text)

        def batch(self, texts):
            raise RuntimeError("the batch endpoint failed")

    report = project.suggest_spans(Batcher(), model_version="v", errors="skip")
    assert list(report.failed) == ["b"] and report.items == 3


def test_bad_arguments_write_nothing(project, tmp_path):
    for kwargs, error, match in [
        (dict(model_version=""), ValueError, "model_version"),
        (dict(model_version="v", errors="ignore"), ValueError, "errors"),
        (dict(model_version="v", batch_size=0), ValueError, "batch_size"),
        (dict(model_version="v", item_ids=["zz"]), KeyError, "Unknown item"),
        (dict(model_version="v", source="oracle"), ValueError, "Unknown source"),
    ]:
        with pytest.raises(error, match=match):
            project.suggest_spans(_people, **kwargs)
    with pytest.raises(TypeError, match="callable"):
        project.suggest_spans("PER", model_version="v")
    assert len(_events(project)) == 0
    plain = Project(tmp_path / "plain.hitl", labels=["a", "b"])
    plain.add_items(["x"], id=["x"])
    with pytest.raises(SchemaError, match="span_labels"):
        plain.suggest_spans(_people, model_version="v")
    plain.close()


def test_progress_counts_items(project):
    seen = []
    project.suggest_spans(_people, model_version="v", batch_size=3,
                          progress=lambda done, total: seen.append((done, total)))
    assert seen == [(3, 4), (4, 4)]


def test_submitted_suggestion_ids_must_name_the_latest_suggestion(project):
    project.suggest_spans(_people, ["b"], model_version="v1")
    old = project.span_suggestions(["b"])["b"]["spans"][0]
    project.suggest_spans(lambda t: [(0, 3, "ORG", 0.6), (10, 13, "PER", 0.9)], ["b"],
                          model_version="v2")
    new = project.span_suggestions(["b"])["b"]["spans"]
    before = len(project.events())
    for spans, match in [
        ([{**old}], "not a span of the item's latest suggestion"),
        ([{"start": 0, "end": 3, "label": "ORG", "suggestion_id": "nope"}], "not a suggested"),
        ([{**new[0]}, {**new[0], "start": 4, "end": 9, "label": "ORG"}], "both name"),
        ([{**new[0], "suggestion_id": new[0]["suggestion_id"].split(":")[0] + ":9"}],
         "latest suggestion"),
    ]:
        spans = [{k: v for k, v in s.items() if k in ("start", "end", "label", "suggestion_id")}
                 for s in spans]
        with pytest.raises(SpanError, match=match):
            project.submit_spans("b", spans, annotator="ana")
    with pytest.raises(SpanError, match="has no span suggestion"):
        project.submit_spans("d", [{"start": 0, "end": 7, "label": "ORG",
                                    "suggestion_id": new[0]["suggestion_id"]}], annotator="ana")
    assert len(project.events()) == before  # nothing half-written
    done = project.submit_spans("b", [{**new[0]}], annotator="ana")
    assert len(done.span_ids) == 1
